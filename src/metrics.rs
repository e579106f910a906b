//! `GET /metrics`: Prometheus text exposition, every name prefixed `roompulse_`.
//!
//! Two kinds of figures:
//! - Counters and histograms of what this process did (events stored by its workers, dead
//!   letters, sync passes, HTTP requests). They go through the `metrics` facade into one
//!   process-wide recorder, installed once (`install`).
//! - Gauges of shared state (queue depths, sync lag, the change feed's horizon), read from Redis
//!   and PostgreSQL through the scraping app's own `AppState` (`Gauges`: one reading at a time,
//!   at most one per `METRICS_REFRESH_MS`, however many scrapers). They are written straight
//!   into the response rather than set on the global recorder: two apps in one process (the
//!   tests) would otherwise overwrite each other's queue depth between setting and rendering.
//!
//! Why `metrics` + `metrics-exporter-prometheus` rather than the `prometheus` crate: the call
//! sites stay one macro each with no registry to pass around, and the exporter renders on
//! demand, so the endpoint is an ordinary route on the API's port.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::dashboard::sync::{PassOutcome, SyncError};
use crate::data_provider::schema::events;
use crate::data_provider::store::StoredCursor;

pub const EVENTS_STORED: &str = "roompulse_events_stored_total";
pub const EVENTS_DUPLICATES: &str = "roompulse_events_duplicates_total";
pub const DEAD_LETTERS: &str = "roompulse_dead_letters_total";
pub const BATCH_SIZE: &str = "roompulse_worker_batch_size";
pub const STORE_SECONDS: &str = "roompulse_worker_store_seconds";
pub const SYNC_PASSES: &str = "roompulse_sync_passes_total";
pub const SYNC_EVENTS: &str = "roompulse_sync_events_total";
pub const HTTP_REQUESTS: &str = "roompulse_http_requests_total";
pub const HTTP_DURATION: &str = "roompulse_http_request_duration_seconds";

/// A scrape must answer even when a dependency hangs: each read gets this long.
const READ_TIMEOUT: Duration = Duration::from_secs(2);

/// Without upkeep, histogram samples pile up in memory until the next scrape; a process nobody
/// scrapes would grow without bound.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide recorder the first time; later calls (several apps in one test
/// process) get the same handle. `None` when another recorder was installed first: the
/// scrape-time gauges are still served.
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| match build() {
            Ok(handle) => {
                describe();
                let upkeep = handle.clone();
                let spawned = std::thread::Builder::new()
                    .name("metrics-upkeep".into())
                    .spawn(move || loop {
                        std::thread::sleep(UPKEEP_EVERY);
                        upkeep.run_upkeep();
                    });
                if let Err(e) = spawned {
                    tracing::warn!(error = %e, "no metrics upkeep thread; histograms are compacted at each scrape only");
                }
                Some(handle)
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot install the metrics recorder; /metrics serves the queue and sync gauges only");
                None
            }
        })
        .as_ref()
}

fn build() -> Result<PrometheusHandle, metrics_exporter_prometheus::BuildError> {
    // Without buckets the exporter renders histograms as summaries, which cannot be
    // aggregated across processes.
    let seconds = [
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    ];
    let sizes = [
        1.0, 10.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0,
    ];
    PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(BATCH_SIZE.into()), &sizes)?
        .set_buckets_for_metric(Matcher::Full(STORE_SECONDS.into()), &seconds)?
        .set_buckets_for_metric(Matcher::Full(HTTP_DURATION.into()), &seconds)?
        .install_recorder()
}

fn describe() {
    use ::metrics::{describe_counter, describe_histogram, Unit};
    describe_counter!(
        EVENTS_STORED,
        Unit::Count,
        "Events this process added to the events table (queue workers and POST /events); an event already stored is not counted again."
    );
    describe_counter!(
        EVENTS_DUPLICATES,
        Unit::Count,
        "Events this process received that were already stored with the same content (a file loaded again, a redelivered batch, a repeated POST), and dropped."
    );
    describe_counter!(
        DEAD_LETTERS,
        Unit::Count,
        "Queue messages this process's workers moved to the dead-letter list, by reason."
    );
    describe_histogram!(BATCH_SIZE, Unit::Count, "Messages per worker batch.");
    describe_histogram!(
        STORE_SECONDS,
        Unit::Seconds,
        "Time to store one worker batch in PostgreSQL, retries included."
    );
    describe_counter!(
        SYNC_PASSES,
        Unit::Count,
        "Dashboard sync passes run by this process, by outcome."
    );
    describe_counter!(
        SYNC_EVENTS,
        Unit::Count,
        "Events counted into the dashboard by this process's sync passes."
    );
    describe_counter!(HTTP_REQUESTS, Unit::Count, "HTTP requests answered.");
    describe_histogram!(HTTP_DURATION, Unit::Seconds, "HTTP request latency.");
    // Known label values start at 0, so that rate() sees the first increment and dashboards
    // show the series before anything happened.
    ::metrics::counter!(EVENTS_STORED).increment(0);
    ::metrics::counter!(EVENTS_DUPLICATES).increment(0);
    ::metrics::counter!(SYNC_EVENTS).increment(0);
    for reason in ["invalid", "conflict", "refused"] {
        ::metrics::counter!(DEAD_LETTERS, "reason" => reason).increment(0);
    }
    for outcome in ["synced", "skipped", "failed"] {
        ::metrics::counter!(SYNC_PASSES, "outcome" => outcome).increment(0);
    }
}

