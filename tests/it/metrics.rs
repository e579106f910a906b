//! GET /metrics against the real queue and databases.
//!
//! Counters and histograms are process-wide and other tests run alongside, so those are checked
//! as deltas or lower bounds; the queue and lag gauges are read from this app's own Redis keys
//! and databases, so those are exact.

use std::time::Duration;

use roompulse::dashboard::client::DataProviderClient;
use roompulse::dashboard::sync;
use roompulse::data_provider::load;
use roompulse::data_provider::queue::{Queue, QueueKeys};

use crate::common::db::TestDb;
use crate::common::free_port;
use crate::common::redis::{TestKeys, REDIS_URL};
use crate::common::wait::eventually;
use crate::helpers::{generated_csv, serve_router, temp_dir, TestApp};

const LIMIT: Duration = Duration::from_secs(120);

/// One line of a scrape: name, labels, value.
type Sample = (String, Vec<(String, String)>, f64);

struct Scrape {
    text: String,
    samples: Vec<Sample>,
}

impl Scrape {
    fn parse(text: String) -> Self {
        let mut samples = Vec::new();
        for line in text.lines() {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').expect("`series value`");
            let value: f64 = match value {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v
                    .parse()
                    .unwrap_or_else(|_| panic!("bad value in {line:?}")),
            };
            let (name, labels) = match series.split_once('{') {
                None => (series.to_string(), Vec::new()),
                Some((name, rest)) => {
                    let rest = rest.strip_suffix('}').expect("closing brace");
                    // Our label values hold no commas or quotes, so a plain split will do.
                    let labels = rest
                        .split(',')
                        .filter(|p| !p.is_empty())
                        .map(|pair| {
                            let (k, v) = pair.split_once('=').expect("label=value");
                            (k.to_string(), v.trim_matches('"').to_string())
                        })
                        .collect();
                    (name.to_string(), labels)
                }
            };
            samples.push((name, labels, value));
        }
        Self { text, samples }
    }

    /// The one sample of `name` carrying all of `labels`.
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let found: Vec<f64> = self
            .samples
            .iter()
            .filter(|(n, l, _)| {
                n == name
                    && labels
                        .iter()
                        .all(|(k, v)| l.iter().any(|(lk, lv)| lk == k && lv == v))
            })
            .map(|(_, _, v)| *v)
            .collect();
        assert!(found.len() <= 1, "{name} {labels:?} matches {found:?}");
        found.first().copied()
    }

    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.get(name, labels)
            .unwrap_or_else(|| panic!("no {name} {labels:?} in\n{}", self.text))
    }

    fn has_family(&self, name: &str, kind: &str) -> bool {
        self.text
            .lines()
            .any(|l| l == format!("# TYPE {name} {kind}"))
    }
}

async fn scrape(app: &TestApp) -> Scrape {
    scrape_url(&app.client, &app.url("/metrics")).await
}

async fn scrape_url(client: &reqwest::Client, url: &str) -> Scrape {
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    Scrape::parse(response.text().await.unwrap())
}

