-- Running totals per (hotel, night): each row also holds the bookings and cancellations of its
-- night counted on its event day or before. On the books as of any day is then the last row
-- of the night at or before that day (one index probe), and pickup over a window the
-- difference of two such rows, whatever the number of event days behind them. The per-day
-- counts stay: the lead time sums them by days before arrival, and they are what the running
-- totals are the running sums of.
ALTER TABLE dashboard_pace
    ADD COLUMN running_bookings      BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN running_cancellations BIGINT NOT NULL DEFAULT 0;

-- An existing dashboard converts exactly, with no recount: the running sums of the rows it
-- holds, in the same transaction as the columns (diesel runs each migration in one).
UPDATE dashboard_pace p
SET running_bookings = r.running_bookings,
    running_cancellations = r.running_cancellations
FROM (
    SELECT hotel_id, night, event_day,
        (sum(bookings) OVER w)::int8 AS running_bookings,
        (sum(cancellations) OVER w)::int8 AS running_cancellations
    FROM dashboard_pace
    WINDOW w AS (PARTITION BY hotel_id, night ORDER BY event_day)
) r
WHERE p.hotel_id = r.hotel_id AND p.night = r.night AND p.event_day = r.event_day;
