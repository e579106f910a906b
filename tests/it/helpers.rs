//! The real application on a random port, on a database per module and a Redis key prefix of
//! its own (`crate::common`). Every test reaches the application's state through `TestApp`, so
//! that this file is the one place that knows how the state is built and laid out.

use std::path::Path;
use std::time::Duration;

use roompulse::app::AppState;
use roompulse::config::Config;
use roompulse::config::SyncMode;
use roompulse::dashboard::api::DashboardCache;
use roompulse::dashboard::client::DataProviderClient;
use roompulse::dashboard::schedule::{self, SyncSchedule};
use roompulse::dashboard::{store as dashboard_store, sync};
use roompulse::data_provider::queue::Queue;
use roompulse::db::PgPool;
use tokio_util::sync::CancellationToken;

use crate::common::db::TestDb;
use crate::common::fixtures::write_export;
use crate::common::redis::{TestKeys, REDIS_URL};
use crate::common::wait::{drained, eventually};

pub fn test_config(events_db: &TestDb, dashboard_db: &TestDb, keys: &TestKeys) -> Config {
    Config {
        bind_addr: "127.0.0.1:0".parse().expect("addr"),
        data_provider_database_url: events_db.url.clone(),
        dashboard_database_url: dashboard_db.url.clone(),
        redis_url: REDIS_URL.to_string(),
        events_queue_key: keys.queue_key.clone(),
        worker_batch_size: 500,
        worker_lease_secs: 2,
        database_pool_size: 4,
        // Tests read figures right after changing them.
        dashboard_cache_ms: 0,
        data_provider_url: None,
        dashboard_sync_schedule: "*/5 * * * * *".to_string(),
        dashboard_sync_mode: roompulse::config::SyncMode::Follow,
        ingest_api_token: None,
        read_api_token: None,
        max_concurrent_requests: 512,
        request_timeout_secs: 30,
        http_idle_timeout_secs: 60,
        // Tests read gauges right after changing what they measure.
        metrics_refresh_ms: 0,
        feed_horizon_warn_secs: 60,
        api_keys_refresh_ms: 2000,
        data_provider_read_database_url: None,
        dashboard_read_database_url: None,
        read_replica_max_lag_ms: 5000,
    }
}