#[tokio::test]
async fn metrics_follow_a_load_through_the_workers_and_the_sync() {
    const ROWS: u64 = 2000;
    let app = TestApp::spawn_with_workers(2).await;
    let before = scrape(&app).await;
    let stored_before = before.value("roompulse_events_stored_total", &[]);
    let synced_before = before.value("roompulse_sync_passes_total", &[("outcome", "synced")]);
    let sync_events_before = before.value("roompulse_sync_events_total", &[]);
    let failed_before = before.value("roompulse_sync_passes_total", &[("outcome", "failed")]);

    let dir = temp_dir();
    let csv = generated_csv(dir.path(), ROWS, 31);
    let report = load::load_events(&csv, &dir.path().join("r.csv"), app.queue(), false)
        .await
        .unwrap();
    assert_eq!(report.queued, ROWS);
    app.drained_to(ROWS as i64).await;

    let after = scrape(&app).await;
    let stored = after.value("roompulse_events_stored_total", &[]) - stored_before;
    assert!(stored >= ROWS as f64, "events stored rose by {stored}");
    assert_eq!(after.value("roompulse_queue_depth", &[]), 0.0);
    assert_eq!(after.value("roompulse_queue_in_flight", &[]), 0.0);
    assert_eq!(after.value("roompulse_queue_dead_depth", &[]), 0.0);
    assert_eq!(after.value("roompulse_up", &[("dependency", "redis")]), 1.0);
    // The first scrape is counted by its route template, method and status.
    let scrapes = after.value(
        "roompulse_http_requests_total",
        &[("route", "/metrics"), ("method", "GET"), ("status", "200")],
    );
    assert!(scrapes >= 1.0, "{scrapes}");
    for (family, kind) in [
        ("roompulse_worker_batch_size", "histogram"),
        ("roompulse_worker_store_seconds", "histogram"),
        ("roompulse_http_request_duration_seconds", "histogram"),
        ("roompulse_events_stored_total", "counter"),
        ("roompulse_dead_letters_total", "counter"),
        ("roompulse_sync_passes_total", "counter"),
        ("roompulse_queue_depth", "gauge"),
    ] {
        assert!(
            after.has_family(family, kind),
            "no {kind} {family} in\n{}",
            after.text
        );
    }
    assert!(after.value("roompulse_worker_batch_size_count", &[]) >= 1.0);
    assert!(after.value("roompulse_worker_batch_size_bucket", &[("le", "+Inf")]) >= 1.0);
    for reason in ["invalid", "conflict", "refused"] {
        after.value("roompulse_dead_letters_total", &[("reason", reason)]);
    }

    // Nothing counted yet: the whole load is the lag, in events and in time (counted from the
    // first reading that found the dashboard behind, so it only grows while it stays behind).
    assert_eq!(after.value("roompulse_sync_lag_events", &[]), ROWS as f64);
    let first = after.value("roompulse_sync_lag_seconds", &[]);
    assert!(first >= 0.0, "{first}");
    let later = scrape(&app).await.value("roompulse_sync_lag_seconds", &[]);
    assert!(later >= first, "{later} < {first}");

    app.synced(ROWS as i64, 500).await;
    let synced = scrape(&app).await;
    assert_eq!(synced.value("roompulse_sync_lag_events", &[]), 0.0);
    assert_eq!(synced.value("roompulse_sync_lag_seconds", &[]), 0.0);
    let passes =
        synced.value("roompulse_sync_passes_total", &[("outcome", "synced")]) - synced_before;
    assert!(passes >= 1.0, "{passes}");
    let counted = synced.value("roompulse_sync_events_total", &[]) - sync_events_before;
    assert!(counted >= ROWS as f64, "{counted}");

    // A pass that cannot reach the Data Provider counts as failed.
    let unreachable =
        DataProviderClient::new(&format!("http://127.0.0.1:{}", free_port())).unwrap();
    assert!(sync::run_pass(app.dashboard_db(), &unreachable, 500)
        .await
        .is_err());
    let failed = scrape(&app)
        .await
        .value("roompulse_sync_passes_total", &[("outcome", "failed")])
        - failed_before;
    assert!(failed >= 1.0, "{failed}");
    app.stop().await;
}

/// An event of hotel 7 stamped `at`.
fn event_at(id: i64, at: &str) -> serde_json::Value {
    crate::common::fixtures::event_json(id, 7, at, 1, "2022-03-04")
}

