-- Readers of the change feed that wait for new events (`GET /events?order=stored&wait=…`)
-- LISTEN on `roompulse_events`: every statement that inserts into the events table, whoever
-- runs it (the API, the queue workers of any process, psql), wakes them when it commits.
-- Statement-level, so a batch of 5,000 rows sends one notification; PostgreSQL also folds the
-- identical notifications of one transaction into one, and sends none if it rolls back.
CREATE FUNCTION roompulse_notify_feed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('roompulse_events', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER events_notify_feed
    AFTER INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION roompulse_notify_feed();