/// What a worker batch came to, recorded once it is acknowledged.
#[derive(Debug, Default, Clone, Copy)]
pub struct BatchDone {
    pub messages: usize,
    /// Rows the batch added to the events table.
    pub stored: usize,
    /// Valid events whose id was already stored with the same content.
    pub duplicates: usize,
    pub invalid: usize,
    pub conflict: usize,
    pub refused: usize,
    pub store_time: Duration,
}

pub fn batch_done(b: &BatchDone) {
    ::metrics::counter!(EVENTS_STORED).increment(b.stored as u64);
    ::metrics::counter!(EVENTS_DUPLICATES).increment(b.duplicates as u64);
    for (reason, n) in [
        ("invalid", b.invalid),
        ("conflict", b.conflict),
        ("refused", b.refused),
    ] {
        if n > 0 {
            ::metrics::counter!(DEAD_LETTERS, "reason" => reason).increment(n as u64);
        }
    }
    ::metrics::histogram!(BATCH_SIZE).record(b.messages as f64);
    ::metrics::histogram!(STORE_SECONDS).record(b.store_time.as_secs_f64());
}

/// `POST /events` stored its event (`true`) or found it stored already.
pub fn event_posted(created: bool) {
    let name = if created {
        EVENTS_STORED
    } else {
        EVENTS_DUPLICATES
    };
    ::metrics::counter!(name).increment(1);
}

pub fn sync_pass(result: &Result<PassOutcome, SyncError>) {
    let outcome = match result {
        Ok(PassOutcome::Synced(report)) => {
            ::metrics::counter!(SYNC_EVENTS).increment(report.events);
            "synced"
        }
        Ok(PassOutcome::Skipped) => "skipped",
        Err(_) => "failed",
    };
    ::metrics::counter!(SYNC_PASSES, "outcome" => outcome).increment(1);
}

