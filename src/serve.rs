//! Starting the long-running parts: the HTTP API and the queue workers (and, with the
//! dashboard, its schedule), in one process or spread over several.

use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::app::{router, AppState};
use crate::auth::keyring::Keyring;
use crate::auth::store::KeyStoreError;
use crate::auth::{exposure, Auth, Tokens};
use crate::config::Config;
use crate::dashboard::api::DashboardCache;
use crate::dashboard::client::{ClientError, DataProviderClient};
use crate::dashboard::freshness::Freshness;
use crate::dashboard::schedule::{self, ScheduleError, SyncSchedule};
use crate::dashboard::sync::PAGE_SIZE;
use crate::data_provider::feed_wait::FeedWait;
use crate::data_provider::queue::{Queue, QueueError, QueueKeys};
use crate::data_provider::worker::{self, WorkerSettings};
use crate::db::replica::ReadPool;
use crate::db::{self, DbError};
use crate::ops::{Gauges, OpsState};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("cannot read the API keys: {0}")]
    Keys(#[from] KeyStoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    DataProvider(#[from] ClientError),
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    #[error(transparent)]
    Rng(#[from] crate::auth::key::RngError),
}

/// Which parts this process runs.
#[derive(Debug, Clone, Copy)]
pub struct Parts {
    pub api: bool,
    pub workers: usize,
    /// Run the dashboard sync on DASHBOARD_SYNC_SCHEDULE.
    pub schedule: bool,
    /// Without the API: where to serve `/health`, `/ready` and `/metrics` anyway.
    pub metrics_addr: Option<std::net::SocketAddr>,
}

/// Creates and migrates both databases, then opens the pools and the queue; fails with one
/// clear line when PostgreSQL or Redis is not there.
pub async fn prepare(cfg: &Config, workers: usize) -> Result<AppState, StartError> {
    let events_url = &cfg.events_db.data_provider_database_url;
    let dashboard_url = &cfg.dashboard_db.dashboard_database_url;
    db::migrate(events_url, db::DATA_PROVIDER_MIGRATIONS).await?;
    db::migrate(dashboard_url, db::DASHBOARD_MIGRATIONS).await?;
    let queue = Queue::new(
        &cfg.queue.redis.redis_url,
        QueueKeys::new(&cfg.queue.events_queue_key),
        2 * workers + 8,
    )?;
    queue.ping().await?;
    let pool_size = cfg.pool.database_pool_size;
    let events_db = db::pool(events_url, pool_size)?;
    let dashboard_db = db::pool(dashboard_url, pool_size)?;
    let refresh = Duration::from_millis(cfg.keys.api_keys_refresh_ms);
    let keys = ModuleKeys {
        data_provider: Keyring::load(events_url, events_db.clone(), refresh).await?,
        dashboard: Keyring::load(dashboard_url, dashboard_db.clone(), refresh).await?,
    };
    app_state(cfg, events_db, dashboard_db, queue, keys)
}

/// The API keys of each module's database.
pub struct ModuleKeys {
    pub data_provider: Keyring,
    pub dashboard: Keyring,
}

/// The application's state over these pools, this queue and these keys, with `cfg`'s settings;
/// the read pools on the standbys `cfg` names (their checks start here).
pub fn app_state(
    cfg: &Config,
    events_db: db::PgPool,
    dashboard_db: db::PgPool,
    queue: Queue,
    keys: ModuleKeys,
) -> Result<AppState, StartError> {
    let tokens = Tokens::new(
        cfg.keys
            .ingest_api_token
            .as_ref()
            .map(|t| t.expose_secret()),
        cfg.access
            .read_api_token
            .as_ref()
            .map(|t| t.expose_secret()),
    );
    let pool_size = cfg.pool.database_pool_size;
    let max_lag = Duration::from_millis(cfg.replicas.read_replica_max_lag_ms);
    let event_reads = ReadPool::new(
        events_db.clone(),
        cfg.replicas.data_provider_read_database_url.as_deref(),
        pool_size,
        max_lag,
    )?;
    let dashboard_read = ReadPool::new(
        dashboard_db.clone(),
        cfg.replicas.dashboard_read_database_url.as_deref(),
        pool_size,
        max_lag,
    )?;
    let feed_wait = Arc::new(FeedWait::new(
        events_db.clone(),
        &cfg.events_db.data_provider_database_url,
        Duration::from_secs(cfg.http.request_timeout_secs),
        (pool_size / 2) as usize,
    ));
    let data_provider_auth = Auth {
        tokens: tokens.clone(),
        keys: keys.data_provider,
        process_secret: Some(Arc::new(crate::auth::key::process_secret()?)),
    };
    let dashboard_auth = Auth {
        tokens,
        keys: keys.dashboard,
        process_secret: None,
    };
    Ok(AppState {
        data_provider: crate::data_provider::ApiState {
            events_db: events_db.clone(),
            event_reads: event_reads.clone(),
            feed_wait: feed_wait.clone(),
        },
        dashboard: crate::dashboard::ApiState {
            db: dashboard_db.clone(),
            reads: dashboard_read.clone(),
            cache: Arc::new(DashboardCache::new(Duration::from_millis(
                cfg.limits.dashboard_cache_ms,
            ))),
            pace_cache: Arc::new(crate::dashboard::pace::PaceCache::new(
                Duration::from_millis(cfg.limits.dashboard_cache_ms),
            )),
            forecast_cache: Arc::new(crate::dashboard::forecast_api::ForecastCache::new(
                Duration::from_millis(cfg.limits.dashboard_cache_ms),
            )),
            books: Arc::new(crate::dashboard::book::Books::new()),
            freshness: Arc::new(Freshness::new(&cfg.dashboard_db.dashboard_database_url)),
        },
        ops: OpsState {
            events_db,
            dashboard_db,
            queue,
            gauges: Arc::new(Gauges::new(
                Duration::from_millis(cfg.http.metrics_refresh_ms),
                Duration::from_secs(cfg.http.feed_horizon_warn_secs),
            )),
            data_provider_api: None,
            read_pools: vec![
                ("data_provider_database", event_reads),
                ("dashboard_database", dashboard_read),
            ],
            feed_wait,
            auth: vec![
                ("data-provider", data_provider_auth.clone()),
                ("dashboard", dashboard_auth.clone()),
            ],
        },
        data_provider_auth,
        dashboard_auth,
        max_concurrent_requests: cfg.limits.max_concurrent_requests as usize,
        request_timeout: Duration::from_secs(cfg.http.request_timeout_secs),
    })
}

fn modules_auth(state: &AppState) -> [(&'static str, &Auth); 2] {
    [
        ("data-provider", &state.data_provider_auth),
        ("dashboard", &state.dashboard_auth),
    ]
}

/// Logs each module's API opening or closing as keys are created or revoked (by `roompulse
/// keys` elsewhere), and warns whenever that leaves one closed while another is open. The keys
/// are in memory: looking costs nothing, once a second.
fn watch_exposure(state: &AppState, shutdown: CancellationToken) {
    let state = state.clone();
    tokio::spawn(async move {
        let mut last = exposure::states(&modules_auth(&state));
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            let modules = modules_auth(&state);
            let now = exposure::states(&modules);
            if now == last {
                continue;
            }
            for ((module, was), (_, is)) in last.iter().zip(&now) {
                if was != is {
                    tracing::info!(module, "the {module} API is now {is}");
                }
            }
            if let Some(warning) = exposure::half_open_warning(&modules) {
                tracing::warn!("{warning}");
            }
            last = now;
        }
    });
}

/// Cancels `token` on SIGTERM or Ctrl-C.
pub fn cancel_on_signal(token: CancellationToken) {
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot listen for SIGTERM");
                        let _ = ctrl_c.await;
                        token.cancel();
                        return;
                    }
                };
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("shutting down: finishing the work in flight");
        token.cancel();
    });
}

