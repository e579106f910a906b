//! Queue workers: take a batch from Redis, store it in one statement, then acknowledge it.
//! See `queue.rs` for the protocol that makes a crash at any point lose and double nothing.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use backon::{
    BackoffBuilder, ExponentialBackoff, ExponentialBuilder, Retryable, RetryableWithContext,
};
use chrono::Utc;
use tokio_util::sync::CancellationToken;

use super::event::{raw_from_json, Event};
use super::queue::{DeadLetter, Queue};
use super::store;
use crate::db::PgPool;

/// Messages a process's workers take before one of them refreshes the table's statistics once
/// the queue is idle: a bulk load, not the trickle of a live feed (autovacuum's business).
pub const ANALYZE_AFTER: usize = 10_000;

#[derive(Debug, Clone)]
pub struct WorkerSettings {
    pub batch_size: usize,
    pub lease: Duration,
    /// How long an idle worker blocks on Redis before looking around (shutdown, expired leases).
    pub idle_wait: Duration,
    /// The events database for the COPY fast path; `None` stores every batch with
    /// `store::insert_batch`.
    pub copy_url: Option<String>,
    /// Messages the workers sharing these settings (a process's) took since one of them last
    /// refreshed the table's statistics.
    pub since_analyze: Arc<AtomicUsize>,
}

impl WorkerSettings {
    pub fn from_config(cfg: &crate::config::Config) -> Self {
        Self {
            batch_size: cfg.batch.worker_batch_size as usize,
            lease: Duration::from_secs(cfg.batch.worker_lease_secs),
            idle_wait: Duration::from_secs(1),
            copy_url: Some(cfg.events_db.data_provider_database_url.clone()),
            since_analyze: Arc::default(),
        }
    }
}

pub fn new_worker_id() -> String {
    let rand = uuid::Uuid::new_v4().simple().to_string();
    format!("{}-{}", std::process::id(), &rand[..8])
}

/// The longest wait between two tries against a service that is down.
const RETRY_CAP: Duration = Duration::from_millis(6400);

/// Capped exponential backoff for retrying against a service that is down: 200 ms … 6.4 s, for
/// as long as it stays down (shutdown ends the waiting). One per worker task, shared by its
/// retries and started afresh after a success, so that a flapping service is not hammered.
fn backoff() -> ExponentialBackoff {
    ExponentialBuilder::new()
        .with_min_delay(Duration::from_millis(200))
        .with_max_delay(RETRY_CAP)
        .without_max_times()
        .build()
}

/// Runs one worker until `shutdown`; a batch in flight is either stored and acknowledged or
/// handed back to the queue before this returns.
pub async fn run(queue: Queue, db: PgPool, settings: WorkerSettings, shutdown: CancellationToken) {
    let id = new_worker_id();
    tracing::info!(worker = %id, batch_size = settings.batch_size, "worker started");
    let heartbeat_stop = CancellationToken::new();
    let heartbeat = tokio::spawn(heartbeat(
        queue.clone(),
        id.clone(),
        settings.lease,
        heartbeat_stop.clone(),
    ));
    let recover_every = settings.lease / 2;
    let mut next_recovery = tokio::time::Instant::now();
    let mut backoff = backoff();
    let mut copy = settings.copy_url.as_deref().map(store::CopyConnection::new);

    while !shutdown.is_cancelled() {
        if tokio::time::Instant::now() >= next_recovery {
            match queue.recover_expired().await {
                Ok(_) => next_recovery = tokio::time::Instant::now() + recover_every,
                Err(e) => {
                    tracing::warn!(worker = %id, error = %e, "could not check for abandoned batches")
                }
            }
        }
        let claimed = tokio::select! {
            _ = shutdown.cancelled() => break,
            r = queue.claim(&id, settings.batch_size, settings.lease, settings.idle_wait) => r,
        };
        let batch = match claimed {
            Ok(batch) => {
                backoff = self::backoff();
                batch
            }
            Err(e) => {
                let wait = backoff.next().unwrap_or(RETRY_CAP);
                tracing::warn!(worker = %id, error = %e, retry_in = ?wait, "cannot take a batch");
                sleep_or_shutdown(shutdown.clone())(wait).await;
                continue;
            }
        };
        if batch.is_empty() {
            // The queue is idle: a load has ended. After a large one, the planner needs the
            // table's new shape (`store::analyze`).
            if settings.since_analyze.load(Ordering::Relaxed) >= ANALYZE_AFTER {
                let taken = settings.since_analyze.swap(0, Ordering::Relaxed);
                if let Err(e) = store::analyze(&db).await {
                    settings.since_analyze.fetch_add(taken, Ordering::Relaxed);
                    tracing::warn!(worker = %id, error = %e, "could not refresh the events table's statistics");
                }
            }
            continue;
        }
        settings
            .since_analyze
            .fetch_add(batch.len(), Ordering::Relaxed);
        if !process_batch(&queue, &db, copy.as_mut(), &id, &batch, &shutdown).await {
            break;
        }
    }

    heartbeat_stop.cancel();
    let _ = heartbeat.await;
    // Whatever is still ours (a batch we gave up on, or one that landed while shutdown
    // interrupted a claim) goes back to the head of the queue.
    match queue.hand_back(&id).await {
        Ok(0) => {}
        Ok(n) => {
            tracing::info!(worker = %id, messages = n, "handed the batch in flight back to the queue")
        }
        Err(e) => {
            tracing::warn!(worker = %id, error = %e, "could not hand the batch back; it returns to the queue when the lease runs out")
        }
    }
    tracing::info!(worker = %id, "worker stopped");
}

