DROP TABLE sync_state;
DROP TABLE dashboard_daily;
