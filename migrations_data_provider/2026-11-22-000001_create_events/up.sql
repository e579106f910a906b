-- The Data Provider's one table: every accepted booking event, stored once.
CREATE TABLE events (
    -- The event's identity, from the hotel's system; the service assigns ids from 2^62 up.
    id                  BIGINT      PRIMARY KEY CHECK (id > 0),
    hotel_id            INTEGER     NOT NULL CHECK (hotel_id > 0),
    event_timestamp     TIMESTAMPTZ NOT NULL,
    status              SMALLINT    NOT NULL CHECK (status IN (1, 2)),
    room_reservation_id UUID        NOT NULL,
    night_of_stay       DATE        NOT NULL,
    -- The transaction that stored the row. Readers that must see every row exactly once (the
    -- dashboard's sync) page by (tx_id, id) below the oldest transaction still running, where
    -- no row can appear any more: a timestamp cursor cannot promise that.
    tx_id               BIGINT      NOT NULL DEFAULT (pg_current_xact_id()::text::bigint)
);

-- GET /events is always ordered by (event_timestamp, id) and paged by keyset on it.
CREATE INDEX events_timestamp_id ON events (event_timestamp, id);
CREATE INDEX events_hotel_timestamp_id ON events (hotel_id, event_timestamp, id);

-- Ids for events posted without one. They start at 2^62 so that they can never collide with
-- the ids hotel systems send (which the API keeps below 2^62).
CREATE SEQUENCE events_assigned_id_seq START WITH 4611686018427387904 MINVALUE 4611686018427387904;