async fn heartbeat(queue: Queue, id: String, lease: Duration, stop: CancellationToken) {
    let every = lease / 3;
    loop {
        if let Err(e) = queue.renew(&id, lease).await {
            tracing::warn!(worker = %id, error = %e, "lease renewal failed");
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

/// A sleep that `shutdown` cuts short (backon's sleeper for the retries below).
fn sleep_or_shutdown(
    shutdown: CancellationToken,
) -> impl Fn(Duration) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    move |wait| {
        let shutdown = shutdown.clone();
        Box::pin(async move {
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        })
    }
}

/// Stores one claimed batch and acknowledges it. Returns false when shutdown came while the
/// batch could not be stored (it stays in our processing list for `run` to hand back).
pub async fn process_batch(
    queue: &Queue,
    db: &PgPool,
    copy: Option<&mut store::CopyConnection>,
    worker: &str,
    batch: &[Vec<u8>],
    shutdown: &CancellationToken,
) -> bool {
    let started = std::time::Instant::now();
    let mut events = Vec::with_capacity(batch.len());
    let mut origin = Vec::with_capacity(batch.len());
    let mut dead = Vec::new();
    let dead_letter = |message: &[u8], reason: String| DeadLetter {
        reason,
        message: String::from_utf8_lossy(message).into_owned(),
        worker: worker.to_string(),
        failed_at: crate::data_provider::event::format_timestamp(&Utc::now()),
    };
    for (i, message) in batch.iter().enumerate() {
        match parse_message(message) {
            Ok(event) => {
                events.push(event);
                origin.push(i);
            }
            Err(reason) => dead.push(dead_letter(message, reason)),
        }
    }
    let invalid = dead.len();

    let store_started = std::time::Instant::now();
    let Some((stored, rejected)) = store_with_retry(db, copy, &events, worker, shutdown).await
    else {
        return false;
    };
    let store_time = store_started.elapsed();
    let conflict = rejected
        .iter()
        .filter(|(_, reason)| reason.starts_with(CONFLICT))
        .count();
    for (pos, reason) in rejected {
        dead.push(dead_letter(&batch[origin[pos]], reason));
    }

    let acked = (|| queue.ack(worker, &dead))
        .retry(backoff())
        .when(|_| !shutdown.is_cancelled())
        .notify(
            |e, wait| tracing::warn!(worker, error = %e, retry_in = ?wait, "acknowledge failed"),
        )
        .sleep(sleep_or_shutdown(shutdown.clone()))
        .await;
    match acked {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!(worker, "batch was requeued by another worker before we acknowledged it; it will be stored once all the same");
        }
        // Only shutdown stops the retries. Stored but not acknowledged: after the lease it is
        // redelivered and dropped as duplicates.
        Err(_) => return false,
    }
    // Valid events neither added now nor refused were stored already: a redelivery or a file
    // loaded again.
    let duplicates = events.len().saturating_sub(dead.len() - invalid + stored);
    tracing::debug!(
        worker,
        messages = batch.len(),
        stored,
        duplicates,
        dead = dead.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "batch done"
    );
    batch_done(&BatchDone {
        messages: batch.len(),
        stored,
        duplicates,
        invalid,
        conflict,
        refused: dead.len() - invalid - conflict,
        store_time,
    });
    true
}

/// How a dead letter's reason starts when the id is taken by a different event; the metrics
/// tell these apart from events the database refused.
const CONFLICT: &str = "conflict:";

/// A queue message as an event, or why it can never be one.
pub fn parse_message(message: &[u8]) -> Result<Event, String> {
    let raw = raw_from_json(message).map_err(|e| e.to_string())?;
    raw.validate_with_id()
        .map_err(|e| format!("invalid event: {e}"))
}

/// One try of the COPY fast path in the shape backon's retry with a context takes: the
/// connection goes in and comes back out, since each try needs it mutably.
async fn copy_attempt<'a>(
    copy: &'a mut store::CopyConnection,
    events: &[Event],
) -> (
    &'a mut store::CopyConnection,
    Result<bool, store::StoreError>,
) {
    let copied = copy.copy_batch(events).await;
    (copy, copied)
}

