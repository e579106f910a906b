-- The ingest cost of each index of BENCHMARKS.md's "GET /events filters at 10 M": a copy of
-- the stored events (run on the database scripts/filters-scratch.sh builds), then for each set
-- of indexes the time to insert 1,000,000 more shuffled events (another 214,000 reservations of
-- the same shape, in one statement, rolled back) into the copy.
--   psql -h 127.0.0.1 -U postgres -d roompulse_scratch_filters -f scripts/filters-index-costs.sql
\set ON_ERROR_STOP 1
SELECT setseed(0.17);
DROP TABLE IF EXISTS cost_copy, cost_chunk;
CREATE TABLE cost_copy (LIKE events INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
INSERT INTO cost_copy SELECT * FROM events;
CREATE UNLOGGED TABLE cost_chunk AS
SELECT row_number() OVER (ORDER BY r, s.status, n) + 900000000 AS id, hotel_id,
       CASE s.status WHEN 1 THEN booked ELSE cancelled_at END AS event_timestamp,
       s.status, reservation AS room_reservation_id, first_night + n AS night_of_stay,
       2::bigint AS tx_id
  FROM (SELECT r, gen_random_uuid() AS reservation, 2600 + floor(random() * 10)::int AS hotel_id,
               booked, booked::date + floor(random() * 120)::int AS first_night,
               1 + floor(random() * 7)::int AS nights,
               CASE WHEN random() < 1.0 / 6
                    THEN booked + interval '1 hour' + random() * interval '30 days' END AS cancelled_at
          FROM (SELECT r, timestamptz '2021-01-01 00:00:00+00' + random() * interval '4 years' AS booked
                  FROM generate_series(1, 214000) AS r) b) res,
       LATERAL (VALUES (1::smallint), (2::smallint)) AS s(status),
       generate_series(0, nights - 1) AS n
 WHERE s.status = 1 OR cancelled_at IS NOT NULL
 ORDER BY random();
VACUUM ANALYZE cost_copy;
SELECT (SELECT count(*) FROM cost_copy) AS stored, (SELECT count(*) FROM cost_chunk) AS chunk;

\echo '== no index'
CHECKPOINT;
BEGIN;
\timing on
INSERT INTO cost_copy SELECT * FROM cost_chunk;
\timing off
ROLLBACK;
ALTER TABLE cost_copy DROP CONSTRAINT IF EXISTS cost_copy_pkey;
DROP INDEX IF EXISTS cost_i1, cost_i2, cost_i3, cost_i4, cost_i5, cost_i6;
\echo '== primary key (id)'
ALTER TABLE cost_copy ADD CONSTRAINT cost_copy_pkey PRIMARY KEY (id);
CHECKPOINT;
BEGIN;
\timing on
INSERT INTO cost_copy SELECT * FROM cost_chunk;
\timing off
ROLLBACK;
ALTER TABLE cost_copy DROP CONSTRAINT IF EXISTS cost_copy_pkey;
DROP INDEX IF EXISTS cost_i1, cost_i2, cost_i3, cost_i4, cost_i5, cost_i6;
\echo '== (event_timestamp, id)'
CREATE INDEX cost_i1 ON cost_copy (event_timestamp, id);
CHECKPOINT;
BEGIN;
\timing on
INSERT INTO cost_copy SELECT * FROM cost_chunk;
\timing off
ROLLBACK;
ALTER TABLE cost_copy DROP CONSTRAINT IF EXISTS cost_copy_pkey;
DROP INDEX IF EXISTS cost_i1, cost_i2, cost_i3, cost_i4, cost_i5, cost_i6;
\echo '== (room_reservation_id)'
CREATE INDEX cost_i1 ON cost_copy (room_reservation_id);
CHECKPOINT;
BEGIN;
\timing on
INSERT INTO cost_copy SELECT * FROM cost_chunk;
\timing off
ROLLBACK;
ALTER TABLE cost_copy DROP CONSTRAINT IF EXISTS cost_copy_pkey;
DROP INDEX IF EXISTS cost_i1, cost_i2, cost_i3, cost_i4, cost_i5, cost_i6;
\echo '== (night_of_stay, event_timestamp, id) INCLUDE (hotel_id, status)'
CREATE INDEX cost_i1 ON cost_copy (night_of_stay, event_timestamp, id) INCLUDE (hotel_id, status);
CHECKPOINT;
BEGIN;
\timing on
INSERT INTO cost_copy SELECT * FROM cost_chunk;
\timing off
ROLLBACK;
ALTER TABLE cost_copy DROP CONSTRAINT IF EXISTS cost_copy_pkey;
DROP INDEX IF EXISTS cost_i1, cost_i2, cost_i3, cost_i4, cost_i5, cost_i6;
\echo '== (event_timestamp, id) WHERE status = 2'
CREATE INDEX cost_i1 ON cost_copy (event_timestamp, id) WHERE status = 2;
CHECKPOINT;
BEGIN;
\timing on
INSERT INTO cost_copy SELECT * FROM cost_chunk;
\timing off
ROLLBACK;
ALTER TABLE cost_copy DROP CONSTRAINT IF EXISTS cost_copy_pkey;
DROP INDEX IF EXISTS cost_i1, cost_i2, cost_i3, cost_i4, cost_i5, cost_i6;
\echo '== the four of main'
ALTER TABLE cost_copy ADD CONSTRAINT cost_copy_pkey PRIMARY KEY (id);
CREATE INDEX cost_i1 ON cost_copy (event_timestamp, id);
CREATE INDEX cost_i2 ON cost_copy (hotel_id, event_timestamp, id);
CREATE INDEX cost_i3 ON cost_copy (tx_id, id);
CHECKPOINT;
BEGIN;
\timing on
INSERT INTO cost_copy SELECT * FROM cost_chunk;
\timing off
ROLLBACK;
ALTER TABLE cost_copy DROP CONSTRAINT IF EXISTS cost_copy_pkey;
DROP INDEX IF EXISTS cost_i1, cost_i2, cost_i3, cost_i4, cost_i5, cost_i6;
\echo '== the four of main + the three new'
ALTER TABLE cost_copy ADD CONSTRAINT cost_copy_pkey PRIMARY KEY (id);
CREATE INDEX cost_i1 ON cost_copy (event_timestamp, id);
CREATE INDEX cost_i2 ON cost_copy (hotel_id, event_timestamp, id);
CREATE INDEX cost_i3 ON cost_copy (tx_id, id);
CREATE INDEX cost_i4 ON cost_copy (room_reservation_id);
CREATE INDEX cost_i5 ON cost_copy (night_of_stay, event_timestamp, id) INCLUDE (hotel_id, status);
CREATE INDEX cost_i6 ON cost_copy (event_timestamp, id) WHERE status = 2;
CHECKPOINT;
BEGIN;
\timing on
INSERT INTO cost_copy SELECT * FROM cost_chunk;
\timing off
ROLLBACK;
ALTER TABLE cost_copy DROP CONSTRAINT IF EXISTS cost_copy_pkey;
DROP INDEX IF EXISTS cost_i1, cost_i2, cost_i3, cost_i4, cost_i5, cost_i6;
DROP TABLE cost_copy, cost_chunk;
