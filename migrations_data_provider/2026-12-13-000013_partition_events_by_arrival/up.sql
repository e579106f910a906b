-- The events table partitioned by arrival (docs/decisions/006-partition-by-arrival.md): each new
-- row gets the next number of `events_arrival_seq` as it is stored, and each partition holds a
-- fixed range of those numbers, so that the indexes new rows are written to are always the
-- newest partition's, small however much is stored. Shuffled history inserts all over its
-- (event_timestamp, id), (hotel_id, …), night and reservation indexes: with one table those
-- grow with everything stored and fall out of memory; partitioned, only one partition's do.
--
-- The upgrade touches no row and builds no index: the existing table, with its indexes, becomes
-- the first partition (`events_legacy`, arrivals below 1: every row it holds has arrival 0), and
-- each of its indexes is attached to the matching index of the partitioned table. The lock on
-- `events` is held only for these catalog changes. The check validated by the previous migration
-- spares ATTACH its scan of the rows.
--
-- The key is not the feed position (`tx_id`): a transaction id counts transactions, not events,
-- so ranges of it would hold anything from a handful to billions of events. An arrival number
-- counts rows exactly.

ALTER TABLE events RENAME TO events_legacy;
ALTER INDEX events_pkey RENAME TO events_legacy_pkey;
ALTER INDEX events_timestamp_id RENAME TO events_legacy_timestamp_id;
ALTER INDEX events_hotel_timestamp_id RENAME TO events_legacy_hotel_timestamp_id;
ALTER INDEX events_tx_id_id RENAME TO events_legacy_tx_id_id;
ALTER INDEX events_room_reservation_id RENAME TO events_legacy_room_reservation_id;
ALTER INDEX events_night_timestamp_id RENAME TO events_legacy_night_timestamp_id;
ALTER INDEX events_cancellations_timestamp_id RENAME TO events_legacy_cancellations_timestamp_id;
-- Both move to the partitioned table (below); the legacy partition takes no new rows.
DROP TRIGGER events_refuse_retired_ids ON events_legacy;
DROP TRIGGER events_notify_feed ON events_legacy;
DROP FUNCTION roompulse_refuse_retired_ids();
ALTER TABLE events_legacy ALTER COLUMN arrival DROP DEFAULT;

-- Numbers rows in the order they are stored; never reused, gaps allowed.
CREATE SEQUENCE events_arrival_seq MINVALUE 1 START WITH 1;

CREATE TABLE events (
    -- The event's identity, from the hotel's system or assigned by the service. Kept once across
    -- partitions by `event_ids` (below).
    id                  BIGINT      NOT NULL CONSTRAINT events_id_check CHECK (id > 0),
    hotel_id            INTEGER     NOT NULL CONSTRAINT events_hotel_id_check CHECK (hotel_id > 0),
    event_timestamp     TIMESTAMPTZ NOT NULL,
    status              SMALLINT    NOT NULL CONSTRAINT events_status_check CHECK (status IN (1, 2)),
    room_reservation_id UUID        NOT NULL,
    night_of_stay       DATE        NOT NULL,
    -- The change feed's position (migration `feed_position_survives_a_move`).
    tx_id               BIGINT      NOT NULL DEFAULT roompulse_feed_position(),
    -- The partition key: the row's number in storing order (0 for the rows stored before the
    -- table was partitioned).
    arrival             BIGINT      NOT NULL DEFAULT nextval('events_arrival_seq')
) PARTITION BY RANGE (arrival);
ALTER SEQUENCE events_arrival_seq OWNED BY events.arrival;

ALTER TABLE events ATTACH PARTITION events_legacy FOR VALUES FROM (MINVALUE) TO (1);

-- The partitioned indexes. Each finds its equivalent on `events_legacy` and attaches it instead
-- of building one; partitions created later get theirs built as they are attached (empty).
CREATE INDEX events_timestamp_id ON events (event_timestamp, id);
CREATE INDEX events_hotel_timestamp_id ON events (hotel_id, event_timestamp, id);
CREATE INDEX events_tx_id_id ON events (tx_id, id);
CREATE INDEX events_room_reservation_id ON events (room_reservation_id);
CREATE INDEX events_night_timestamp_id ON events (night_of_stay, event_timestamp, id)
    INCLUDE (hotel_id, status);
CREATE INDEX events_cancellations_timestamp_id ON events (event_timestamp, id) WHERE status = 2;

-- Every id stored in a partition created by the service, and kept when retention deletes its
-- event: the primary key is what keeps an event stored once across partitions. The legacy
-- partition's ids are not copied here (that would be a write of every row under the upgrade):
-- its primary key still holds them, it takes no new rows, and every claim looks there too.
CREATE TABLE event_ids (
    id BIGINT PRIMARY KEY
);

-- How many arrivals a partition holds. The newest partition's randomly inserted indexes should
-- stay in memory; every read across partitions costs a step per partition, so not much smaller
-- (docs/operations.md, "Partitions"). A change applies to the partitions created afterwards.
CREATE TABLE event_partitioning (
    id                 SMALLINT PRIMARY KEY CHECK (id = 1),
    rows_per_partition BIGINT   NOT NULL CHECK (rows_per_partition >= 1000)
);
INSERT INTO event_partitioning (id, rows_per_partition) VALUES (1, 2000000);

