//! The Data Provider: stores booking events and serves them. Its database holds the events
//! table (`schema.rs`); producers reach it through the Redis queue (`queue.rs`) or the API.

pub mod api;
pub mod event;
pub mod export;
pub mod feed;
pub mod feed_wait;
pub mod gauges;
pub mod generate;
pub mod load;
pub mod partition_indexes;
pub mod queue;
pub mod redis_pool;
pub mod retention;
pub mod schema;
pub mod store;
pub mod worker;

use axum::routing::get;
use axum::Router;
use utoipa::OpenApi;

use crate::db::PgPool;
use crate::error::{ApiError, ErrorExamples};

/// What the Data Provider's HTTP handlers read.
#[derive(Clone)]
pub struct ApiState {
    pub events_db: PgPool,
    /// `GET /events` listings: on a hot standby when one is configured and keeps up.
    pub event_reads: crate::db::replica::ReadPool,
    /// The change feed's held requests (`wait`).
    pub feed_wait: std::sync::Arc<feed_wait::FeedWait>,
}

/// `POST /events` and `GET /events` (with its change feed).
pub fn router() -> Router<ApiState> {
    crate::routing::both(
        Router::new(),
        "/events",
        get(api::list_events).post(api::create_event),
    )
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "roompulse Data Provider",
        description = "Stores hotel booking events (one row per room-night) and lists them. Events arrive through `POST /events` or, in bulk, through `roompulse load-events` and the Redis queue."
    ),
    paths(api::create_event, api::list_events),
    modifiers(&EXAMPLES),
    tags((name = "events", description = "Booking and cancellation events"), (name = "operations", description = "Liveness, readiness and Prometheus metrics"))
)]
pub struct ApiDoc;

const EXAMPLES: ErrorExamples = ErrorExamples(example_error);

/// A real error each documented status of each operation answers with.
fn example_error(method: &str, path: &str, status: &str) -> Option<ApiError> {
    use event::{raw_from_json, IdRule};
    const EVENT: &[u8] = br#"{"id": 19291943, "hotel_id": 2607, "event_timestamp": "2022-06-24T13:00:56Z", "status": 1, "room_reservation_id": "0013e338-0158-4d5c-8698-aebe00cba360", "night_of_stay": "2022-06-26"}"#;
    let writes = method == "post";
    Some(match (status, path) {
        ("400", "/events") if !writes => api::parse_list_query("hotel_id=2603&limit=0").err()?,
        ("400", "/events") => ApiError::BadRequest {
            field: None,
            message: raw_from_json(b"[]").err()?.to_string(),
        },
        ("401", _) => crate::auth::unauthorized(writes, false),
        ("403", _) => crate::auth::forbidden_hotel(2608),
        ("409", _) => {
            let stored = raw_from_json(EVENT).ok()?.validate_with_id().ok()?;
            ApiError::Conflict {
                stored: Some(serde_json::to_value(&stored).ok()?),
            }
        }
        ("413", _) => ApiError::TooLarge {
            limit: api::BODY_LIMIT,
        },
        ("415", _) => {
            let mut headers = axum::http::HeaderMap::new();
            headers.insert(
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("text/plain"),
            );
            api::json_content_type(&headers).err()?
        }
        ("422", _) => {
            let bad = br#"{"hotel_id": 0, "event_timestamp": "2022-06-24T13:00:56Z", "status": 3, "room_reservation_id": "0013e338-0158-4d5c-8698-aebe00cba360", "night_of_stay": "2022-06-26"}"#;
            raw_from_json(bad)
                .ok()?
                .validate(IdRule::Optional)
                .err()?
                .into()
        }
        ("503", _) => {
            store::StoreError::Unavailable("timed out waiting for a connection".into()).into()
        }
        _ => return None,
    })
}