/// The time lag comes from the feed, not from event timestamps: a counted event dated 2100 does
/// not pin it at 0 while the dashboard is behind, and retention deleting the newest timestamps
/// does not make it negative.
#[tokio::test]
async fn the_sync_lag_in_seconds_counts_while_behind_whatever_the_timestamps() {
    let app = TestApp::spawn().await;
    app.post_new(&event_at(1, "2022-03-03T03:03:03Z")).await;
    app.post_new(&event_at(2, "2100-06-01T00:00:00Z")).await;
    app.synced(2, 100).await;
    let caught_up = scrape(&app).await;
    assert_eq!(caught_up.value("roompulse_sync_lag_events", &[]), 0.0);
    assert_eq!(caught_up.value("roompulse_sync_lag_seconds", &[]), 0.0);

    // Stored after the dashboard's last pass, dated before everything it counted.
    app.post_new(&event_at(3, "2021-01-01T00:00:00Z")).await;
    assert_eq!(
        scrape(&app).await.value("roompulse_sync_lag_events", &[]),
        1.0
    );
    let a = &app;
    eventually(
        "the lag in seconds grows while behind",
        LIMIT,
        || async move { scrape(a).await.value("roompulse_sync_lag_seconds", &[]) > 0.0 },
    )
    .await;
    let before_retention = scrape(&app).await.value("roompulse_sync_lag_seconds", &[]);

    // The counted events go (the newest timestamps stored); the uncounted one stays.
    use roompulse::data_provider::retention::{self, Guard, Options};
    let cursor = app.dashboard_api().cursor().await.unwrap();
    let report = retention::run(
        &app.events_db_url(),
        &Options {
            before: retention::start_of("2101-01-01".parse().unwrap()).unwrap(),
            guard: Guard::SyncedUpTo(cursor),
            archive: None,
            dry_run: false,
            batch_size: 100,
        },
    )
    .await
    .unwrap();
    assert_eq!((report.retired, report.kept_unsynced), (2, 1));
    let after_retention = scrape(&app).await;
    assert_eq!(after_retention.value("roompulse_sync_lag_events", &[]), 1.0);
    let seconds = after_retention.value("roompulse_sync_lag_seconds", &[]);
    assert!(
        seconds >= before_retention,
        "{seconds} < {before_retention}"
    );

    app.synced(3, 100).await;
    let synced = scrape(&app).await;
    assert_eq!(synced.value("roompulse_sync_lag_events", &[]), 0.0);
    assert_eq!(synced.value("roompulse_sync_lag_seconds", &[]), 0.0);
}

#[tokio::test]
async fn the_queue_depth_gauge_reads_this_apps_queue() {
    const ROWS: u64 = 300;
    let app = TestApp::spawn().await;
    assert_eq!(scrape(&app).await.value("roompulse_queue_depth", &[]), 0.0);
    let dir = temp_dir();
    let csv = generated_csv(dir.path(), ROWS, 32);
    load::load_events(&csv, &dir.path().join("r.csv"), app.queue(), false)
        .await
        .unwrap();
    let loaded = scrape(&app).await;
    assert_eq!(loaded.value("roompulse_queue_depth", &[]), ROWS as f64);
    assert_eq!(loaded.value("roompulse_queue_in_flight", &[]), 0.0);
    assert_eq!(loaded.value("roompulse_sync_lag_events", &[]), 0.0);
    assert_eq!(loaded.value("roompulse_sync_lag_seconds", &[]), 0.0);
}