/// Stores `events`, retrying while the database is unreachable. Returns the number of rows added
/// and the positions of events that can never be stored, with the reason; `None` when shutdown
/// came first.
async fn store_with_retry(
    db: &PgPool,
    copy: Option<&mut store::CopyConnection>,
    events: &[Event],
    worker: &str,
    shutdown: &CancellationToken,
) -> Option<(usize, Vec<(usize, String)>)> {
    // Retries an outage (a transient error) until shutdown; anything else is the caller's.
    let mut backoff = backoff();
    let outage = |e: &store::StoreError| e.is_transient() && !shutdown.is_cancelled();
    let log_retry = |e: &store::StoreError, wait: Duration| tracing::warn!(worker, error = %e, retry_in = ?wait, "storing a batch failed; retrying");
    // Fast path: a batch of new events (the normal case) goes in with one COPY. A batch with an
    // id already stored, and any error that is not an outage, take the careful path below.
    if let Some(copy) = copy {
        let (_, copied) = (|copy| copy_attempt(copy, events))
            .retry(&mut backoff)
            // backon asserts at run time that the sleeper is set before the context.
            .sleep(sleep_or_shutdown(shutdown.clone()))
            .context(copy)
            .when(outage)
            .notify(log_retry)
            .await;
        match copied {
            Ok(true) => return Some((events.len(), Vec::new())),
            Ok(false) => {}
            Err(e) if e.is_transient() => return None,
            Err(e) => {
                tracing::debug!(worker, error = %e, "COPY refused the batch; inserting it row-safe")
            }
        }
    }
    let mut rejected = Vec::new();
    let mut stored = 0;
    // Ranges still to store; a range the database refuses for a reason other than an outage
    // is split until the refused event is alone, so one bad event cannot block the queue.
    let mut pending = vec![(0usize, events.len())];
    while let Some((start, end)) = pending.pop() {
        if start == end {
            continue;
        }
        let result = (|| async {
            let mut conn = store::connection(db).await?;
            store::insert_batch(&mut conn, &events[start..end]).await
        })
        .retry(&mut backoff)
        .when(outage)
        .notify(log_retry)
        .sleep(sleep_or_shutdown(shutdown.clone()))
        .await;
        match result {
            Ok(inserted) => {
                backoff = self::backoff();
                stored += inserted.rows;
                for pos in inserted.conflicts {
                    let id = events[start + pos].id;
                    rejected.push((
                        start + pos,
                        format!("{CONFLICT} id {id} is already stored with different content"),
                    ));
                }
            }
            // Only shutdown stops the retries of an outage.
            Err(e) if e.is_transient() => return None,
            Err(e) if end - start == 1 => {
                rejected.push((start, format!("refused by the database: {e}")));
            }
            Err(e) => {
                tracing::warn!(worker, error = %e, events = end - start, "database refused a batch; splitting it to find the event it refuses");
                let mid = start + (end - start) / 2;
                pending.push((mid, end));
                pending.push((start, mid));
            }
        }
    }
    Some((stored, rejected))
}

/// What a worker batch came to, recorded once it is acknowledged.
#[derive(Debug, Default, Clone, Copy)]
struct BatchDone {
    messages: usize,
    /// Rows the batch added to the events table.
    stored: usize,
    /// Valid events whose id was already stored with the same content.
    duplicates: usize,
    invalid: usize,
    conflict: usize,
    refused: usize,
    store_time: Duration,
}

fn batch_done(b: &BatchDone) {
    ::metrics::counter!(crate::metrics::EVENTS_STORED).increment(b.stored as u64);
    ::metrics::counter!(crate::metrics::EVENTS_DUPLICATES).increment(b.duplicates as u64);
    for (reason, n) in [
        ("invalid", b.invalid),
        ("conflict", b.conflict),
        ("refused", b.refused),
    ] {
        if n > 0 {
            ::metrics::counter!(crate::metrics::DEAD_LETTERS, "reason" => reason)
                .increment(n as u64);
        }
    }
    ::metrics::histogram!(crate::metrics::BATCH_SIZE).record(b.messages as f64);
    ::metrics::histogram!(crate::metrics::STORE_SECONDS).record(b.store_time.as_secs_f64());
}
