ALTER TABLE dashboard_pace
    ADD COLUMN running_bookings      BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN running_cancellations BIGINT NOT NULL DEFAULT 0;
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
ALTER TABLE dashboard_pace SET (fillfactor = 50);
