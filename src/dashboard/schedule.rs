//! Runs the sync on `DASHBOARD_SYNC_SCHEDULE` inside `serve`: one pass at a time in a process
//! (the advisory lock takes care of other processes), fewer tries while the Data Provider or
//! the database is failing, and a log line per pass. In `follow` mode each tick instead starts
//! a follower (`follow.rs`) unless one is running: the schedule is the safety net that
//! restarts a follower that failed or died, with the same backing off.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio_cron_scheduler::{Job, JobScheduler};
use tokio_util::sync::CancellationToken;

use super::client::DataProviderClient;
use super::follow;
use super::sync::{self, PassOutcome, SyncError};
use crate::config::SyncMode;
use crate::db::PgPool;

#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("bad DASHBOARD_SYNC_SCHEDULE {expr:?}: {reason}")]
    BadSchedule { expr: String, reason: String },
    #[error("cannot start the dashboard sync's scheduler: {0}")]
    Scheduler(String),
}

/// The most scheduled runs skipped after consecutive failures: a minute of backing off at
/// the default schedule of every 5 seconds.
pub const MAX_SKIPPED_RUNS: u32 = 12;

/// Runs skipped after `failures` consecutive failed passes: none after the first (it may have
/// been a blip), then 1, 3, 7, … up to `MAX_SKIPPED_RUNS`.
pub fn runs_to_skip(failures: u32) -> u32 {
    if failures <= 1 {
        return 0;
    }
    let doubled = 1u64 << (failures - 1).min(31);
    (doubled - 1).min(u64::from(MAX_SKIPPED_RUNS)) as u32
}

/// Consecutive failed passes and the scheduled runs still to skip. Backing off here counts
/// the schedule's runs instead of sleeping, so it stays with the schedule rather than with the
/// sleeping retries of the loader and the workers.
#[derive(Debug, Default)]
struct Failing {
    failures: u32,
    skip: u32,
}

/// The scheduled job's state: held while a pass runs, so that two never overlap here.
struct SyncJob {
    pool: PgPool,
    client: DataProviderClient,
    page_size: i64,
    backoff: Mutex<Failing>,
    shutdown: CancellationToken,
    mode: SyncMode,
    /// `follow` mode: the follower started last, running or ended.
    follower: Mutex<Option<tokio::task::JoinHandle<Result<PassOutcome, SyncError>>>>,
}

impl SyncJob {
    async fn tick(self: &Arc<Self>) {
        let Ok(mut backoff) = self.backoff.try_lock() else {
            tracing::debug!(
                "dashboard sync: the previous pass is still running; not starting another"
            );
            return;
        };
        if self.mode == SyncMode::Follow {
            return self.tick_follow(&mut backoff).await;
        }
        if backoff.skip > 0 {
            backoff.skip -= 1;
            return;
        }
        let result = tokio::select! {
            r = sync::run_pass(&self.pool, &self.client, self.page_size) => r,
            // Whatever the pass had not committed is fetched again by the next one.
            _ = self.shutdown.cancelled() => return,
        };
        record(&mut backoff, result);
    }

    /// Starts a follower unless one is running, after taking in how the last one ended.
    async fn tick_follow(self: &Arc<Self>, backoff: &mut Failing) {
        let mut follower = self.follower.lock().await;
        if let Some(running) = follower.take() {
            if !running.is_finished() {
                *follower = Some(running);
                return;
            }
            let result = match running.await {
                Ok(result) => result,
                Err(e) => {
                    tracing::warn!(error = %e, "the dashboard sync's follower died");
                    ::metrics::counter!(crate::metrics::SYNC_PASSES, "outcome" => "failed")
                        .increment(1);
                    backoff.failures += 1;
                    backoff.skip = runs_to_skip(backoff.failures);
                    return;
                }
            };
            record(backoff, result);
        }
        if backoff.skip > 0 {
            backoff.skip -= 1;
            return;
        }
        if self.shutdown.is_cancelled() {
            return;
        }
        let job = self.clone();
        *follower = Some(tokio::spawn(async move {
            follow::run(
                &job.pool,
                &job.client,
                job.page_size,
                follow::WAIT,
                &job.shutdown,
            )
            .await
        }));
    }
}