/// Runs the chosen parts until `shutdown`, then lets each finish or hand back what it holds.
pub async fn run(cfg: Config, parts: Parts, shutdown: CancellationToken) -> Result<(), StartError> {
    let mut state = prepare(&cfg, parts.workers).await?;
    crate::data_provider::partition_indexes::build_in_background(
        cfg.events_db.data_provider_database_url.clone(),
        shutdown.clone(),
    );
    if parts.schedule && cfg.data_provider_api.data_provider_url.is_some() {
        // The sync reads another process's API: `/ready` says whether it answers.
        state.ops.data_provider_api = Some(
            DataProviderClient::new(&cfg.data_provider_url())?.with_token(sync_token(&cfg, &state)),
        );
    }
    if parts.api {
        if let Some(warning) =
            Auth::open_warning(&[&state.data_provider_auth, &state.dashboard_auth])
        {
            tracing::warn!("{warning}");
        }
        if let Some(warning) = exposure::half_open_warning(&modules_auth(&state)) {
            tracing::warn!("{warning}");
        }
    }
    if parts.schedule
        && cfg.access.read_api_token.is_none()
        && cfg.data_provider_api.data_provider_url.is_some()
        && state.dashboard_auth.keys.any()
    {
        tracing::warn!("the dashboard sync reads the Data Provider API at DATA_PROVIDER_URL without a key (READ_API_TOKEN is not set): if that API has keys, the sync is refused; set READ_API_TOKEN to an all-hotel read key (`roompulse keys create --all-hotels --scope read --name dashboard-sync`)");
    }
    let listener = if parts.api {
        let listener = tokio::net::TcpListener::bind(cfg.access.bind_addr)
            .await
            .map_err(|source| StartError::Bind {
                addr: cfg.access.bind_addr,
                source,
            })?;
        // The bound address, not the asked one: with port 0 the log is where a script or a test
        // learns the port.
        let addr = listener.local_addr().unwrap_or(cfg.access.bind_addr);
        tracing::info!(
            %addr,
            workers = parts.workers,
            "serving; Swagger UI at http://{addr}/swagger-ui/"
        );
        Some(listener)
    } else {
        tracing::info!(workers = parts.workers, "running workers only");
        if let Some(addr) = parts.metrics_addr {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| StartError::Bind { addr, source })?;
            tracing::info!(%addr, "serving /health, /ready and /metrics");
            let ops = crate::app::operations_router(state.ops.clone(), state.request_timeout);
            let idle = Duration::from_secs(cfg.http.http_idle_timeout_secs);
            tokio::spawn(serve_http(listener, ops, idle, shutdown.clone()));
        }
        None
    };
    // The sync reads this process's own API at BIND_ADDR by default: with port 0 that is the
    // port the listener got, not 0.
    let mut cfg = cfg;
    if let Some(bound) = listener.as_ref().and_then(|l| l.local_addr().ok()) {
        cfg.access.bind_addr = bound;
    }
    let schedule = if parts.schedule {
        Some(start_dashboard_sync(&cfg, &state).await?)
    } else {
        None
    };
    let result = run_with(state, &cfg, parts.workers, listener, shutdown).await;
    if let Some(schedule) = schedule {
        schedule.stop().await;
    }
    result
}

