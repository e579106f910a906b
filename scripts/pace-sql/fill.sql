CREATE TEMP TABLE ev (rid uuid, night date, id bigint, status int2, ts timestamp, hotel int4);
\copy ev FROM PROGRAM 'zcat data/city_hotel_events.csv.gz' CSV HEADER
-- The real hotel, and a second hotel of the same size: the same history as hotel 4102.
INSERT INTO dashboard_pace (hotel_id, night, event_day, bookings, cancellations)
SELECT h, night, ts::date, count(*) FILTER (WHERE status = 1), count(*) FILTER (WHERE status = 2)
FROM ev CROSS JOIN (VALUES (4101), (4102)) AS hs(h) GROUP BY 1, 2, 3;
-- A hotel with one night booked on 10 event days and one on 700 (for the cost-vs-history check).
INSERT INTO dashboard_pace (hotel_id, night, event_day, bookings, cancellations)
SELECT 9001, DATE '2017-06-01', DATE '2017-06-01' - k * 70, 1, 0 FROM generate_series(0, 9) k
UNION ALL
SELECT 9001, DATE '2017-06-02', DATE '2017-06-02' - k, 1, 0 FROM generate_series(0, 699) k;
INSERT INTO dashboard_daily SELECT hotel_id, 1, event_day, sum(bookings), sum(cancellations) FROM dashboard_pace GROUP BY 1, 3;
INSERT INTO dashboard_daily SELECT hotel_id, 2, night, sum(bookings), sum(cancellations) FROM dashboard_pace GROUP BY hotel_id, night;