#[tokio::test]
async fn routes_are_labelled_by_template_and_unknown_paths_share_one_label() {
    let app = TestApp::spawn().await;
    let path = format!("/no-such-page-{}", uuid::Uuid::new_v4().simple());
    let response = app.client.get(app.url(&path)).send().await.unwrap();
    assert_eq!(response.status(), 404);
    let response = app
        .client
        .get(app.url("/events?limit=1&hotel_id=3"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let scraped = scrape(&app).await;
    let unmatched = scraped.value(
        "roompulse_http_requests_total",
        &[("route", "unmatched"), ("method", "GET"), ("status", "404")],
    );
    assert!(unmatched >= 1.0);
    let events = scraped.value(
        "roompulse_http_requests_total",
        &[("route", "/events"), ("method", "GET"), ("status", "200")],
    );
    assert!(events >= 1.0);
    assert!(!scraped.text.contains(&path), "the raw path became a label");
    assert!(!scraped.text.contains("hotel_id=3"));
    assert!(
        scraped.value(
            "roompulse_http_request_duration_seconds_count",
            &[("route", "/events"), ("method", "GET")],
        ) >= 1.0
    );
}

#[tokio::test]
async fn the_endpoint_answers_while_redis_is_down() {
    let app = TestApp::spawn().await;
    // The same app, its queue pointed at a port where nothing listens.
    let unreachable = Queue::new(
        &format!("redis://127.0.0.1:{}", free_port()),
        QueueKeys::new("roompulse-test:unreachable:events"),
        2,
    )
    .unwrap();
    let url = format!(
        "{}/metrics",
        serve_router(app.router_with_queue(unreachable)).await
    );
    let scraped = scrape_url(&app.client, &url).await;
    assert_eq!(
        scraped.value("roompulse_up", &[("dependency", "redis")]),
        0.0
    );
    assert_eq!(scraped.get("roompulse_queue_depth", &[]), None);
    assert_eq!(scraped.get("roompulse_queue_dead_depth", &[]), None);
    // The databases still answer, and so do their gauges.
    assert_eq!(
        scraped.value("roompulse_up", &[("dependency", "data_provider_database")]),
        1.0
    );
    assert_eq!(scraped.value("roompulse_sync_lag_events", &[]), 0.0);
}

#[tokio::test]
async fn the_openapi_document_describes_metrics_as_text() {
    let app = TestApp::spawn().await;
    let doc: serde_json::Value = app.get_json("/api-docs/data-provider.json").await;
    let op = &doc["paths"]["/metrics"]["get"];
    assert_eq!(op["tags"][0], "operations", "{op}");
    let content = op["responses"]["200"]["content"]
        .as_object()
        .expect("a 200 response with content");
    assert!(
        content.keys().any(|k| k.starts_with("text/plain")),
        "{content:?}"
    );
}

/// `roompulse worker --metrics-addr` serves the probes and the metrics, and nothing else.
#[tokio::test]
async fn a_worker_process_can_serve_its_metrics_and_probes() {
    let app = TestApp::spawn().await;
    let base = serve_router(app.operations_router()).await;
    let get = |path: &'static str| app.client.get(format!("{base}{path}")).send();
    assert_eq!(
        get("/health").await.unwrap().status(),
        reqwest::StatusCode::OK
    );
    assert_eq!(
        get("/ready").await.unwrap().status(),
        reqwest::StatusCode::OK
    );
    let metrics = get("/metrics").await.unwrap().text().await.unwrap();
    assert!(metrics.contains("roompulse_queue_depth 0"), "{metrics}");
    assert!(
        metrics.contains("roompulse_events_stored_total"),
        "{metrics}"
    );
    assert_eq!(
        get("/events").await.unwrap().status(),
        reqwest::StatusCode::NOT_FOUND
    );
}

/// 40 scrapers at once used to run 40 sets of queries (their cost grows with the sync lag),
/// pushing the API's median latency past a second. Now they share one reading.
#[tokio::test]
async fn concurrent_scrapes_share_one_reading() {
    let app = TestApp::spawn_configured(0, |c| c.http.metrics_refresh_ms = 3_600_000).await;
    let scrapes = futures_util::future::join_all((0..40).map(|_| scrape(&app))).await;
    for s in &scrapes {
        assert_eq!(s.value("roompulse_metrics_refreshes_total", &[]), 1.0);
        assert_eq!(s.value("roompulse_queue_depth", &[]), 0.0);
        assert!(s.value("roompulse_metrics_age_seconds", &[]) >= 0.0);
    }
    // Readiness probes use the same reading.
    let ready = app.client.get(app.url("/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let later = scrape(&app).await;
    assert_eq!(later.value("roompulse_metrics_refreshes_total", &[]), 1.0);
}

/// A transaction in the events database holds the change feed back; it used to do so
/// invisibly.
#[tokio::test]
async fn a_transaction_holding_the_feed_back_is_measured_and_named() {
    let app = TestApp::spawn_configured(0, |c| c.http.feed_horizon_warn_secs = 0).await;
    let name = format!("blocker-{}", uuid::Uuid::new_v4().simple());
    let events_db = app.events_db_url();
    let database = events_db.rsplit('/').next().unwrap_or_default().to_string();
    let (blocker, conn) = tokio_postgres::connect(
        &format!("{events_db}?application_name={name}"),
        tokio_postgres::NoTls,
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    blocker.batch_execute("BEGIN").await.unwrap();
    blocker
        .query_one("SELECT pg_current_xact_id()::text", &[])
        .await
        .unwrap();
    // Older transactions in this database (the app's own) end; ours does not.
    eventually("the feed horizon names our transaction", LIMIT, || async {
        let age = scrape(&app)
            .await
            .value("roompulse_feed_horizon_age_seconds", &[]);
        let r = app.client.get(app.url("/ready")).send().await.unwrap();
        assert_eq!(r.status(), 200, "a held-back feed leaves the process ready");
        let ready: serde_json::Value = r.json().await.unwrap();
        let held = &ready["feed_held_back_by"];
        age > 0.0
            && held["application_name"] == name.as_str()
            && held["database"] == database.as_str()
            && held["age_seconds"].as_f64().is_some_and(|a| a > 0.0)
    })
    .await;
    blocker.batch_execute("ROLLBACK").await.unwrap();
    eventually("our transaction is no longer reported", LIMIT, || async {
        let ready: serde_json::Value = app.get_json("/ready").await;
        ready["feed_held_back_by"]["application_name"] != name.as_str()
    })
    .await;
}

/// Loading the same 2,000 rows twice used to report 4,000 events stored while the table held
/// 2,000. Counters are process-wide, so this runs the workers in a process of their own.
#[tokio::test]
async fn a_file_loaded_twice_counts_each_event_stored_once() {
    const ROWS: u64 = 2000;
    let (events_db, dashboard_db) = tokio::join!(TestDb::data_provider(), TestDb::dashboard());
    let keys = TestKeys::new();
    let dir = temp_dir();
    let port = free_port();
    let _worker = tokio::process::Command::new(env!("CARGO_BIN_EXE_roompulse"))
        .args(["worker", "--workers", "2", "--metrics-addr"])
        .arg(format!("127.0.0.1:{port}"))
        .current_dir(dir.path())
        .env("DATA_PROVIDER_DATABASE_URL", &events_db.url)
        .env("DASHBOARD_DATABASE_URL", &dashboard_db.url)
        .env("REDIS_URL", REDIS_URL)
        .env("EVENTS_QUEUE_KEY", &keys.queue_key)
        .env("WORKER_BATCH_SIZE", "500")
        .env("METRICS_REFRESH_MS", "0")
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let queue = keys.queue();
    let csv = generated_csv(dir.path(), ROWS, 33);
    for _ in 0..2 {
        let report = load::load_events(&csv, &dir.path().join("r.csv"), &queue, false)
            .await
            .unwrap();
        assert_eq!(report.queued, ROWS);
    }
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/metrics");
    eventually(
        "the worker process has handled both loads",
        LIMIT,
        || async {
            let Ok(r) = client.get(&url).send().await else {
                return false;
            };
            let s = Scrape::parse(r.text().await.unwrap());
            s.get("roompulse_worker_batch_size_sum", &[]) == Some(2.0 * ROWS as f64)
        },
    )
    .await;
    let scraped = scrape_url(&client, &url).await;
    assert_eq!(
        scraped.value("roompulse_events_stored_total", &[]),
        ROWS as f64
    );
    assert_eq!(
        scraped.value("roompulse_events_duplicates_total", &[]),
        ROWS as f64
    );
    let pool = roompulse::db::pool(&events_db.url, 1).unwrap();
    let stored = roompulse::data_provider::store::count(&pool).await.unwrap();
    assert_eq!(stored, ROWS as i64);
}