-- Every partition of `events` with its range of arrivals (lower inclusive, upper exclusive;
-- NULL lower: from the lowest). Writers route their rows with it.
CREATE FUNCTION roompulse_event_partitions()
RETURNS TABLE (partition_name TEXT, lower_arrival BIGINT, upper_arrival BIGINT)
LANGUAGE sql STABLE AS $$
    SELECT c.relname::text,
           (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \(''?(-?[0-9]+)''?\)'))[1]::bigint,
           (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \(''?(-?[0-9]+)''?\)'))[1]::bigint
      FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'events'::regclass
     ORDER BY 3
$$;

-- Creates partitions until a whole empty one lies ahead of the next `incoming` arrivals; returns
-- how many it created. Writers call it before each batch, in a transaction of its own (a look
-- at the sequence and the catalog when nothing is to do). A partition is created as a table of
-- its own and then attached, which takes SHARE UPDATE EXCLUSIVE on `events`: writers and readers
-- go on (CREATE TABLE … PARTITION OF would take ACCESS EXCLUSIVE).
CREATE FUNCTION roompulse_add_event_partitions(incoming BIGINT DEFAULT 0) RETURNS INTEGER
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    per BIGINT;
    next_arrival BIGINT;
    top BIGINT;
    added INTEGER := 0;
    part TEXT;
BEGIN
    SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END
      INTO next_arrival FROM events_arrival_seq;
    SELECT rows_per_partition INTO per FROM event_partitioning WHERE id = 1;
    SELECT max(upper_arrival) INTO top FROM roompulse_event_partitions();
    IF top > next_arrival + greatest(incoming, 0) + per THEN
        RETURN 0;
    END IF;
    -- One creator at a time. Another writer's rows still fit while one is creating: it goes on
    -- instead of waiting (a creation takes tens of milliseconds); one whose rows would not fit
    -- waits, and finds the partitions there once the creator commits.
    IF NOT pg_try_advisory_xact_lock(hashtext('roompulse_event_partitions')) THEN
        IF top > next_arrival + greatest(incoming, 0) THEN
            RETURN 0;
        END IF;
        PERFORM pg_advisory_xact_lock(hashtext('roompulse_event_partitions'));
    END IF;
    SELECT max(upper_arrival) INTO top FROM roompulse_event_partitions();
    top := greatest(coalesce(top, 1), 1);
    WHILE top <= next_arrival + greatest(incoming, 0) + per LOOP
        part := format('events_from_%s', top);
        EXECUTE format('CREATE TABLE %I (LIKE events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
        -- The partition's own key on the id: finds an event by id in one descent per partition,
        -- and refuses an id twice within the partition whoever writes.
        EXECUTE format('ALTER TABLE %I ADD PRIMARY KEY (id)', part);
        -- The workers COPY straight into the partition, where the trigger on `events` does not
        -- fire: readers waiting on the feed are woken by this one.
        EXECUTE format('CREATE TRIGGER events_notify_feed AFTER INSERT ON %I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION roompulse_notify_feed()', part);
        EXECUTE format('ALTER TABLE events ATTACH PARTITION %I FOR VALUES FROM (%s) TO (%s)',
                       part, top, top + per);
        top := top + per;
        added := added + 1;
    END LOOP;
    RETURN added;
END
$$;

SELECT roompulse_add_event_partitions();

-- Claims the ids of every statement's new rows in `event_ids`, for writers other than the
-- service's (psql, a restore script): an id stored already, in a partition or in the legacy one,
-- or retired by `roompulse retention`, raises `unique_violation`, as the single table's primary
-- key and its retired-ids check did. The service's writers claim their ids themselves before
-- they write (src/data_provider/store/claim.rs) and say so with `roompulse.ids_claimed`; the
-- workers' COPY goes into the partition, where this does not fire (PostgreSQL inserts a COPY
-- into a partitioned table row by row while a trigger has a transition table).
CREATE FUNCTION roompulse_claim_event_ids() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    taken BIGINT;
BEGIN
    IF current_setting('roompulse.ids_claimed', true) = 'on' THEN
        RETURN NULL;
    END IF;
    SELECT n.id INTO taken
      FROM new_events n
     WHERE EXISTS (SELECT 1 FROM events_legacy l WHERE l.id = n.id)
        OR EXISTS (SELECT 1 FROM retired_event_ids r WHERE r.id = n.id)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'event id % is stored already, or was deleted by roompulse retention', taken
            USING ERRCODE = 'unique_violation', CONSTRAINT = 'event_ids_pkey';
    END IF;
    INSERT INTO event_ids (id) SELECT id FROM new_events;
    RETURN NULL;
END
$$;

CREATE TRIGGER events_claim_ids
    AFTER INSERT ON events
    REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION roompulse_claim_event_ids();

CREATE TRIGGER events_notify_feed
    AFTER INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION roompulse_notify_feed();

-- Un-retiring ids (operations.md, "Retention": `DELETE FROM retired_event_ids WHERE uncounted`, to
-- load the events again) releases their claims too; an id whose event is stored keeps its claim.
CREATE FUNCTION roompulse_release_unretired_ids() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM event_ids e
     USING unretired u
     WHERE e.id = u.id
       AND NOT EXISTS (SELECT 1 FROM events x WHERE x.id = u.id);
    RETURN NULL;
END
$$;

CREATE TRIGGER retired_event_ids_release_claims
    AFTER DELETE ON retired_event_ids
    REFERENCING OLD TABLE AS unretired
    FOR EACH STATEMENT EXECUTE FUNCTION roompulse_release_unretired_ids();