/// Middleware: counts and times every request by its route template (`MatchedPath`), so that
/// `/events?cursor=…` or a scanner's random paths cannot mint new series.
pub async fn track_http(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = method_label(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    let elapsed = started.elapsed().as_secs_f64();
    let status = response.status().as_u16().to_string();
    ::metrics::counter!(HTTP_REQUESTS, "route" => route.clone(), "method" => method, "status" => status)
        .increment(1);
    ::metrics::histogram!(HTTP_DURATION, "route" => route, "method" => method).record(elapsed);
    response
}

/// Extension methods are free-form text: folding them keeps the label bounded.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Prometheus metrics: the queue, the workers, the dashboard sync and the HTTP API.
///
/// Counters and histograms are this process's. The queue gauges, the sync lag and the feed
/// horizon are read from Redis and both databases at most once per `METRICS_REFRESH_MS` by one
/// scrape at a time; other scrapes answer the latest reading (`roompulse_metrics_age_seconds`
/// says how old it is). `roompulse_up{dependency}` is 0 for a dependency that did not answer,
/// whose gauges are then left out: the endpoint itself always answers.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses(
    (status = 200, description = "Prometheus text exposition format 0.0.4", content_type = "text/plain; version=0.0.4", body = String),
))]
pub async fn scrape(State(state): State<AppState>) -> Response {
    let asked = Instant::now();
    let reading = state.gauges.read(&state).await;
    let mut body = install().map(|h| h.render()).unwrap_or_default();
    if !body.is_empty() && !body.ends_with('\n') {
        body.push('\n');
    }
    reading.render(&mut body, asked);
    let _ = writeln!(
        body,
        "# HELP roompulse_metrics_refreshes_total Readings of the queue, sync and feed gauges this process took.\n# TYPE roompulse_metrics_refreshes_total counter\nroompulse_metrics_refreshes_total {}",
        state.gauges.refreshes()
    );
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

fn gauge(body: &mut String, name: &str, help: &str, value: impl std::fmt::Display) {
    let _ = writeln!(
        body,
        "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
    );
}

/// The gauges that cost queries, shared by every scrape and readiness probe of one app.
///
/// Reading them is single-flight: the lock is held while one reading is taken, and whoever
/// waited on it takes that reading if it began within `interval` of their own request. So
/// however many scrapers arrive at once, Redis and the databases see one reading at a time, at
/// most one per interval (with a zero interval, one per wave of concurrent scrapes).
pub struct Gauges {
    interval: Duration,
    horizon_warn: Duration,
    latest: tokio::sync::Mutex<Option<Arc<Reading>>>,
    refreshes: AtomicU64,
    last_horizon_warning: std::sync::Mutex<Option<Instant>>,
}

impl Gauges {
    /// `interval`: how old a reading may be before the next request takes a new one.
    /// `horizon_warn`: how long a transaction may hold the change feed back before `/ready`
    /// names it and the log warns (once a minute).
    pub fn new(interval: Duration, horizon_warn: Duration) -> Self {
        Self {
            interval,
            horizon_warn,
            latest: tokio::sync::Mutex::new(None),
            refreshes: AtomicU64::new(0),
            last_horizon_warning: std::sync::Mutex::new(None),
        }
    }

    /// Readings taken so far.
    pub fn refreshes(&self) -> u64 {
        // Spelled out: diesel's RunQueryDsl::load is in scope too.
        AtomicU64::load(&self.refreshes, Ordering::Relaxed)
    }

    /// A reading that began no earlier than `interval` before this call; taken now if need be.
    pub async fn read(&self, state: &AppState) -> Arc<Reading> {
        let asked = Instant::now();
        let mut latest = self.latest.lock().await;
        if let Some(reading) = latest.as_ref() {
            if reading.taken + self.interval >= asked {
                return reading.clone();
            }
        }
        let reading = Arc::new(Reading::take(state).await);
        self.refreshes.fetch_add(1, Ordering::Relaxed);
        self.warn_about_horizon(&reading);
        *latest = Some(reading.clone());
        reading
    }

    /// The transaction holding the change feed back, when it has done so for longer than
    /// `FEED_HORIZON_WARN_SECS`.
    pub fn feed_blocker<'a>(&self, reading: &'a Reading) -> Option<&'a FeedBlocker> {
        match &reading.horizon {
            Ok(Some(b)) if b.age_seconds >= self.horizon_warn.as_secs_f64() => Some(b),
            _ => None,
        }
    }

    fn warn_about_horizon(&self, reading: &Reading) {
        let Some(b) = self.feed_blocker(reading) else {
            return;
        };
        let Ok(mut last) = self.last_horizon_warning.lock() else {
            return;
        };
        if last.is_some_and(|at| at.elapsed() < Duration::from_secs(60)) {
            return;
        }
        *last = Some(Instant::now());
        tracing::warn!(
            database = b.database.as_deref().unwrap_or(""),
            application_name = %b.application_name,
            pid = b.pid,
            age_seconds = b.age_seconds.round(),
            "a transaction holds the change feed back: the dashboard sees no event stored after it began until it ends"
        );
    }
}

/// One reading of the gauges that cost queries.
pub struct Reading {
    taken: Instant,
    queue: Result<QueueGauges, String>,
    lag: Result<SyncLag, LagUnavailable>,
    /// The oldest transaction on the events database's server that holds a transaction id;
    /// `Ok(None)` when there is none.
    horizon: Result<Option<FeedBlocker>, String>,
}

/// The transaction the change feed waits for (see `data_provider::store::list_stored`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FeedBlocker {
    /// The database the transaction runs in (any database on the events database's server).
    #[schema(example = "roompulse_data_provider")]
    pub database: Option<String>,
    /// The session's `application_name`; for a prepared transaction, its global id.
    #[schema(example = "psql")]
    pub application_name: String,
    /// The server process (`pg_terminate_backend` ends it); none for a prepared transaction.
    #[schema(example = 4242)]
    pub pid: Option<i32>,
    /// How long the transaction has been running.
    #[schema(example = 75.0)]
    pub age_seconds: f64,
}

impl Reading {
    async fn take(state: &AppState) -> Self {
        let taken = Instant::now();
        let (queue, lag, horizon) =
            tokio::join!(queue_gauges(state), sync_lag(state), feed_horizon(state));
        Self {
            taken,
            queue,
            lag,
            horizon,
        }
    }

