-- The revenue manager's figures (on the books as of any day, pickup, same time last year,
-- booking curve, lead time): one row per hotel, night of stay and event day (the UTC date of
-- event_timestamp). Every figure is a sum over a range of these rows, exact for any as-of
-- day, and the sync adds to them in the same transaction as to dashboard_daily and the cursor.
CREATE TABLE dashboard_pace (
    hotel_id      INTEGER NOT NULL,
    night         DATE    NOT NULL,
    event_day     DATE    NOT NULL,
    -- Events with status 1 and status 2.
    bookings      BIGINT  NOT NULL DEFAULT 0,
    cancellations BIGINT  NOT NULL DEFAULT 0,
    -- A hotel's nights in order, each night's event days in order: on-the-books, pickup and
    -- the booking curve read one contiguous range of the key.
    PRIMARY KEY (hotel_id, night, event_day)
);

-- A dashboard made before this table has counted its events into dashboard_daily only, and
-- the feed cannot be replayed into one table alone. So the upgrade recounts: both tables
-- start empty and the cursor goes back to the start of the feed; the next sync passes count
-- every stored event exactly once into both, in the same transactions as the cursor. Until
-- they have caught up, the figures are those of the events counted so far.
TRUNCATE dashboard_daily;
UPDATE sync_state
SET cursor = NULL, events_synced = 0, last_event_at = NULL, updated_at = now()
WHERE id = 1;
