-- Per hotel, a number the sync moves on in every transaction that changes the hotel's figures
-- (store::apply_page). A process that holds a hotel's pace rows in memory (dashboard::book)
-- knows with one primary-key probe whether they are still the stored ones, and reloads only the
-- hotels that changed. A hotel without a row is at version 0: an existing dashboard needs no
-- conversion (its books are loaded at version 0 and move on with the next page that touches
-- them).
CREATE TABLE dashboard_hotel_versions (
    hotel_id INT4 PRIMARY KEY,
    version  INT8 NOT NULL
);
