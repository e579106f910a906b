//! The Dashboard Service: per-hotel daily and monthly booking figures.
//!
//! It learns about events only through the Data Provider's HTTP API (`client`): a scheduled
//! pass (`schedule`, `sync`) follows the `GET /events?order=stored` change feed and folds each
//! page into daily counters, committing the figures and the feed's cursor in one transaction
//! of its own database (`store`), so every stored event is counted exactly once.
//! `GET /dashboard` (`api`) reads those counters only.

pub mod api;
pub mod client;
pub mod schedule;
pub mod schema;
pub mod store;
pub mod sync;

/// Which date an event is counted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Basis {
    /// The UTC date of `event_timestamp`: when the business came in.
    Event,
    /// `night_of_stay`: the night the room is booked for.
    Stay,
}

impl Basis {
    /// The `basis` column's value.
    pub fn code(self) -> i16 {
        match self {
            Basis::Event => 1,
            Basis::Stay => 2,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Basis::Event => "event",
            Basis::Stay => "stay",
        }
    }
}