/// The real application, API and (optionally) workers, on a random port.
pub struct TestApp {
    pub base_url: String,
    pub client: reqwest::Client,
    state: AppState,
    config: Config,
    shutdown: CancellationToken,
    server: Option<tokio::task::JoinHandle<()>>,
    // Dropped last: the databases and keys outlive the server.
    _keys: TestKeys,
    _events_db: TestDb,
    _dashboard_db: TestDb,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with_workers(0).await
    }

    pub async fn spawn_with_workers(workers: usize) -> Self {
        Self::spawn_configured(workers, |_| {}).await
    }

    /// The app with `adjust` applied to the test configuration first.
    pub async fn spawn_configured(workers: usize, adjust: impl FnOnce(&mut Config)) -> Self {
        let (events_db, dashboard_db) = tokio::join!(TestDb::data_provider(), TestDb::dashboard());
        let keys = TestKeys::new();
        let mut config = test_config(&events_db, &dashboard_db, &keys);
        adjust(&mut config);
        let state = roompulse::serve::prepare(&config, workers.max(1))
            .await
            .expect("prepare the app");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base_url = format!("http://{}", listener.local_addr().expect("addr"));
        let shutdown = CancellationToken::new();
        let server = tokio::spawn({
            let (state, config, shutdown) = (state.clone(), config.clone(), shutdown.clone());
            async move {
                roompulse::serve::run_with(state, &config, workers, Some(listener), shutdown)
                    .await
                    .expect("serve");
            }
        });
        if config.dashboard_cache_ms > 0 {
            // Answers are cached only while commits can be heard.
            let freshness = state.dashboard.freshness.clone();
            eventually(
                "the answer cache hears the dashboard's commits",
                Duration::from_secs(30),
                || {
                    let freshness = freshness.clone();
                    async move { freshness.generation().is_some() }
                },
            )
            .await;
        }
        Self {
            base_url,
            client: reqwest::Client::new(),
            state,
            config,
            shutdown,
            server: Some(server),
            _keys: keys,
            _events_db: events_db,
            _dashboard_db: dashboard_db,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// `GET path`, expecting a JSON answer (any status).
    /// `POST /events` with `event`, which must be stored (201).
    pub async fn post_new(&self, event: &serde_json::Value) {
        let r = self
            .client
            .post(self.url("/events"))
            .json(event)
            .send()
            .await
            .expect("POST /events");
        assert_eq!(r.status(), 201, "POST /events {event}");
    }

    pub async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("a JSON answer")
    }

    /// `GET path` answers 400 with a JSON error naming `field`, in `field` and in the message.
    pub async fn assert_rejects_param(&self, path: &str, field: &str) {
        let r = self
            .client
            .get(self.url(path))
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), reqwest::StatusCode::BAD_REQUEST, "{path}");
        let err: serde_json::Value = r.json().await.expect("a JSON error");
        assert_eq!(err["field"], field, "{path}: {err}");
        let message = err["error"].as_str().unwrap_or_default();
        assert!(message.contains(field), "{path}: {err}");
    }

    pub fn queue(&self) -> &Queue {
        &self.state.ops.queue
    }

    pub fn events_db_url(&self) -> String {
        self._events_db.url.clone()
    }

    pub fn dashboard_db_url(&self) -> String {
        self._dashboard_db.url.clone()
    }

    /// A connection of its own to the events database, as another process would have.
    pub async fn events_db_client(&self) -> tokio_postgres::Client {
        let (client, conn) = tokio_postgres::connect(&self._events_db.url, tokio_postgres::NoTls)
            .await
            .expect("connect to the events database");
        tokio::spawn(conn);
        client
    }

    pub fn events_db(&self) -> &PgPool {
        &self.state.data_provider.events_db
    }

    pub fn dashboard_db(&self) -> &PgPool {
        &self.state.dashboard.db
    }

    pub fn dashboard_cache(&self) -> &DashboardCache {
        &self.state.dashboard.cache
    }

    pub fn pace_cache(&self) -> &roompulse::dashboard::pace::PaceCache {
        &self.state.dashboard.pace_cache
    }

    /// The figures' generation this process has heard (`None` while it cannot hear commits):
    /// what the answer caches key on.
    pub fn figures_generation(&self) -> Option<u64> {
        self.state.dashboard.freshness.generation()
    }

    /// `GET /events?order=stored&wait=…` requests held right now.
    pub fn feed_requests_held(&self) -> usize {
        self.state.data_provider.feed_wait.held()
    }

    /// Looks held change-feed requests took after their first.
    pub fn feed_relooks(&self) -> u64 {
        self.state.data_provider.feed_wait.relooks()
    }

    /// Whether the change feed's head reader has started (see `FeedWait::following_head`).
    pub fn feed_following_head(&self) -> bool {
        self.state.data_provider.feed_wait.following_head()
    }

    /// The dashboard sync in `mode` on a schedule of every second, reading this app's Data
    /// Provider API over HTTP, as `serve` runs it (with the same credentials).
    pub async fn start_sync(&self, mode: SyncMode) -> SyncSchedule {
        let client = DataProviderClient::new(&self.base_url)
            .expect("client")
            .with_token(roompulse::serve::sync_token(&self.config, &self.state));
        schedule::start(
            self.dashboard_db().clone(),
            client,
            "*/1 * * * * *",
            sync::PAGE_SIZE,
            mode,
        )
        .await
        .expect("start the sync")
    }

    /// Events the dashboard has counted.
    pub async fn events_synced(&self) -> i64 {
        let mut conn = dashboard_store::connection(self.dashboard_db())
            .await
            .expect("dashboard db");
        dashboard_store::sync_state(&mut conn)
            .await
            .expect("sync_state")
            .events_synced
    }

    /// This app's operations router (probes and metrics), as `worker --metrics-addr` serves it.
    pub fn operations_router(&self) -> axum::Router {
        roompulse::app::operations_router(self.state.ops.clone(), self.state.request_timeout)
    }

    /// This app's router with its queue replaced by `queue`: the same app, one dependency
    /// changed.
    pub fn router_with_queue(&self, queue: Queue) -> axum::Router {
        let mut state = self.state.clone();
        state.ops.queue = queue;
        roompulse::app::router(state)
    }

    pub async fn stored_count(&self) -> i64 {
        roompulse::data_provider::store::count(&self.state.data_provider.events_db)
            .await
            .expect("count events")
    }

    /// Waits until the workers have drained the queue, then exactly `stored` events are stored.
    pub async fn drained_to(&self, stored: i64) {
        drained(self.queue(), Duration::from_secs(120)).await;
        assert_eq!(self.stored_count().await, stored);
    }

    /// Runs dashboard sync passes (`page` events a page) over HTTP until the dashboard has
    /// counted `events` events, never more. The feed holds rows back while any transaction on
    /// the server is older than them (other tests run alongside), so a pass may count fewer.
    pub async fn synced(&self, events: i64, page: i64) {
        self.synced_with_token(events, page, None).await
    }

    /// `synced`, the sync presenting `token` to the Data Provider (READ_API_TOKEN).
    pub async fn synced_with_token(&self, events: i64, page: i64, token: Option<&str>) {
        let client = DataProviderClient::new(&self.base_url)
            .expect("client")
            .with_token(token);
        let pool = self.dashboard_db();
        eventually(
            "the dashboard has counted every event",
            Duration::from_secs(120),
            || {
                let client = &client;
                async move {
                    sync::run_pass(pool, client, page)
                        .await
                        .expect("a sync pass");
                    let mut conn = dashboard_store::connection(pool)
                        .await
                        .expect("dashboard db");
                    let state = dashboard_store::sync_state(&mut conn)
                        .await
                        .expect("sync_state");
                    assert!(state.events_synced <= events, "counted twice");
                    state.events_synced == events
                }
            },
        )
        .await;
    }

    /// Stops the server and workers, waiting until each has finished or handed back its batch.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Writes a generated CSV export shaped like the original system's (CRLF, trailing blank lines).
pub fn generated_csv(dir: &Path, rows: u64, seed: u64) -> std::path::PathBuf {
    write_export(dir, rows, seed, 2000)
}

/// Serves `router` on a random port; returns its base URL.
pub async fn serve_router(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    base
}

pub fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// The `cursor` of a feed answer's `next` link.
pub fn next_cursor(r: &reqwest::Response) -> String {
    let link = r
        .headers()
        .get("link")
        .expect("a Link header")
        .to_str()
        .expect("text");
    let url = link
        .trim_start_matches('<')
        .split('>')
        .next()
        .expect("a target");
    url::Url::parse(&format!("http://h{url}"))
        .expect("a URL")
        .query_pairs()
        .find(|(k, _)| k == "cursor")
        .map(|(_, v)| v.into_owned())
        .expect("a cursor")
}
