DROP TABLE api_keys;
DROP FUNCTION roompulse_notify_api_keys();
