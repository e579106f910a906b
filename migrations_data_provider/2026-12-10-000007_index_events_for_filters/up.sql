-- Indexes for the GET /events filters that no time index serves, so that no filter, alone or
-- combined, can make a first page cost a walk of the whole table (BENCHMARKS.md, "GET /events
-- filters at 10 M"). Each one is paid at every insert: only what a filter cannot do without.

-- `room_id`: a reservation is a handful of rows; without this, the (event_timestamp, id) walk
-- reads the whole table to find them (8.8 s at 10 M). A UUID key takes random inserts even for
-- live traffic, the price of the filter.
CREATE INDEX events_room_reservation_id ON events (room_reservation_id);

-- `night_of_stay__gte/lte`: one (event_timestamp, id)-ordered stream per night, which the list
-- merges (store::list_by_nights). A night range's matches can all come late in the time order
-- (next year's nights are booked lately) or never; the time walk then reads the whole table,
-- and an index on night_of_stay alone would have to sort all of the range's rows. Inserts go to
-- the ~120 nights being booked for live traffic, all over the range for shuffled history.
-- It includes hotel_id and status so that the merge applies those filters in the index (an
-- index-only scan), without fetching the rows the filter drops: a night's first cancellation
-- comes after ~90 bookings.
CREATE INDEX events_night_timestamp_id ON events (night_of_stay, event_timestamp, id)
    INCLUDE (hotel_id, status);

-- `rpg_status=2`: cancellations (~15 % of events) in the page's order. Bookings are the other
-- ~85 %: the (event_timestamp, id) walk fills a page of them after a few more rows, so they get
-- no index. Partial, so that it costs a sixth of a full one; the list writes the status as a
-- literal so the planner can use it.
CREATE INDEX events_cancellations_timestamp_id ON events (event_timestamp, id) WHERE status = 2;