    fn render(&self, body: &mut String, asked: Instant) {
        let mut up = Vec::new();
        match &self.queue {
            Ok(q) => {
                up.push(("redis", 1));
                gauge(
                    body,
                    "roompulse_queue_depth",
                    "Messages waiting in the Redis queue.",
                    q.queued,
                );
                gauge(
                    body,
                    "roompulse_queue_in_flight",
                    "Messages claimed by workers and not yet acknowledged.",
                    q.in_flight,
                );
                gauge(
                    body,
                    "roompulse_queue_dead_depth",
                    "Messages in the dead-letter list.",
                    q.dead,
                );
            }
            Err(e) => {
                tracing::debug!(error = %e, "metrics: Redis did not answer");
                up.push(("redis", 0));
            }
        }
        let mut events_db_up = true;
        match &self.lag {
            Ok(lag) => {
                up.push(("dashboard_database", 1));
                gauge(body, "roompulse_sync_lag_seconds", "Newest event_timestamp stored by the Data Provider minus the newest one counted by the dashboard (minus the oldest stored, before the dashboard has counted any).", lag.seconds);
                if let Some(events) = lag.events {
                    gauge(
                        body,
                        "roompulse_sync_lag_events",
                        "Events stored by the Data Provider that the dashboard has not counted yet.",
                        events,
                    );
                }
            }
            Err(down) => {
                tracing::debug!(error = %down.reason, "metrics: cannot compute the sync lag");
                // The dashboard's database is read first: when it fails, the Data Provider's
                // was not asked, and says nothing either way.
                if down.dependency == "data_provider_database" {
                    up.push(("dashboard_database", 1));
                    events_db_up = false;
                } else {
                    up.push((down.dependency, 0));
                }
            }
        }
        match &self.horizon {
            Ok(blocker) => gauge(
                body,
                "roompulse_feed_horizon_age_seconds",
                "Age of the oldest transaction holding a transaction id on the events database's server: the change feed shows nothing stored after it began until it ends (0: none).",
                blocker.as_ref().map_or(0.0, |b| b.age_seconds),
            ),
            Err(e) => {
                tracing::debug!(error = %e, "metrics: cannot read the feed horizon");
                events_db_up = false;
            }
        }
        up.push(("data_provider_database", i32::from(events_db_up)));
        gauge(
            body,
            "roompulse_metrics_age_seconds",
            "Age of the reading the queue, sync and feed gauges come from.",
            asked.saturating_duration_since(self.taken).as_secs_f64(),
        );
        let _ = writeln!(
            body,
            "# HELP roompulse_up Whether a dependency answered during the latest reading.\n# TYPE roompulse_up gauge"
        );
        up.sort_unstable();
        for (dependency, value) in up {
            let _ = writeln!(body, "roompulse_up{{dependency=\"{dependency}\"}} {value}");
        }
    }
}

struct QueueGauges {
    queued: i64,
    in_flight: i64,
    dead: i64,
}

async fn queue_gauges(state: &AppState) -> Result<QueueGauges, String> {
    let read = async {
        // One atomic read for both lists: a batch moving between them is counted once.
        let backlog = state.queue.backlog().await?;
        let dead = state.queue.dead_depth().await?;
        Ok::<_, crate::data_provider::queue::QueueError>(QueueGauges {
            queued: backlog.queued,
            in_flight: backlog.in_flight,
            dead,
        })
    };
    match tokio::time::timeout(READ_TIMEOUT, read).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err(format!("no answer within {READ_TIMEOUT:?}")),
    }
}

struct SyncLag {
    seconds: f64,
    events: Option<i64>,
}

struct LagUnavailable {
    dependency: &'static str,
    reason: String,
}

