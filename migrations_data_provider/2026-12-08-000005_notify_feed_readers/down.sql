DROP TRIGGER events_notify_feed ON events;
DROP FUNCTION roompulse_notify_feed();
