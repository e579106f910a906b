-- Readers of the change feed that wait for new events (`GET /events?order=stored&wait=…`)
-- LISTEN on `roompulse_events`: every statement that inserts into the events table, whoever
-- runs it (the API, the queue workers of any process, psql), wakes them when it commits.
-- Statement-level, so a batch of 5,000 rows sends one notification; PostgreSQL also folds the
-- identical notifications of one transaction into one, and sends none if it rolls back.
--
-- A transaction that notifies holds a database-wide lock from just before its commit until the
-- commit is flushed, so notifying transactions commit one after the other, each waiting for its
-- own WAL flush: at 2,000 one-event `POST /events` a second that halved the throughput and sent
-- latencies to seconds. So only one transaction at a time notifies (the others find the
-- advisory lock taken and commit as before): while it is in flight others are too, and the
-- readers it wakes see theirs on their next look, woken by the next notifier or by their own
-- periodic look.
CREATE FUNCTION roompulse_notify_feed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF pg_try_advisory_xact_lock(hashtext('roompulse_events_notify')) THEN
        PERFORM pg_notify('roompulse_events', '');
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER events_notify_feed
    AFTER INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION roompulse_notify_feed();
