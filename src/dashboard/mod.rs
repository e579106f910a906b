//! The Dashboard Service: per-hotel daily and monthly booking figures.
//!
//! It learns about events only through the Data Provider's HTTP API (`client`): a follower
//! (`follow`) or a scheduled pass (`schedule`, `sync`) follows the `GET /events?order=stored` change feed and folds each
//! page into daily counters, committing the figures and the feed's cursor in one transaction
//! of its own database (`store`), so every stored event is counted exactly once.
//! `GET /dashboard` (`api`) reads those counters only, and so does the chart page (`page`).
//! `GET /dashboard/sync` (`sync_api`) states the cursor, for those who must know how far the
//! dashboard has counted (`roompulse retention`).

pub mod answers;
pub mod api;
pub mod book;
pub mod busiest;
pub mod client;
pub mod follow;
pub mod forecast;
pub mod forecast_api;
pub mod freshness;
pub mod pace;
pub mod page;
pub mod params;
pub mod schedule;
pub mod schema;
pub mod sign_in;
pub mod store;
pub mod sync;
pub mod sync_api;

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
    /// The primary: the sync's writes and cursor.
    pub db: PgPool,
    /// The figures the API reads: on a hot standby when one is configured and keeps up.
    pub reads: crate::db::replica::ReadPool,
    pub cache: Arc<api::DashboardCache>,
    /// The recent answers of the pace, booking-curve and lead-time endpoints.
    pub pace_cache: Arc<pace::PaceCache>,
    /// The recent answers of the forecast, accuracy and alerts endpoints.
    pub forecast_cache: Arc<forecast_api::ForecastCache>,
    /// The generation of the figures the caches' answers are kept under.
    pub freshness: Arc<freshness::Freshness>,
    /// The hotels' night books the pace and forecast figures are read from.
    pub books: Arc<book::Books>,
}

impl ApiState {
    /// The current night book of `hotel_id`. The generation lets a book found current skip the
    /// version probe, unless reads may go to a standby (which can lag behind what was heard).
    pub async fn book(&self, hotel_id: i32) -> Result<Arc<book::Book>, ApiError> {
        let generation = if self.reads.health().is_none() {
            self.freshness.generation()
        } else {
            None
        };
        Ok(self.books.book(&self.reads, generation, hotel_id).await?)
    }

    /// The figures' generation, for a cache that is `on`; `None`: read the tables.
    fn generation(&self, on: bool) -> Option<u64> {
        if on {
            self.freshness.generation()
        } else {
            None
        }
    }
}

/// `GET /dashboard` and the revenue manager's figures under it.
pub fn router() -> Router<ApiState> {
    use crate::routing::both;
    let router = both(Router::new(), "/dashboard", get(api::get_dashboard));
    let router = both(router, "/dashboard/pace", get(pace::get_pace));
    let router = both(
        router,
        "/dashboard/booking-curve",
        get(pace::get_booking_curve),
    );
    let router = both(router, "/dashboard/lead-time", get(pace::get_lead_time));
    let router = both(
        router,
        "/dashboard/forecast",
        get(forecast_api::get_forecast),
    );
    let router = both(
        router,
        "/dashboard/forecast/accuracy",
        get(forecast_api::get_accuracy),
    );
    let router = both(router, "/dashboard/alerts", get(forecast_api::get_alerts));
    both(router, "/dashboard/sync", get(sync_api::get_sync))
}

/// The chart page at `/` and its sign-in and sign-out. Outside `authorize`: the page checks its
/// caller itself (`Auth::page_caller`, the header or the sign-in cookie, from an `Extension`)
/// and answers its refusals as HTML pages.
pub fn page_router() -> Router<ApiState> {
    use crate::routing::both;
    use axum::routing::post;
    let router = Router::new().route("/", get(page::index));
    let router = both(router, "/sign-in", post(sign_in::sign_in));
    both(router, "/sign-out", post(sign_in::sign_out))
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "roompulse Dashboard",
        description = "Per-hotel bookings, cancellations and net booking count, per month or per day, on the event date or the night of stay; and the revenue manager's figures per night of stay: on the books as of any day, pickup, same time last year (364 days earlier), booking curve and lead time; the demand forecast of each night (expected final with a p10–p90 band), its measured accuracy on the hotel's own history, and alerts for nights whose pace left its usual range. Without `as_of`, the figures are as of the hotel's latest event day. Kept up to date with the Data Provider by a sync that follows its change feed, which states where it stands in that feed (`GET /dashboard/sync`). Try it: open `GET /dashboard`, press *Try it out*, fill in `hotel_id`, `period` and `year`, press *Execute*."
    ),
    paths(
        api::get_dashboard,
        pace::get_pace,
        pace::get_booking_curve,
        pace::get_lead_time,
        forecast_api::get_forecast,
        forecast_api::get_accuracy,
        forecast_api::get_alerts,
        sync_api::get_sync
    ),
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
        ("400", "/dashboard/pace") => {
            let today = chrono::NaiveDate::from_ymd_opt(2023, 6, 30)?;
            pace::parse_pace_query("hotel_id=2603&pickup=1,7,400", today).err()?
        }
        ("400", "/dashboard/booking-curve") => {
            pace::parse_curve_query("hotel_id=2603&night=2023-02-30").err()?
        }
        ("400", "/dashboard/lead-time") => {
            pace::parse_lead_time_query("hotel_id=2603&from=2023-01-01&to=2022-12-31").err()?
        }
        ("400", "/dashboard/forecast") => {
            forecast_api::parse_forecast_ask("hotel_id=2603&as_of=2023-13-01").err()?
        }
        ("400", "/dashboard/forecast/accuracy") => forecast_api::parse_accuracy_query(
            "hotel_id=2603&from=2023-01-01&to=2023-12-31&leads=7,400",
        )
        .err()?,
        ("400", "/dashboard/alerts") => {
            forecast_api::parse_alerts_ask("hotel_id=2603&horizon=500").err()?
        }
        ("401", _) => crate::auth::unauthorized(method == "post", false),
        ("403", "/dashboard/sync") => sync_api::needs_every_hotel(),
        ("403", _) => crate::auth::forbidden_hotel(2608),
        ("503", _) => {
            store::DashboardStoreError::Unavailable("timed out waiting for a connection".into())
                .into()
        }
        _ => return None,
    })
}
