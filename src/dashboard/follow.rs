//! The continuous sync (`DASHBOARD_SYNC_MODE=follow`): page after page of the change feed with
//! no pause between them, each request held by the Data Provider while there is nothing new
//! (`wait`), so that an event reaches the figures as soon as it commits.
//!
//! Each page is committed exactly as a pass commits it (`sync::step`: figures and cursor in one
//! transaction, only if the cursor is still the one the page was fetched with), under the same
//! advisory lock, held for as long as the follower runs: one follower syncs at a time across
//! processes, and the others' schedules find the lock taken until its process dies. A Data
//! Provider that does not answer (restarting, shedding load) is asked again with backoff; a
//! follower that fails otherwise or dies just ends, and the schedule (`schedule.rs`) starts
//! another.

use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::client::DataProviderClient;
use super::sync::{self, PassOutcome, PassReport, SyncError};
use crate::db::PgPool;

/// How long the Data Provider may hold an empty page: under its 30-second maximum and its
/// default request timeout, long enough that an idle follower asks twice a minute.
pub const WAIT: Duration = Duration::from_secs(25);

/// How long to pause after an empty page that came back well before the wait was up: a Data
/// Provider that does not hold pages (an older version) or is shutting down would otherwise
/// be asked again at once, in a tight loop.
const EARLY_EMPTY_PAUSE: Duration = Duration::from_secs(1);

/// The first and the longest pause before asking a Data Provider that did not answer again.
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(5);

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
    let mut retry = RETRY_FIRST;
    let result = loop {
        let asked = Instant::now();
        let step = tokio::select! {
            r = sync::step(&mut conn, client, page_size, Some(wait), &mut report) => r,
            // Whatever the page had not committed is fetched again by the next follower.
            _ = stop.cancelled() => break Ok(()),
        };
        let events = match step {
            Ok(events) => {
                retry = RETRY_FIRST;
                events
            }
            // The Data Provider restarting, or shedding load: keep the lock and ask again soon,
            // rather than end and leave the next start to the schedule's backing off.
            Err(SyncError::Client(e)) if e.is_transient() => {
                tracing::warn!(error = %e, retry_in_ms = retry.as_millis() as u64, "dashboard sync: the Data Provider did not answer the follower; asking again");
                tokio::select! {
                    _ = tokio::time::sleep(retry) => {}
                    _ = stop.cancelled() => break Ok(()),
                }
                retry = (retry * 2).min(RETRY_MAX);
                continue;
            }
            Err(e) => break Err(e),
        };
        ::metrics::counter!(crate::metrics::SYNC_EVENTS).increment(events as u64);
        if events > 0 {
            tracing::debug!(
                events,
                events_synced = report.events_synced,
                "dashboard sync: counted a page"
            );
        } else if asked.elapsed() < wait / 2 {
            tokio::select! {
                _ = tokio::time::sleep(EARLY_EMPTY_PAUSE) => {}
                _ = stop.cancelled() => break Ok(()),
            }
        }
    };
    sync::unlock(&mut conn).await;
    let outcome = if result.is_ok() { "synced" } else { "failed" };
    ::metrics::counter!(crate::metrics::SYNC_PASSES, "outcome" => outcome).increment(1);
    result.map(|()| PassOutcome::Synced(report))
}
