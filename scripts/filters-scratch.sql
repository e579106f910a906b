-- A scratch copy of the Data Provider's events table at scale, for the GET /events filter
-- measurements in BENCHMARKS.md ("GET /events filters at 10 M (issue 11)"). Shaped like
-- `roompulse generate` / `roompulse-bench scale` exports: 10 hotels (`-v hotels=…`), reservations booked at
-- random times over 2021–2024, 1–7 consecutive nights starting 0–119 days after booking, one in
-- six cancelled 1 h–30 days later (a second row per night with status 2), ids in generation
-- order (so the heap is in shuffled time order, as after loading multi-year exports).
--
--   createdb -h 127.0.0.1 -U postgres roompulse_scratch_filters
--   for f in migrations_data_provider/*/up.sql; do
--     psql -h 127.0.0.1 -U postgres -d roompulse_scratch_filters -v ON_ERROR_STOP=1 -f "$f"; done
--   psql -h 127.0.0.1 -U postgres -d roompulse_scratch_filters -v ON_ERROR_STOP=1 \
--        -v reservations=2140000 -f scripts/filters-scratch.sql
--
-- 2,140,000 reservations give ~10,000,000 events. The table is partitioned by arrival
-- (decision 006), `partition_rows` arrivals a partition (`-v partition_rows=…`, 2,000,000 by
-- default, as the migrations set): the events are stored in generation order, so each partition
-- holds a shuffled slice of the history, as after loading multi-year exports. The filter
-- indexes are dropped for the load and built again afterwards (much faster than maintaining
-- them row by row); the ones the migrations define are recreated as they were, whatever their
-- number. Each partition's key on the id and `event_ids` are written as the rows go in.
\set ON_ERROR_STOP 1
\timing on
\if :{?partition_rows}
\else
\set partition_rows 2000000
\endif
-- Hotels 2600, 2601, …: 10 by default (`-v hotels=…`).
\if :{?hotels}
\else
\set hotels 10
\endif
SELECT setseed(0.42);

CREATE TEMP TABLE saved_indexes AS
    SELECT indexrelid::regclass::text AS name, pg_get_indexdef(indexrelid) AS def
      FROM pg_index WHERE indrelid = 'events'::regclass AND NOT indisprimary;
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT name FROM saved_indexes LOOP
        EXECUTE format('DROP INDEX %I', r.name);
    END LOOP;
    -- The empty partitions the migrations created, at the default size.
    FOR r IN SELECT partition_name FROM roompulse_event_partitions()
              WHERE partition_name <> 'events_legacy' LOOP
        EXECUTE format('DROP TABLE %I', r.partition_name);
    END LOOP;
END $$;
TRUNCATE events, event_ids;
UPDATE event_partitioning SET rows_per_partition = :partition_rows;

CREATE TEMP TABLE reservations AS
SELECT r,
       gen_random_uuid() AS reservation,
       2600 + floor(random() * :hotels)::int AS hotel_id,
       booked,
       booked::date + floor(random() * 120)::int AS first_night,
       1 + floor(random() * 7)::int AS nights,
       CASE WHEN random() < 1.0 / 6 THEN booked + interval '1 hour' + random() * interval '30 days' END AS cancelled_at
  FROM (SELECT r, timestamptz '2021-01-01 00:00:00+00' + random() * interval '4 years' AS booked
          FROM generate_series(1, :reservations) AS r) b;

SELECT roompulse_add_event_partitions(
    (SELECT sum(nights * (1 + (cancelled_at IS NOT NULL)::int)) FROM reservations)::bigint);

INSERT INTO events (id, hotel_id, event_timestamp, status, room_reservation_id, night_of_stay, tx_id)
SELECT row_number() OVER (ORDER BY r, s.status, n) + 19000000, hotel_id,
       CASE s.status WHEN 1 THEN booked ELSE cancelled_at END,
       s.status, reservation, first_night + n, 1
  FROM reservations,
       LATERAL (VALUES (1::smallint), (2::smallint)) AS s(status),
       generate_series(0, nights - 1) AS n
 WHERE s.status = 1 OR cancelled_at IS NOT NULL
 ORDER BY r, s.status, n;

DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT def FROM saved_indexes LOOP
        -- A partitioned index reads `ON ONLY events`: built on every partition here.
        EXECUTE replace(r.def, ' ON ONLY ', ' ON ');
    END LOOP;
END $$;
VACUUM ANALYZE events;
SELECT count(*) AS events, min(event_timestamp), max(event_timestamp),
       min(night_of_stay), max(night_of_stay),
       round(avg((status = 2)::int), 3) AS cancelled_share
  FROM events;
