-- The sync's writes to dashboard_pace, old layout against new, on the real city hotel's events
-- (both hotels of fill.sql: 668k events) in shuffled order, in the sync's batches of 200,000
-- events (PAGES_PER_COMMIT × PAGE_SIZE) or pages of 10,000, in shuffled order or in time order
-- (live traffic). The statements are add_pace's and the old upsert's, verbatim (add_pace as of the commit of this file), with
-- the page's arrays built here instead of in Rust. Run with psql -v order=random|time on an
-- empty scratch database, -v page=200000 (a backlog) or 10000 (one page per commit): it creates
-- both tables and prints each side's time. Run it from the repository's root (it reads
-- data/).
\set ON_ERROR_STOP on
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
    array_agg(day ORDER BY hotel, night, day) AS d, array_agg(nd ORDER BY hotel, night, day) AS nd,
    array_agg(b ORDER BY hotel, night, day) AS b, array_agg(c ORDER BY hotel, night, day) AS c,
    array_agg(rb ORDER BY hotel, night, day) AS rb, array_agg(rc ORDER BY hotel, night, day) AS rc
FROM (SELECT *, (sum(b) OVER w)::int8 AS rb, (sum(c) OVER w)::int8 AS rc, lead(day) OVER w AS nd
      FROM deltas WINDOW w AS (PARTITION BY page, hotel, night ORDER BY day)) x
GROUP BY page;
SELECT count(*) AS batches, sum(cardinality(h)) AS rows_upserted FROM arrays;

DROP TABLE IF EXISTS old_pace, new_pace;
CREATE TABLE old_pace (hotel_id int4, night date, event_day date, bookings int8 NOT NULL DEFAULT 0,
    cancellations int8 NOT NULL DEFAULT 0, PRIMARY KEY (hotel_id, night, event_day));
CREATE TABLE new_pace (hotel_id int4, night date, event_day date, bookings int8 NOT NULL DEFAULT 0,
    cancellations int8 NOT NULL DEFAULT 0, running_bookings int8 NOT NULL DEFAULT 0,
    running_cancellations int8 NOT NULL DEFAULT 0, PRIMARY KEY (hotel_id, night, event_day));

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
    WITH probed AS MATERIALIZED (
        SELECT d.*, last.event_day AS last_day,
            CASE WHEN last.event_day IS NULL THEN 0
                WHEN last.event_day <= d.day THEN last.running_bookings
                ELSE COALESCE(prev.running_bookings, 0) END AS base_bookings,
            CASE WHEN last.event_day IS NULL THEN 0
                WHEN last.event_day <= d.day THEN last.running_cancellations
                ELSE COALESCE(prev.running_cancellations, 0) END AS base_cancellations
        FROM unnest(a.h, a.n, a.d, a.nd, a.b, a.c, a.rb, a.rc)
            AS d(hotel_id, night, day, next_day, bookings, cancellations,
                 running_bookings, running_cancellations)
        LEFT JOIN LATERAL (
            SELECT p.event_day, p.running_bookings, p.running_cancellations
            FROM new_pace p WHERE p.hotel_id = d.hotel_id AND p.night = d.night
            ORDER BY p.event_day DESC LIMIT 1) last ON true
        LEFT JOIN LATERAL (
            SELECT p.running_bookings, p.running_cancellations FROM new_pace p
            WHERE last.event_day > d.day
                AND p.hotel_id = d.hotel_id AND p.night = d.night AND p.event_day <= d.day
            ORDER BY p.event_day DESC LIMIT 1) prev ON true
    ), rewritten AS (
        UPDATE new_pace p SET
            running_bookings = p.running_bookings + r.running_bookings,
            running_cancellations = p.running_cancellations + r.running_cancellations
        FROM probed r
        WHERE r.last_day > r.day
            AND p.hotel_id = r.hotel_id AND p.night = r.night AND p.event_day > r.day
            AND p.event_day < COALESCE(r.next_day, 'infinity'::date)
    )
    INSERT INTO new_pace (hotel_id, night, event_day, bookings, cancellations,
        running_bookings, running_cancellations)
    SELECT hotel_id, night, day, bookings, cancellations,
        base_bookings + running_bookings, base_cancellations + running_cancellations
    FROM probed WHERE true
    ON CONFLICT (hotel_id, night, event_day) DO UPDATE SET
        bookings = new_pace.bookings + EXCLUDED.bookings,
        cancellations = new_pace.cancellations + EXCLUDED.cancellations,
        running_bookings = EXCLUDED.running_bookings,
        running_cancellations = EXCLUDED.running_cancellations;
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
