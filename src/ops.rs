//! What every process serves about itself, workers-only ones included: `/health`, `/ready` and
//! `/metrics`. The gauges come from the modules that own what they measure (the Data Provider's
//! queue and feed horizon, the sync lag between the two modules); this module takes one reading
//! of them at a time and renders it.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use crate::auth::{exposure, Auth};
use crate::dashboard::client::DataProviderClient;
use crate::data_provider::feed_wait::FeedWait;
use crate::data_provider::gauges::{
    feed_horizon, queue_gauges, FeedBlocker, QueueGauges, READ_TIMEOUT,
};
use crate::data_provider::queue::Queue;
use crate::db::replica::ReadPool;
use crate::db::PgPool;
use crate::metrics::gauge;
use crate::routing::both;

/// What the probes and the scrape read.
#[derive(Clone)]
pub struct OpsState {
    pub events_db: PgPool,
    pub dashboard_db: PgPool,
    pub queue: Queue,
    /// The `/metrics` gauges that cost queries, and the feed horizon `/ready` reports.
    pub gauges: Arc<Gauges>,
    /// The Data Provider API this process's dashboard sync reads, when it is another process:
    /// `/ready` reports whether it answers.
    pub data_provider_api: Option<DataProviderClient>,
    /// Each database's read pool (named as in `checks`), whose standby `/ready` and `/metrics`
    /// report when one is configured.
    pub read_pools: Vec<(&'static str, ReadPool)>,
    /// This process's long polls of the change feed, whose number held `/metrics` reports.
    pub feed_wait: Arc<FeedWait>,
    /// Each module's API access (named as `roompulse keys --module` names it), which `/ready`
    /// reports: open to anyone, or closed.
    pub auth: Vec<(&'static str, Auth)>,
}

/// `/health`, `/ready` and `/metrics`, each with and without a trailing slash.
pub fn router() -> Router<OpsState> {
    let mut ops = Router::new();
    ops = both(ops, "/health", get(health));
    ops = both(ops, "/ready", get(ready));
    both(ops, "/metrics", get(scrape))
}

/// The operations' part of the Data Provider's OpenAPI document.
#[derive(OpenApi)]
#[openapi(paths(health, ready, scrape))]
pub struct OpsDoc;

#[derive(Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    status: &'static str,
}

/// The process is up.
#[utoipa::path(get, path = "/health", tag = "operations", responses((status = 200, body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health { status: "ok" })
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// `ready`; `ready, but data_provider_api down…` when only the Data Provider API this
    /// process's sync reads is unreachable; or `not ready` naming what is down.
    #[schema(example = "ready")]
    status: String,
    /// `up`, or `down: <reason>`, for each dependency. `data_provider_api` appears in a process
    /// whose dashboard sync reads another process's Data Provider API (DATA_PROVIDER_URL).
    #[schema(example = json!({"data_provider_database": "up", "dashboard_database": "up", "redis": "up"}))]
    checks: std::collections::BTreeMap<&'static str, String>,
    /// Present when a transaction has held the change feed back for longer than
    /// `FEED_HORIZON_WARN_SECS`: the dashboard sees no event stored after it began until it ends
    /// (nothing is lost). Seeing other roles' sessions needs the `pg_monitor` role.
    #[serde(skip_serializing_if = "Option::is_none")]
    feed_held_back_by: Option<FeedBlocker>,
    /// For each database with a read standby (DATA_PROVIDER_READ_DATABASE_URL,
    /// DASHBOARD_READ_DATABASE_URL): `in use (lag … ms)`, `fallback to the primary: <reason>`
    /// while it is down or lags more than READ_REPLICA_MAX_LAG_MS, or `refused, reading from the
    /// primary: <reason>` when it is not a standby of the primary's database (another server's
    /// `system_identifier`, or another database). Either leaves the process ready: the primary
    /// answers the reads.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    #[schema(example = json!({"data_provider_database": "in use (lag 0 ms)", "dashboard_database": "fallback to the primary: standby: connection refused"}))]
    read_replicas: std::collections::BTreeMap<&'static str, String>,
    /// Each module's API: `closed: a key or token is required`, or `open: anyone can call it…`
    /// (no API key in that module's database and no token); `reads open…`, `writes open…` when
    /// only one token is set. Each module checks keys in its own database: a key created with
    /// `keys create --module data-provider` leaves the dashboard open.
    #[schema(example = json!({"data-provider": "closed: a key or token is required", "dashboard": "open: anyone can call it (no API key in its database, no token)"}))]
    api_access: std::collections::BTreeMap<&'static str, &'static str>,
}

