-- `roompulse retention` deletes old events (README, "Retention"). The dashboard has counted
-- them already, into its own tables: if one of them were loaded again (a CSV loaded twice, a
-- redelivered batch, a client retrying a POST) and stored as new, the change feed would hand
-- it to the dashboard a second time and it would be counted twice. So the ids of deleted
-- events are kept here, in the same transaction as the delete, and every insert into the
-- events table treats them as stored. Only the id: 8 bytes (plus the index) of the ~240 an
-- event costs with its indexes, and nothing anyone reads but the writers' checks.
CREATE TABLE retired_event_ids (
    id BIGINT PRIMARY KEY
);

-- The highest feed position (events.tx_id) retention has deleted. `roompulse_feed_offset`
-- puts the positions of a new server (a dump restored elsewhere) after every stored row;
-- with the newest-stored rows retired, it would have to count them too, or new events could
-- get positions behind the dashboard's cursor, which would never see them.
CREATE TABLE retired_feed_floor (
    id     SMALLINT PRIMARY KEY CHECK (id = 1),
    tx_id  BIGINT   NOT NULL
);

-- A statement-level check after every insert, whoever runs it: the queue workers' COPY (which
-- cannot consult another table row by row), their INSERT … ON CONFLICT fallback, the API,
-- psql. It raises `unique_violation`, as the primary key does for an id still stored, so each
-- writer takes the path it already has for a stored id. The writers' own statements skip
-- retired ids (`NOT EXISTS`), so this fires only for a COPY (the worker then falls back) or a
-- statement that raced with a retention run. Its cost per 1,000,000 rows inserted in statements
-- of 5,000 (BENCHMARKS.md, "Retention"): 5–9 ms before retention has run, ~75 ms with a million
-- retired ids below the new ones (live traffic), ~3 s with new ids among them (an import of
-- history, against ~12–15 s for the inserts themselves).
CREATE FUNCTION roompulse_refuse_retired_ids() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    lowest BIGINT;
    highest BIGINT;
    retired BIGINT;
BEGIN
    -- Two steps down the primary key. Only new ids within that range are looked up one by
    -- one: live traffic's ids are above every retired one (old events are retired), and costs
    -- no look-up at all; a history import's ids cost one each.
    SELECT min(id), max(id) INTO lowest, highest FROM retired_event_ids;
    IF lowest IS NULL THEN
        RETURN NULL;
    END IF;
    -- One probe of the primary key per new id in that range (a nested loop: ~3 µs each here).
    SELECT n.id INTO retired
      FROM new_events n
     WHERE n.id BETWEEN lowest AND highest
       AND EXISTS (SELECT 1 FROM retired_event_ids r WHERE r.id = n.id)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'event id % was deleted by roompulse retention and is not stored again', retired
            USING ERRCODE = 'unique_violation', CONSTRAINT = 'retired_event_ids_pkey';
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER events_refuse_retired_ids
    AFTER INSERT ON events
    REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION roompulse_refuse_retired_ids();

-- As in `feed_position_survives_a_move`, with the retired positions counted among the stored.
CREATE OR REPLACE FUNCTION roompulse_feed_offset() RETURNS BIGINT
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    sys BIGINT := (SELECT system_identifier FROM pg_control_system());
    db  OID    := (SELECT oid FROM pg_database WHERE datname = current_database());
    found_offset BIGINT;
    highest BIGINT;
    oldest_running BIGINT;
BEGIN
    SELECT tx_offset INTO found_offset FROM feed_epochs
     WHERE system_identifier = sys AND database_oid = db;
    IF FOUND THEN
        RETURN found_offset;
    END IF;
    -- Conflicts with writers and with another epoch being created, not with readers.
    LOCK TABLE events IN SHARE ROW EXCLUSIVE MODE;
    SELECT tx_offset INTO found_offset FROM feed_epochs
     WHERE system_identifier = sys AND database_oid = db;
    IF FOUND THEN
        RETURN found_offset;
    END IF;
    highest := greatest(
        coalesce((SELECT max(tx_id) FROM events), 0),
        coalesce((SELECT tx_id FROM retired_feed_floor WHERE id = 1), 0)
    );
    -- Every transaction that can still write has an id at or above the oldest one running.
    oldest_running := pg_snapshot_xmin(pg_current_snapshot())::text::bigint;
    found_offset := greatest(0, highest + 1 - oldest_running);
    INSERT INTO feed_epochs (system_identifier, database_oid, tx_offset, floor_position)
    VALUES (sys, db, found_offset, highest);
    RETURN found_offset;
END
$$;