/// Takes in how a pass (or a follower) ended: logs it, and backs off after failures.
fn record(backoff: &mut Failing, result: Result<PassOutcome, SyncError>) {
    match result {
        Ok(outcome) => {
            if backoff.failures > 0 {
                tracing::info!(
                    failures = backoff.failures,
                    "dashboard sync recovered: {}",
                    outcome.summary()
                );
            }
            *backoff = Failing::default();
            match outcome {
                PassOutcome::Skipped => {
                    tracing::debug!("dashboard sync pass: {}", outcome.summary())
                }
                PassOutcome::Synced(ref r) => tracing::debug!(
                    pages = r.pages,
                    events = r.events,
                    events_synced = r.events_synced,
                    "dashboard sync pass: {}",
                    outcome.summary()
                ),
            }
        }
        Err(e) => {
            backoff.failures += 1;
            backoff.skip = runs_to_skip(backoff.failures);
            tracing::warn!(
                error = %e,
                consecutive_failures = backoff.failures,
                skipping_runs = backoff.skip,
                "dashboard sync pass failed; the figures stay as they were and the next pass carries on from the last page committed"
            );
        }
    }
}

/// The running schedule; `stop` ends it.
pub struct SyncSchedule {
    scheduler: JobScheduler,
    job: Arc<SyncJob>,
}

/// Starts running a pass on `expr` (cron with seconds).
pub async fn start(
    pool: PgPool,
    client: DataProviderClient,
    expr: &str,
    page_size: i64,
    mode: SyncMode,
) -> Result<SyncSchedule, ScheduleError> {
    let bad = |reason: String| ScheduleError::BadSchedule {
        expr: expr.to_string(),
        reason,
    };
    crate::config::cron_with_seconds(expr).map_err(bad)?;
    let job = Arc::new(SyncJob {
        pool,
        client,
        page_size,
        backoff: Mutex::new(Failing::default()),
        shutdown: CancellationToken::new(),
        mode,
        follower: Mutex::new(None),
    });
    let cron_job = Job::new_async(expr, {
        let job = job.clone();
        move |_id, _scheduler| {
            let job = job.clone();
            Box::pin(async move { job.tick().await })
        }
    })
    .map_err(|e| bad(e.to_string()))?;
    let scheduler = JobScheduler::new()
        .await
        .map_err(|e| ScheduleError::Scheduler(e.to_string()))?;
    scheduler
        .add(cron_job)
        .await
        .map_err(|e| ScheduleError::Scheduler(e.to_string()))?;
    scheduler
        .start()
        .await
        .map_err(|e| ScheduleError::Scheduler(e.to_string()))?;
    tracing::info!(schedule = expr, mode = ?mode, "dashboard sync scheduled");
    if mode == SyncMode::Follow {
        // Now rather than at the first tick.
        job.tick().await;
    }
    Ok(SyncSchedule { scheduler, job })
}

impl SyncSchedule {
    /// Stops scheduling passes and ends the one running, if any.
    pub async fn stop(mut self) {
        self.job.shutdown.cancel();
        if let Err(e) = self.scheduler.shutdown().await {
            tracing::warn!(error = %e, "the dashboard sync's scheduler did not shut down cleanly");
        }
        // The running pass returns as soon as it sees the cancellation.
        let _ = tokio::time::timeout(Duration::from_secs(5), self.job.backoff.lock()).await;
        if let Some(follower) = self.job.follower.lock().await.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), follower).await;
        }
    }

    /// Ends the running follower as a crash would (its page in flight is not committed): the
    /// next tick starts another. For fault drills and tests.
    pub async fn kill_follower(&self) {
        if let Some(follower) = self.job.follower.lock().await.as_ref() {
            follower.abort();
        }
    }

    /// Whether a follower is running.
    pub async fn following(&self) -> bool {
        self.job
            .follower
            .lock()
            .await
            .as_ref()
            .is_some_and(|f| !f.is_finished())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backing_off_grows_and_is_capped() {
        let skips: Vec<u32> = (0..8).map(runs_to_skip).collect();
        assert_eq!(skips, [0, 0, 1, 3, 7, 12, 12, 12]);
        assert_eq!(runs_to_skip(u32::MAX), MAX_SKIPPED_RUNS);
    }

    #[test]
    fn schedules_are_checked_at_start() {
        assert!(crate::config::cron_with_seconds("*/5 * * * * *").is_ok());
        assert!(crate::config::cron_with_seconds("0 */10 * * * *").is_ok());
        let e = crate::config::cron_with_seconds("*/5 * * * *").unwrap_err();
        assert!(e.contains("seconds"), "{e}");
        assert!(crate::config::cron_with_seconds("every minute").is_err());
        assert!(crate::config::cron_with_seconds("").is_err());
    }
}