/// What this process's dashboard sync presents to the Data Provider API: when it reads this
/// very process (no DATA_PROVIDER_URL), the process's own secret, so that creating the first
/// key does not cut the sync off and its requests draw on the allowance kept for it
/// (`crate::admission`); else READ_API_TOKEN.
pub fn sync_token<'a>(cfg: &'a Config, state: &'a AppState) -> Option<&'a str> {
    let read_token = cfg.access.read_api_token.as_ref();
    match cfg.data_provider_api.data_provider_url {
        None => state
            .data_provider_auth
            .process_secret
            .as_deref()
            .or(read_token),
        Some(_) => read_token,
    }
    .map(|t| t.expose_secret())
}

/// Starts the dashboard sync against DATA_PROVIDER_URL: its follower and schedule, or its
/// schedule alone (DASHBOARD_SYNC_MODE).
pub async fn start_dashboard_sync(
    cfg: &Config,
    state: &AppState,
) -> Result<SyncSchedule, StartError> {
    let client =
        DataProviderClient::new(&cfg.data_provider_url())?.with_token(sync_token(cfg, state));
    Ok(schedule::start(
        state.dashboard.db.clone(),
        client,
        &cfg.sync.dashboard_sync_schedule,
        PAGE_SIZE,
        cfg.sync.dashboard_sync_mode,
    )
    .await?)
}

/// Runs `workers` queue workers and, given a listener, the HTTP API on it, until `shutdown`.
pub async fn run_with(
    state: AppState,
    cfg: &Config,
    workers: usize,
    listener: Option<tokio::net::TcpListener>,
    shutdown: CancellationToken,
) -> Result<(), StartError> {
    let tasks = TaskTracker::new();
    let settings = WorkerSettings::from_config(cfg);
    for _ in 0..workers {
        tasks.spawn(worker::run(
            state.ops.queue.clone(),
            state.data_provider.events_db.clone(),
            settings.clone(),
            shutdown.clone(),
        ));
    }
    tasks.close();
    // Held long polls answer at once: the server waits for the requests in flight.
    tokio::spawn({
        let (shutdown, state) = (shutdown.clone(), state.clone());
        async move {
            shutdown.cancelled().await;
            state.data_provider.feed_wait.stop();
            state.dashboard.freshness.stop();
        }
    });
    if let Some(listener) = listener {
        // Keys created or revoked from now on take effect here too.
        state.data_provider_auth.keys.follow(&shutdown);
        state.dashboard_auth.keys.follow(&shutdown);
        watch_exposure(&state, shutdown.clone());
        let idle = Duration::from_secs(cfg.http.http_idle_timeout_secs);
        serve_http(listener, router(state), idle, shutdown.clone()).await;
    } else {
        shutdown.cancelled().await;
    }
    // A worker finishes its batch (one INSERT) or hands it back well within this.
    if tokio::time::timeout(Duration::from_secs(10), tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!("workers did not stop within 10 s; their batches return to the queue when their leases run out");
    }
    Ok(())
}

/// Serves `app` on `listener` until `shutdown`, then lets the requests in progress finish.
///
/// `axum::serve` gives hyper no timer, and without one hyper closes no connection that stays
/// silent: one that never sends a request, sends half a header, or idles between requests
/// holds its socket and task forever. Here hyper's header read timeout, which runs from the
/// moment a connection waits for a request (its first or its next), closes such a connection
/// after `idle_timeout`. HTTP/1 only, as with `axum::serve` under axum's default features.
pub async fn serve_http(
    mut listener: tokio::net::TcpListener,
    app: axum::Router,
    idle_timeout: Duration,
    shutdown: CancellationToken,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt as _;

    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(idle_timeout);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        // axum's accept retries on its own after a failed accept (out of file descriptors…).
        let (stream, _peer) = tokio::select! {
            accepted = axum::serve::Listener::accept(&mut listener) => accepted,
            _ = shutdown.cancelled() => break,
        };
        let service = hyper_util::service::TowerToHyperService::new(app.clone().map_request(
            |request: axum::http::Request<hyper::body::Incoming>| {
                request.map(axum::body::Body::new)
            },
        ));
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection closed");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}
