//! The test harness: a database per test cloned from a migrated template (as crates.io's test
//! suite does), a Redis key prefix per test, and the real application on a random port.

use std::path::Path;

use roompulse::app::AppState;
use roompulse::config::Config;
use roompulse::data_provider::queue::Queue;
use roompulse::db;
use tokio_util::sync::CancellationToken;

pub const PG_SERVER: &str = "postgres://postgres@127.0.0.1:5432";
pub const REDIS_URL: &str = "redis://127.0.0.1:6379";

async fn admin() -> tokio_postgres::Client {
    let (client, conn) =
        tokio_postgres::connect(&format!("{PG_SERVER}/postgres"), tokio_postgres::NoTls)
            .await
            .expect("PostgreSQL must run on 127.0.0.1:5432 for the tests (see README)");
    tokio::spawn(conn);
    client
}

/// FNV-1a over the migration files, so that a changed migration gets a fresh template.
fn migrations_hash(dir: &str) -> u64 {
    let mut files = Vec::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut stack = vec![root];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("migrations dir").flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p);
            }
        }
    }
    files.sort();
    let mut h: u64 = 0xcbf29ce484222325;
    for f in files {
        let bytes = [
            f.to_string_lossy().as_bytes(),
            &std::fs::read(&f).unwrap_or_default(),
        ]
        .concat();
        for b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x100000001b3);
        }
    }
    h
}

/// The migrated template for one module, created once per migration set by whichever test
/// (in whichever process) gets there first.
async fn template(
    kind: &str,
    dir: &str,
    migrations: diesel_migrations::EmbeddedMigrations,
) -> String {
    let name = format!("roompulse_tpl_{kind}_{:016x}", migrations_hash(dir));
    let admin = admin().await;
    admin
        .execute(
            "SELECT pg_advisory_lock(hashtext('roompulse-test-template'))",
            &[],
        )
        .await
        .expect("advisory lock");
    let exists = admin
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await
        .expect("pg_database")
        .is_some();
    if !exists {
        let building = format!("{name}_building");
        admin
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)"
            ))
            .await
            .expect("drop half-built template");
        db::migrate(&format!("{PG_SERVER}/{building}"), migrations)
            .await
            .expect("migrating the template");
        admin
            .batch_execute(&format!(
                "ALTER DATABASE \"{building}\" RENAME TO \"{name}\""
            ))
            .await
            .expect("rename template");
    }
    admin
        .execute(
            "SELECT pg_advisory_unlock(hashtext('roompulse-test-template'))",
            &[],
        )
        .await
        .expect("advisory unlock");
    name
}

/// A database of its own for one test, dropped when the test ends.
pub struct TestDb {
    pub url: String,
    name: String,
}

impl TestDb {
    pub async fn data_provider() -> Self {
        Self::from_template(
            template(
                "dp",
                "migrations_data_provider",
                db::DATA_PROVIDER_MIGRATIONS,
            )
            .await,
        )
        .await
    }

    pub async fn dashboard() -> Self {
        Self::from_template(
            template("dash", "migrations_dashboard", db::DASHBOARD_MIGRATIONS).await,
        )
        .await
    }

    async fn from_template(template: String) -> Self {
        let name = format!("roompulse_test_{}", uuid::Uuid::new_v4().simple());
        admin()
            .await
            .batch_execute(&format!(
                "CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""
            ))
            .await
            .expect("create test database");
        Self {
            url: format!("{PG_SERVER}/{name}"),
            name,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs inside the test's runtime, which cannot block on itself: use a thread.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(rt) = rt {
                rt.block_on(async {
                    let _ = admin()
                        .await
                        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                        .await;
                });
            }
        })
        .join();
    }
}

/// A Redis key prefix of its own for one test; its keys are deleted when the test ends.
pub struct TestKeys {
    pub queue_key: String,
}

impl TestKeys {
    pub fn new() -> Self {
        Self {
            queue_key: format!("roompulse-test:{}:events", uuid::Uuid::new_v4().simple()),
        }
    }

    pub fn queue(&self) -> Queue {
        Queue::new(
            REDIS_URL,
            roompulse::data_provider::queue::QueueKeys::new(&self.queue_key),
            8,
        )
        .expect("queue")
    }
}

impl Drop for TestKeys {
    fn drop(&mut self) {
        let pattern = format!("{}*", self.queue_key);
        let _ = std::thread::spawn(move || {
            let Ok(client) = redis::Client::open(REDIS_URL) else {
                return;
            };
            let Ok(mut conn) = client.get_connection() else {
                return;
            };
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(&pattern)
                .query(&mut conn)
                .unwrap_or_default();
            if !keys.is_empty() {
                let _: Result<(), _> = redis::cmd("DEL").arg(&keys).query(&mut conn);
            }
        })
        .join();
    }
}

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
        ingest_api_token: None,
        read_api_token: None,
        max_concurrent_requests: 512,
        request_timeout_secs: 30,
        http_idle_timeout_secs: 60,
        // Tests read gauges right after changing what they measure.
        metrics_refresh_ms: 0,
        feed_horizon_warn_secs: 60,
    }
}

/// The real application, API and (optionally) workers, on a random port.
pub struct TestApp {
    pub base_url: String,
    pub client: reqwest::Client,
    pub state: AppState,
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
        Self {
            base_url,
            client: reqwest::Client::new(),
            state,
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

    pub async fn stored_count(&self) -> i64 {
        roompulse::data_provider::store::count(&self.state.data_provider.events_db)
            .await
            .expect("count events")
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

pub use crate::eventually::eventually;

/// Writes a generated CSV export shaped like the original system's (CRLF, trailing blank lines).
pub fn generated_csv(dir: &Path, rows: u64, seed: u64) -> std::path::PathBuf {
    let path = dir.join(format!("events-{rows}-{seed}.csv"));
    let opts = roompulse::data_provider::generate::GenerateOptions {
        rows,
        hotels: 4,
        seed,
        trailing_blank_lines: 2000,
    };
    let file = std::fs::File::create(&path).expect("create fixture");
    roompulse::data_provider::generate::write_csv(&opts, file).expect("write fixture");
    path
}

pub fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}
