//! The events table as diesel sees it (`migrations_data_provider/` defines it).

diesel::table! {
    events (id) {
        id -> Int8,
        hotel_id -> Int4,
        event_timestamp -> Timestamptz,
        status -> Int2,
        room_reservation_id -> Uuid,
        night_of_stay -> Date,
        tx_id -> Int8,
    }
}
