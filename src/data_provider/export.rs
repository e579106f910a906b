//! The CSV export format of the original booking system: the header's column names in their
//! order, one event a CRLF-terminated row. `load-events` reads it (in any column order), the
//! generator writes it, and `roompulse retention` archives deleted events in it, so that an
//! archive loads back.

use std::io::{self, Write};

use super::event::Event;

/// The export's header, in the original system's column order.
pub const HEADER: &str = "room_reservation_id,night_of_stay,id,status,event_timestamp,hotel_id";

/// Writes `event` as one row of the export ([`HEADER`]'s columns, CRLF). Timestamps are
/// `YYYY-MM-DD HH:MM:SS` in UTC, with a fraction of a second only when there is one (`%.f`
/// writes nothing for whole seconds).
pub fn write_row(out: &mut impl Write, event: &Event) -> io::Result<()> {
    write!(
        out,
        "{},{},{},{},{},{}\r\n",
        event.room_reservation_id.as_hyphenated(),
        event.night_of_stay.format("%Y-%m-%d"),
        event.id,
        event.status,
        event.event_timestamp.format("%Y-%m-%d %H:%M:%S%.f"),
        event.hotel_id
    )
}
