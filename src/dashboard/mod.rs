//! The Dashboard Service: per-hotel daily and monthly booking figures.
//!
//! It learns about events only through the Data Provider's HTTP API (`client`): a scheduled
//! pass (`schedule`, `sync`) follows the `GET /events?order=stored` change feed and folds each
//! page into daily counters, committing the figures and the feed's cursor in one transaction
//! of its own database (`store`), so every stored event is counted exactly once.
//! `GET /dashboard` (`api`) reads those counters only, and so does the chart page (`page`).

pub mod api;
pub mod client;
pub mod page;
pub mod schedule;
pub mod schema;
pub mod store;
pub mod sync;

/// Which date an event is counted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, utoipa::ToSchema)]
#[schema(rename_all = "lowercase", description = "The values `basis` takes.")]
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

/// The years the Dashboard answers for: those the Data Provider accepts events in (its
/// documented range), so that every counted event falls in a year that can be asked for.
pub const MIN_YEAR: i32 = 1900;
pub const MAX_YEAR: i32 = 2100;

use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use utoipa::OpenApi;

use crate::db::PgPool;
use crate::error::{ApiError, ErrorExamples};

/// What the Dashboard's HTTP handlers read.
#[derive(Clone)]
pub struct ApiState {
    pub db: PgPool,
    pub cache: Arc<api::DashboardCache>,
}

/// `GET /dashboard` and the chart page at `/`.
pub fn router() -> Router<ApiState> {
    crate::routing::both(Router::new(), "/dashboard", get(api::get_dashboard))
        .route("/", get(page::index))
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "roompulse Dashboard",
        description = "Per-hotel bookings, cancellations and net booking count, per month or per day, on the event date or the night of stay. Kept up to date with the Data Provider by a scheduled sync. Try it: open `GET /dashboard`, press *Try it out*, fill in `hotel_id`, `period` and `year`, press *Execute*."
    ),
    paths(api::get_dashboard),
    modifiers(&EXAMPLES),
    tags((name = "dashboard", description = "Booking figures per hotel"))
)]
pub struct ApiDoc;

const EXAMPLES: ErrorExamples = ErrorExamples(example_error);

/// A real error each documented status of each operation answers with.
fn example_error(method: &str, path: &str, status: &str) -> Option<ApiError> {
    Some(match (status, path) {
        ("400", "/dashboard") => {
            api::parse_dashboard_query("hotel_id=2603&period=week&year=2022").err()?
        }
        ("401", _) => crate::auth::unauthorized(method == "post", false),
        ("503", _) => {
            store::DashboardStoreError::Unavailable("timed out waiting for a connection".into())
                .into()
        }
        _ => return None,
    })
}
