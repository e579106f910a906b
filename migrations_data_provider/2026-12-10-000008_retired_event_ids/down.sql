DROP TRIGGER events_refuse_retired_ids ON events;
DROP FUNCTION roompulse_refuse_retired_ids();
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
    LOCK TABLE events IN SHARE ROW EXCLUSIVE MODE;
    SELECT tx_offset INTO found_offset FROM feed_epochs
     WHERE system_identifier = sys AND database_oid = db;
    IF FOUND THEN
        RETURN found_offset;
    END IF;
    highest := coalesce((SELECT max(tx_id) FROM events), 0);
    oldest_running := pg_snapshot_xmin(pg_current_snapshot())::text::bigint;
    found_offset := greatest(0, highest + 1 - oldest_running);
    INSERT INTO feed_epochs (system_identifier, database_oid, tx_offset, floor_position)
    VALUES (sys, db, found_offset, highest);
    RETURN found_offset;
END
$$;
DROP TABLE retired_feed_floor;
DROP TABLE retired_event_ids;