/// Both databases and Redis answer. 503 names whichever does not. An unreachable Data Provider
/// API (DATA_PROVIDER_URL) is reported, but leaves the process ready: the dashboard still answers
/// from its own tables, the sync catches up once the API is back. A transaction that has held
/// the change feed back for longer than FEED_HORIZON_WARN_SECS is named in `feed_held_back_by`;
/// the process stays ready (the feed is delayed, nothing is lost).
#[utoipa::path(get, path = "/ready", tag = "operations", responses(
    (status = 200, description = "Everything answers (the Data Provider API may be reported down: figures then lag, but are served)", body = Readiness),
    (status = 503, description = "Something is down; `checks` says what", body = Readiness),
))]
pub async fn ready(State(state): State<OpsState>) -> Response {
    let timeout = Duration::from_secs(3);
    let check = |r: Result<Result<(), String>, tokio::time::error::Elapsed>| match r {
        Ok(Ok(())) => "up".to_string(),
        Ok(Err(e)) => format!("down: {e}"),
        Err(_) => "down: no answer within 3 s".to_string(),
    };
    let (events, dashboard, redis, api, gauges) = tokio::join!(
        tokio::time::timeout(timeout, crate::db::ping(&state.events_db)),
        tokio::time::timeout(timeout, crate::db::ping(&state.dashboard_db)),
        tokio::time::timeout(timeout, async {
            state.queue.ping().await.map_err(|e| e.to_string())
        }),
        async {
            match &state.data_provider_api {
                Some(client) => Some(
                    tokio::time::timeout(timeout, async {
                        client.health().await.map_err(|e| e.to_string())
                    })
                    .await,
                ),
                None => None,
            }
        },
        tokio::time::timeout(timeout, state.gauges.read(&state)),
    );
    let feed_held_back_by = gauges
        .ok()
        .and_then(|reading| state.gauges.feed_blocker(&reading).cloned());
    let mut checks: std::collections::BTreeMap<&'static str, String> = [
        ("data_provider_database", check(events)),
        ("dashboard_database", check(dashboard)),
        ("redis", check(redis)),
    ]
    .into_iter()
    .collect();
    if let Some(r) = api {
        checks.insert("data_provider_api", check(r));
    }
    let down: Vec<&str> = checks
        .iter()
        .filter(|(_, v)| *v != "up")
        .map(|(k, _)| *k)
        .collect();
    let api_down = down.contains(&"data_provider_api");
    let (code, status) = if api_down && down.len() == 1 {
        (
            StatusCode::OK,
            "ready, but data_provider_api down: the dashboard answers from its tables, its figures lag until the sync reaches the Data Provider again".to_string(),
        )
    } else if down.is_empty() {
        (StatusCode::OK, "ready".to_string())
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {} down", down.join(", ")),
        )
    };
    (
        code,
        Json(Readiness {
            status,
            checks,
            feed_held_back_by,
            read_replicas: state
                .read_pools
                .iter()
                .filter_map(|(name, pool)| Some((*name, pool.health()?.describe())))
                .collect(),
            api_access: state
                .auth
                .iter()
                .map(|(module, auth)| (*module, exposure::describe(auth)))
                .collect(),
        }),
    )
        .into_response()
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
pub async fn scrape(State(state): State<OpsState>) -> Response {
    let asked = Instant::now();
    let reading = state.gauges.read(&state).await;
    let mut body = crate::metrics::install()
        .map(|h| h.render())
        .unwrap_or_default();
    if !body.is_empty() && !body.ends_with('\n') {
        body.push('\n');
    }
    reading.render(&mut body, asked);
    render_read_replicas(&mut body, &state.read_pools);
    let _ = writeln!(
        body,
        "# HELP roompulse_feed_waits_held Change-feed requests (`wait=…`) this process holds right now, waiting for new events; at most half of MAX_CONCURRENT_REQUESTS (503 beyond).\n# TYPE roompulse_feed_waits_held gauge\nroompulse_feed_waits_held {}",
        state.feed_wait.held()
    );
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

/// Where each database's reads go; nothing when no standby is configured. Read from the
/// standby checks' latest result (every second), so it costs the scrape no query.
fn render_read_replicas(body: &mut String, pools: &[(&'static str, ReadPool)]) {
    let health: Vec<_> = pools
        .iter()
        .filter_map(|(name, pool)| Some((*name, pool.health()?)))
        .collect();
    if health.is_empty() {
        return;
    }
    let _ = writeln!(
        body,
        "# HELP roompulse_read_replica_in_use Whether the API's reads of this database go to its standby (0: to the primary, the standby being down or lagging).\n# TYPE roompulse_read_replica_in_use gauge"
    );
    for (name, h) in &health {
        let _ = writeln!(
            body,
            "roompulse_read_replica_in_use{{database=\"{name}\"}} {}",
            i32::from(h.in_use())
        );
    }
    let _ = writeln!(
        body,
        "# HELP roompulse_read_replica_refused Whether this database's read standby is refused (1): another server's (its system_identifier differs from the primary's) or another database; reads go to the primary, /ready and the log say why.\n# TYPE roompulse_read_replica_refused gauge"
    );
    for (name, h) in &health {
        let _ = writeln!(
            body,
            "roompulse_read_replica_refused{{database=\"{name}\"}} {}",
            i32::from(h.refused())
        );
    }
    let _ = writeln!(
        body,
        "# HELP roompulse_read_replica_lag_seconds How far the standby's replay was behind the primary at its latest check.\n# TYPE roompulse_read_replica_lag_seconds gauge"
    );
    for (name, h) in &health {
        if let Some(lag) = h.lag() {
            let _ = writeln!(
                body,
                "roompulse_read_replica_lag_seconds{{database=\"{name}\"}} {}",
                lag.as_secs_f64()
            );
        }
    }
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
    /// When this process's readings first found the dashboard behind (an event stored after its
    /// cursor) since they last found it caught up: `roompulse_sync_lag_seconds` counts from it.
    behind_since: std::sync::Mutex<Option<Instant>>,
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
            behind_since: std::sync::Mutex::new(None),
        }
    }

    /// Readings taken so far.
    pub fn refreshes(&self) -> u64 {
        // Spelled out: diesel's RunQueryDsl::load is in scope too.
        AtomicU64::load(&self.refreshes, Ordering::Relaxed)
    }

    /// A reading that began no earlier than `interval` before this call; taken now if need be.
    pub async fn read(&self, state: &OpsState) -> Arc<Reading> {
        let asked = Instant::now();
        let mut latest = self.latest.lock().await;
        if let Some(reading) = latest.as_ref() {
            if reading.taken + self.interval >= asked {
                return reading.clone();
            }
        }
        let mut reading = Reading::take(state).await;
        self.time_the_lag(&mut reading);
        let reading = Arc::new(reading);
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

    /// The sync lag in time: 0 while no event is stored after the dashboard's cursor, else the
    /// time since a reading first found one. Event timestamps say nothing about it: a counted
    /// event dated 2100 would pin a difference of timestamps at 0, retention deleting the newest
    /// ones would make it negative. Readings are taken on demand (scrapes, probes), so this is a
    /// lower bound, short by at most the time between two of them.
    fn time_the_lag(&self, reading: &mut Reading) {
        let Ok(lag) = &mut reading.lag else { return };
        let mut since = self.behind_since.lock().unwrap_or_else(|e| e.into_inner());
        lag.seconds = match lag.events {
            Some(0) => {
                *since = None;
                Some(0.0)
            }
            Some(_) => Some(
                reading
                    .taken
                    .saturating_duration_since(*since.get_or_insert(reading.taken))
                    .as_secs_f64(),
            ),
            // A cursor this service did not issue: how far behind is unknown.
            None => None,
        };
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

impl Reading {
    async fn take(state: &OpsState) -> Self {
        let taken = Instant::now();
        let (queue, lag, horizon) = tokio::join!(
            queue_gauges(&state.queue),
            sync_lag(state),
            feed_horizon(&state.events_db)
        );
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
                if let Some(seconds) = lag.seconds {
                    gauge(body, "roompulse_sync_lag_seconds", "How long the dashboard has been behind: 0 while it has counted every event stored, else the time since this process first found an event stored that it has not counted (at a scrape or probe: a lower bound). Never negative; event timestamps play no part.", seconds);
                }
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

struct SyncLag {
    /// Set by `Gauges::time_the_lag`, which keeps the time across readings.
    seconds: Option<f64>,
    events: Option<i64>,
}

struct LagUnavailable {
    dependency: &'static str,
    reason: String,
}

/// The dashboard's sync state, then what the Data Provider counts after the dashboard's
/// cursor (which it hands over as it keeps it: opaque).
async fn sync_lag(state: &OpsState) -> Result<SyncLag, LagUnavailable> {
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
    let behind = tokio::time::timeout(
        READ_TIMEOUT,
        crate::data_provider::feed::behind(&state.events_db, synced.cursor.as_deref()),
    )
    .await
    .map_err(|_| events_down(format!("no answer within {READ_TIMEOUT:?}")))?
    .map_err(|e| events_down(e.to_string()))?;
    Ok(SyncLag {
        seconds: None,
        // An undecodable cursor (never written by this version) leaves the event lag out rather
        // than guessing it.
        events: behind.events,
    })
}
