-- The Dashboard's figures: one row per hotel, basis and day. Monthly figures are summed from
-- these at read time (at most 366 rows per hotel, year and basis), so reads cost the same
-- whatever the number of events.
CREATE TABLE dashboard_daily (
    hotel_id      INTEGER  NOT NULL,
    -- 1 = event basis (UTC date of event_timestamp), 2 = stay basis (night_of_stay).
    basis         SMALLINT NOT NULL CHECK (basis IN (1, 2)),
    day           DATE     NOT NULL,
    -- Events with status 1 and status 2.
    bookings      BIGINT   NOT NULL DEFAULT 0,
    cancellations BIGINT   NOT NULL DEFAULT 0,
    PRIMARY KEY (hotel_id, basis, day)
);

-- Where the sync stands in the Data Provider's change feed (GET /events?order=stored). It is
-- updated in the same transaction as the figures a page produced, so the two never disagree.
CREATE TABLE sync_state (
    id            SMALLINT    PRIMARY KEY CHECK (id = 1),
    -- The opaque cursor of the next page to fetch; NULL before the first page.
    cursor        TEXT        NULL,
    events_synced BIGINT      NOT NULL DEFAULT 0,
    -- The latest event_timestamp among the events synced so far.
    last_event_at TIMESTAMPTZ NULL,
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

INSERT INTO sync_state (id) VALUES (1);
