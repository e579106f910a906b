//! The Dashboard's tables as diesel sees them (`migrations_dashboard/` defines them).

diesel::table! {
    dashboard_daily (hotel_id, basis, day) {
        hotel_id -> Int4,
        basis -> Int2,
        day -> Date,
        bookings -> Int8,
        cancellations -> Int8,
    }
}

diesel::table! {
    sync_state (id) {
        id -> Int2,
        cursor -> Nullable<Text>,
        events_synced -> Int8,
        last_event_at -> Nullable<Timestamptz>,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    dashboard_pace (hotel_id, night, event_day) {
        hotel_id -> Int4,
        night -> Date,
        event_day -> Date,
        bookings -> Int8,
        cancellations -> Int8,
    }
}

diesel::allow_tables_to_appear_in_same_query!(dashboard_daily, dashboard_pace, sync_state);
