-- The change feed orders events by `tx_id`, the transaction that stored them. A transaction id
-- belongs to one PostgreSQL server: after a dump and restore into a server whose counter is
-- lower, new events got ids below those of restored rows, behind every reader's cursor, and the
-- feed stalled for good. So `tx_id` is now a feed position: the transaction id plus an offset
-- fixed per (server, database). The first writer or feed reader in a database it has not seen
-- before (a restore, a copy from a template) picks the offset that puts every new position
-- after every stored one.
CREATE TABLE feed_epochs (
    -- pg_control_system().system_identifier: unique per cluster, kept by streaming replicas.
    system_identifier BIGINT      NOT NULL,
    database_oid      OID         NOT NULL,
    tx_offset         BIGINT      NOT NULL,
    -- The highest position stored when the epoch began: for people reading this table.
    floor_position    BIGINT      NOT NULL,
    started_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (system_identifier, database_oid)
);

-- The offset of this (server, database), created on first use. Writers call it before
-- writing; the lock waits for transactions already writing to the events table, so the
-- offset is computed over every row that can still appear.
CREATE FUNCTION roompulse_feed_offset() RETURNS BIGINT
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
    highest := coalesce((SELECT max(tx_id) FROM events), 0);
    -- Every transaction that can still write has an id at or above the oldest one running.
    oldest_running := pg_snapshot_xmin(pg_current_snapshot())::text::bigint;
    found_offset := greatest(0, highest + 1 - oldest_running);
    INSERT INTO feed_epochs (system_identifier, database_oid, tx_offset, floor_position)
    VALUES (sys, db, found_offset, highest);
    RETURN found_offset;
END
$$;

-- This transaction's position in the feed.
CREATE FUNCTION roompulse_feed_position() RETURNS BIGINT
LANGUAGE sql VOLATILE AS $$
    SELECT pg_current_xact_id()::text::bigint + roompulse_feed_offset()
$$;

-- The service's writers pass the position once per transaction; the default keeps any other
-- writer (psql, a script) in order too.
ALTER TABLE events ALTER COLUMN tx_id SET DEFAULT roompulse_feed_position();

SELECT roompulse_feed_offset();
