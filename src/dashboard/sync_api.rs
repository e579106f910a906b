//! `GET /dashboard/sync`: how far the dashboard has counted, stated by the Dashboard itself, so
//! that another part (`roompulse retention` on the Data Provider) asks it over HTTP instead of
//! reading the Dashboard's tables.

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::store;
use super::ApiState;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};

/// The sync's position in the Data Provider's change feed, and its progress.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncPosition {
    /// The change-feed cursor the sync has counted up to: every event the Data Provider stored
    /// at or before it is in the figures. As the Data Provider handed it out (opaque); `null`
    /// before the first event is counted.
    #[schema(example = "s0000000000a1b2c30000000012345678")]
    pub cursor: Option<String>,
    /// Events counted so far.
    pub events_synced: i64,
    /// The latest `event_timestamp` among them.
    pub last_event_at: Option<DateTime<Utc>>,
    /// When the sync last committed.
    pub updated_at: DateTime<Utc>,
}

/// The 403 for a key limited to some hotels: the position covers every hotel's events.
pub fn needs_every_hotel() -> ApiError {
    ApiError::Forbidden {
        field: None,
        message: "the sync's position covers every hotel's events: it needs a key for all hotels (`roompulse keys create --all-hotels --scope read`)".into(),
    }
}

#[utoipa::path(
    get,
    path = "/dashboard/sync",
    tag = "dashboard",
    security((), ("api_key" = ["read"])),
    responses(
        (status = 200, description = "Where the sync stands. Read from the primary database, never a standby, so that the cursor is never older than what the figures hold", body = SyncPosition),
        (status = 401, description = "The service has API keys (or READ_API_TOKEN) and the request carries no valid one, or a revoked one", body = ErrorBody),
        (status = 403, description = "The key is valid but lacks the `read` scope, or is limited to some hotels", body = ErrorBody),
        (status = 503, description = "The dashboard database is unreachable, or the service is at MAX_CONCURRENT_REQUESTS (then with `Retry-After`)", body = ErrorBody),
    )
)]
pub async fn get_sync(
    State(state): State<ApiState>,
    caller: Caller,
) -> Result<Json<SyncPosition>, ApiError> {
    if caller.hotels().is_some() {
        return Err(needs_every_hotel());
    }
    let mut conn = store::connection(&state.db).await?;
    let s = store::sync_state(&mut conn).await?;
    Ok(Json(SyncPosition {
        cursor: s.cursor,
        events_synced: s.events_synced,
        last_event_at: s.last_event_at,
        updated_at: s.updated_at,
    }))
}
