//! The continuous sync (`DASHBOARD_SYNC_MODE=follow`): page after page of the change feed with
//! no pause between them, each request held by the Data Provider while there is nothing new
//! (`wait`), so that an event reaches the figures as soon as it commits.
//!
//! Pages are committed exactly as a pass commits them (`sync::follow_feed`: figures and cursor
//! in one transaction, only if the cursor is still the one the batch was fetched from; a batch
//! closes at the first page that is not full, so a new event is committed at once), under the same
//! advisory lock, held for as long as the follower runs: one follower syncs at a time across
//! processes, and the others' schedules find the lock taken until its process dies. A Data
//! Provider that does not answer (restarting, shedding load) is asked again with backoff; a
//! follower that fails otherwise or dies just ends, and the schedule (`schedule.rs`) starts
//! another.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::client::DataProviderClient;
use super::sync::{self, PassOutcome, PassReport, SyncError};
use crate::db::PgPool;

/// How long the Data Provider may hold an empty page: under its 30-second maximum and its
/// default request timeout, long enough that an idle follower asks twice a minute.
pub const WAIT: Duration = Duration::from_secs(25);

/// Follows the feed until `stop` (then `Synced` with what it counted), an error, or at once
/// `Skipped` when another session holds the sync lock.
pub async fn run(
    pool: &PgPool,
    client: &DataProviderClient,
    page_size: i64,
    wait: Duration,
    stop: &CancellationToken,
) -> Result<PassOutcome, SyncError> {
    let Some(mut conn) = sync::lock(pool).await? else {
        return Ok(PassOutcome::Skipped);
    };
    tracing::info!("dashboard sync: following the Data Provider's change feed");
    let mut report = PassReport::default();
    let result = tokio::select! {
        r = sync::follow_feed(&mut conn, client, page_size, Some(wait), &mut report) => r,
        // Whatever the batch had not committed is fetched again by the next follower.
        _ = stop.cancelled() => Ok(()),
    };
    sync::unlock(&mut conn).await;
    let outcome = if result.is_ok() { "synced" } else { "failed" };
    ::metrics::counter!(crate::metrics::SYNC_PASSES, "outcome" => outcome).increment(1);
    result.map(|()| PassOutcome::Synced(report))
}
