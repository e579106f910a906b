-- The sync's writes to dashboard_pace: the per-day layout (counts only: today's, decision 015;
-- "old layout" below) against the merge of a page into stored running totals (decision 009,
-- replaced; the statement verbatim, with the page's arrays built here instead of in Rust), on
-- the real city hotel's events as two hotels (668k events), in the sync's batches of 200,000
-- events (PAGES_PER_COMMIT × PAGE_SIZE) or pages of 10,000, in shuffled order or in time order
-- (live traffic). Run with psql -v order=random|time -v page=200000|10000 -v ff=50 (the running
-- totals table's fillfactor, as migration 000007 set it; the per-day table keeps the default) on
-- a scratch database, from the repository's root (it reads data/); it prints each side's time,
-- checks both exact and prints both tables' sizes. work_mem as the merge set it.
\set ON_ERROR_STOP on
SET work_mem = '64MB';
\timing on
CREATE TEMP TABLE ev (rid uuid, night date, id bigint, status int2, ts timestamp, hotel int4);
\copy ev FROM PROGRAM 'zcat data/city_hotel_events.csv.gz' CSV HEADER
INSERT INTO ev SELECT rid, night, id, status, ts, 4102 FROM ev;
CREATE TEMP TABLE paged AS
SELECT (row_number() OVER (ORDER BY CASE WHEN :'order' = 'time' THEN ts END, md5(id::text || hotel::text)) - 1) / :page AS page,
    hotel, night, ts::date AS day, status
FROM ev;
CREATE TEMP TABLE deltas AS
SELECT page, hotel, night, day, count(*) FILTER (WHERE status = 1)::int8 AS b,
    count(*) FILTER (WHERE status = 2)::int8 AS c
FROM paged GROUP BY 1, 2, 3, 4;
CREATE TEMP TABLE arrays AS
SELECT page, array_agg(hotel ORDER BY hotel, night, day) AS h, array_agg(night ORDER BY hotel, night, day) AS n,
    array_agg(day ORDER BY hotel, night, day) AS d,
    array_agg(b ORDER BY hotel, night, day) AS b, array_agg(c ORDER BY hotel, night, day) AS c
FROM deltas GROUP BY page;
-- Per night the page touches, its first day in the page (PaceColumns builds these in Rust).
ALTER TABLE arrays ADD COLUMN th int4[], ADD COLUMN tn date[], ADD COLUMN tf date[];
UPDATE arrays a SET th = x.th, tn = x.tn, tf = x.tf
FROM (SELECT page, array_agg(hotel ORDER BY hotel, night) AS th, array_agg(night ORDER BY hotel, night) AS tn,
          array_agg(first_day ORDER BY hotel, night) AS tf
      FROM (SELECT page, hotel, night, min(day) AS first_day FROM deltas GROUP BY 1, 2, 3) y GROUP BY page) x
WHERE x.page = a.page;
SELECT count(*) AS batches, sum(cardinality(h)) AS rows_upserted FROM arrays;

DROP TABLE IF EXISTS old_pace, new_pace;
CREATE TABLE old_pace (hotel_id int4, night date, event_day date, bookings int8 NOT NULL DEFAULT 0,
    cancellations int8 NOT NULL DEFAULT 0, PRIMARY KEY (hotel_id, night, event_day));
CREATE TABLE new_pace (hotel_id int4, night date, event_day date, bookings int8 NOT NULL DEFAULT 0,
    cancellations int8 NOT NULL DEFAULT 0, running_bookings int8 NOT NULL DEFAULT 0,
    running_cancellations int8 NOT NULL DEFAULT 0, PRIMARY KEY (hotel_id, night, event_day))
    WITH (fillfactor = :ff);

CREATE FUNCTION pg_temp.old_side() RETURNS void LANGUAGE plpgsql AS $f$
DECLARE a record;
BEGIN
  FOR a IN SELECT * FROM arrays ORDER BY page LOOP
    INSERT INTO old_pace (hotel_id, night, event_day, bookings, cancellations)
    SELECT * FROM unnest(a.h, a.n, a.d, a.b, a.c)
    ON CONFLICT (hotel_id, night, event_day) DO UPDATE SET
        bookings = old_pace.bookings + EXCLUDED.bookings,
        cancellations = old_pace.cancellations + EXCLUDED.cancellations;
  END LOOP;
END $f$;
CREATE FUNCTION pg_temp.new_side() RETURNS void LANGUAGE plpgsql AS $f$
DECLARE a record;
BEGIN
  FOR a IN SELECT * FROM arrays ORDER BY page LOOP
    WITH page AS MATERIALIZED (
        SELECT * FROM unnest(a.h, a.n, a.d, a.b, a.c)
            AS d(hotel_id, night, day, bookings, cancellations)
    ), touched AS MATERIALIZED (
        SELECT t.hotel_id, t.night, t.first_day,
            COALESCE(before.running_bookings, 0) AS base_bookings,
            COALESCE(before.running_cancellations, 0) AS base_cancellations
        FROM unnest(a.th, a.tn, a.tf) AS t(hotel_id, night, first_day)
        LEFT JOIN LATERAL (
            SELECT p.running_bookings, p.running_cancellations FROM new_pace p
            WHERE p.hotel_id = t.hotel_id AND p.night = t.night
                AND p.event_day < t.first_day
            ORDER BY p.event_day DESC LIMIT 1) before ON true
    ), stored AS (
        SELECT p.ctid AS tid, p.hotel_id, p.night, p.event_day AS day,
            p.bookings, p.cancellations
        FROM touched t JOIN new_pace p ON p.hotel_id = t.hotel_id
            AND p.night = t.night AND p.event_day >= t.first_day
    ), merged AS MATERIALIZED (
        SELECT m.*,
            t.base_bookings + (sum(m.bookings) OVER w)::int8 AS running_bookings,
            t.base_cancellations + (sum(m.cancellations) OVER w)::int8
                AS running_cancellations
        FROM (
            SELECT s.tid, hotel_id, night, day,
                COALESCE(s.bookings, 0) + COALESCE(d.bookings, 0) AS bookings,
                COALESCE(s.cancellations, 0) + COALESCE(d.cancellations, 0)
                    AS cancellations
            FROM stored s FULL JOIN page d USING (hotel_id, night, day)) m
        JOIN touched t USING (hotel_id, night)
        WINDOW w AS (PARTITION BY m.hotel_id, m.night ORDER BY m.day)
    ), updated AS (
        UPDATE new_pace p SET bookings = m.bookings,
            cancellations = m.cancellations, running_bookings = m.running_bookings,
            running_cancellations = m.running_cancellations
        FROM merged m WHERE m.tid IS NOT NULL AND p.ctid = m.tid
    )
    INSERT INTO new_pace (hotel_id, night, event_day, bookings, cancellations,
        running_bookings, running_cancellations)
    SELECT hotel_id, night, day, bookings, cancellations, running_bookings,
        running_cancellations
    FROM merged WHERE tid IS NULL;
  END LOOP;
END $f$;
\echo old layout
SELECT pg_temp.old_side();
\echo new layout
SELECT pg_temp.new_side();
-- Both exact: the same counts, and running totals equal to the running sums.
SELECT count(*) AS rows_differing FROM old_pace o FULL JOIN new_pace n USING (hotel_id, night, event_day)
WHERE o.bookings IS DISTINCT FROM n.bookings OR o.cancellations IS DISTINCT FROM n.cancellations
   OR n.running_bookings <> (SELECT sum(bookings) FROM new_pace q WHERE q.hotel_id = n.hotel_id AND q.night = n.night AND q.event_day <= n.event_day)
   OR n.running_cancellations <> (SELECT sum(cancellations) FROM new_pace q WHERE q.hotel_id = n.hotel_id AND q.night = n.night AND q.event_day <= n.event_day);
SELECT relname, pg_total_relation_size(oid) AS bytes FROM pg_class WHERE relname IN ('old_pace', 'new_pace');
DROP TABLE old_pace, new_pace;