/// The dashboard's sync state, then the Data Provider's newest event and the events past the
/// dashboard's cursor.
///
/// "Events stored − events counted" is computed as the count of rows after the dashboard's
/// feed cursor, `(tx_id, id) > cursor`, on the `events_tx_id_id` index: exactly the events
/// stored and not yet counted (the feed hands out each row once, in that order), at a cost
/// that grows with the lag rather than with the table. `count(*)` minus `events_synced` gives
/// the same figure but scans the whole table at every scrape. Measured at a million rows on
/// the 2-core dev machine: `count(*)` 70–125 ms; this count 0.1–0.2 ms caught up, 0.5 ms
/// 5,000 events behind, ~60 ms 500,000 behind, ~125 ms before the first sync (the whole
/// table). The newest and oldest `event_timestamp` are one step down the `events_timestamp_id`
/// index each (< 0.5 ms). At most one reading runs at a time (`Gauges`).
async fn sync_lag(state: &AppState) -> Result<SyncLag, LagUnavailable> {
    let dashboard_down = |reason: String| LagUnavailable {
        dependency: "dashboard_database",
        reason,
    };
    let events_down = |reason: String| LagUnavailable {
        dependency: "data_provider_database",
        reason,
    };
    let synced = tokio::time::timeout(READ_TIMEOUT, async {
        let mut conn = crate::dashboard::store::connection(&state.dashboard_db).await?;
        crate::dashboard::store::sync_state(&mut conn).await
    })
    .await
    .map_err(|_| dashboard_down(format!("no answer within {READ_TIMEOUT:?}")))?
    .map_err(|e| dashboard_down(e.to_string()))?;
    // An undecodable cursor (never written by this version) leaves the event lag out rather
    // than guessing it.
    let after = match synced.cursor.as_deref() {
        None => Some(StoredCursor::START),
        Some(c) => crate::data_provider::api::decode_stored_cursor(c),
    };
    let (newest, oldest, behind) = tokio::time::timeout(READ_TIMEOUT, async {
        let mut conn = crate::data_provider::store::connection(&state.events_db).await?;
        let newest: Option<DateTime<Utc>> = events::table
            .select(diesel::dsl::max(events::event_timestamp))
            .get_result(&mut conn)
            .await?;
        let oldest: Option<DateTime<Utc>> = if synced.last_event_at.is_none() {
            events::table
                .select(diesel::dsl::min(events::event_timestamp))
                .get_result(&mut conn)
                .await?
        } else {
            None
        };
        let behind: Option<i64> = match after {
            None => None,
            Some(after) => Some(
                // The plain range on tx_id lets the planner estimate the row comparison and use
                // the index for the count; without it, it guesses a third of the table and scans
                // all of it.
                events::table
                    .filter(events::tx_id.ge(after.tx_id))
                    .filter(crate::data_provider::store::after_in_store_order(after))
                    .count()
                    .get_result(&mut conn)
                    .await?,
            ),
        };
        Ok::<_, crate::data_provider::store::StoreError>((newest, oldest, behind))
    })
    .await
    .map_err(|_| events_down(format!("no answer within {READ_TIMEOUT:?}")))?
    .map_err(|e| events_down(e.to_string()))?;
    // Before the dashboard has counted anything it is behind by every stored event: the lag
    // spans them all, from the oldest to the newest.
    let seconds = match (newest, synced.last_event_at.or(oldest)) {
        (Some(newest), Some(counted)) => (newest - counted).num_milliseconds() as f64 / 1000.0,
        _ => 0.0,
    };
    Ok(SyncLag {
        seconds,
        events: behind,
    })
}

#[derive(QueryableByName)]
struct OldestTransaction {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    database: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Text)]
    application_name: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Integer>)]
    pid: Option<i32>,
    #[diesel(sql_type = diesel::sql_types::Double)]
    age_seconds: f64,
}

/// The transaction the change feed waits for: the one holding the oldest transaction id on the
/// events database's server (the feed stops below `pg_snapshot_xmin`), in any database, or a
/// prepared transaction. Other roles' sessions show their transaction ids only to superusers
/// and members of `pg_monitor` (or `pg_read_all_stats`).
async fn feed_horizon(state: &AppState) -> Result<Option<FeedBlocker>, String> {
    let read = async {
        let mut conn = crate::data_provider::store::connection(&state.events_db).await?;
        let oldest: Vec<OldestTransaction> = diesel::sql_query(
            "SELECT database, application_name, pid, \
                    GREATEST(EXTRACT(EPOCH FROM clock_timestamp() - began), 0)::float8 AS age_seconds \
             FROM ( \
                 SELECT datname::text AS database, COALESCE(application_name, '') AS application_name, pid, xact_start AS began, \
                        age(backend_xid) AS xid_age \
                 FROM pg_stat_activity \
                 WHERE backend_xid IS NOT NULL AND xact_start IS NOT NULL \
                 UNION ALL \
                 SELECT database::text, 'prepared transaction ' || gid, NULL, prepared, \
                        age(transaction) \
                 FROM pg_prepared_xacts \
             ) AS running \
             ORDER BY xid_age DESC \
             LIMIT 1",
        )
        .load(&mut conn)
        .await?;
        Ok::<_, crate::data_provider::store::StoreError>(oldest.into_iter().next().map(|t| {
            FeedBlocker {
                database: t.database,
                application_name: t.application_name,
                pid: t.pid,
                age_seconds: t.age_seconds,
            }
        }))
    };
    match tokio::time::timeout(READ_TIMEOUT, read).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err(format!("no answer within {READ_TIMEOUT:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        let custom = Method::from_bytes(b"PURGE").unwrap();
        assert_eq!(method_label(&custom), "other");
    }
}
