//! `roompulse bench`: generate N events, load them onto the queue, drain them into PostgreSQL,
//! and compare with a raw binary COPY of the same rows, all in one run on scratch databases.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures_util::pin_mut;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::Type;
use tokio_util::sync::CancellationToken;

use std::collections::HashMap;

use chrono::NaiveDate;

use crate::app::router;
use crate::config::Config;
use crate::dashboard::client::DataProviderClient;
use crate::dashboard::sync;
use crate::data_provider::generate::{self, GenerateOptions};
use crate::data_provider::queue::{Queue, QueueKeys};
use crate::data_provider::{load, store, worker};
use crate::db;

#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub events: u64,
    pub workers: usize,
    pub hotels: u32,
    pub work_dir: PathBuf,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BenchError(String);

use crate::data_provider::store::pg_error;

fn fail(what: &str) -> impl Fn(&dyn std::fmt::Display) -> BenchError + '_ {
    move |e| BenchError(format!("{what}: {e}"))
}

/// One stage's figures.
pub struct Stage {
    pub name: &'static str,
    pub rows: u64,
    pub elapsed: Duration,
}

impl Stage {
    pub fn rate(&self) -> f64 {
        self.rows as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// The scratch database URL beside the configured one.
fn scratch_url(base: &str, name: &str) -> Result<String, BenchError> {
    let mut url = url::Url::parse(base).map_err(|e| fail("database URL")(&e))?;
    url.set_path(&format!("/{name}"));
    Ok(url.to_string())
}

async fn admin_client(url: &str) -> Result<tokio_postgres::Client, BenchError> {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .map_err(|e| fail("connect to PostgreSQL")(&pg_error(&e)))?;
    tokio::spawn(conn);
    Ok(client)
}

pub struct BenchReport {
    pub stages: Vec<Stage>,
    /// Markdown table rows from wrk, or why there are none.
    pub latency: Vec<String>,
}

pub async fn run(cfg: &Config, opts: &BenchOptions) -> Result<BenchReport, BenchError> {
    let events_url = scratch_url(&cfg.data_provider_database_url, "roompulse_bench_events")?;
    let dashboard_url = scratch_url(&cfg.dashboard_database_url, "roompulse_bench_dashboard")?;
    let admin = admin_client(&scratch_url(&cfg.data_provider_database_url, "postgres")?).await?;
    admin
        .batch_execute("DROP DATABASE IF EXISTS roompulse_bench_events WITH (FORCE)")
        .await
        .map_err(|e| fail("drop scratch database")(&pg_error(&e)))?;
    admin
        .batch_execute("DROP DATABASE IF EXISTS roompulse_bench_dashboard WITH (FORCE)")
        .await
        .map_err(|e| fail("drop scratch database")(&pg_error(&e)))?;
    db::migrate(&events_url, db::DATA_PROVIDER_MIGRATIONS)
        .await
        .map_err(|e| fail("migrate")(&e))?;
    db::migrate(&dashboard_url, db::DASHBOARD_MIGRATIONS)
        .await
        .map_err(|e| fail("migrate")(&e))?;
    let keys = QueueKeys::new("roompulse-bench:events");
    let queue = Queue::new(&cfg.redis_url, keys.clone(), 2 * opts.workers + 4)
        .map_err(|e| fail("redis")(&e))?;
    clear_keys(&cfg.redis_url, &keys.queue).await?;

    let csv = opts.work_dir.join(format!("bench-{}.csv", opts.events));
    let gen = GenerateOptions {
        rows: opts.events,
        hotels: opts.hotels,
        seed: 1,
        trailing_blank_lines: 0,
    };
    let started = Instant::now();
    let file = std::fs::File::create(&csv).map_err(|e| fail("create CSV")(&e))?;
    generate::write_csv(&gen, file).map_err(|e| fail("write CSV")(&e))?;
    let mut stages = vec![Stage {
        name: "generate-events (CSV written)",
        rows: opts.events,
        elapsed: started.elapsed(),
    }];

    let rejects = opts.work_dir.join("bench.rejects.csv");
    let report = load::load_events(&csv, &rejects, &queue, false)
        .await
        .map_err(|e| fail("load-events")(&e))?;
    stages.push(Stage {
        name: "load-events (CSV → Redis)",
        rows: report.queued,
        elapsed: report.elapsed,
    });

    let pool = db::pool(&events_url, opts.workers as u32 + 2).map_err(|e| fail("pool")(&e))?;
    let mut settings = worker::WorkerSettings::from_config(cfg);
    settings.idle_wait = Duration::from_millis(200);
    settings.copy_url = Some(events_url.clone());
    let shutdown = CancellationToken::new();
    let started = Instant::now();
    let handles = spawn_workers(opts.workers, &queue, &pool, &settings, &shutdown);
    let target = report.queued as i64;
    let (mut last, mut last_change) = (0, Instant::now());
    loop {
        let stored = store::count(&pool).await.map_err(|e| fail("count")(&e))?;
        if stored >= target {
            break;
        }
        if stored != last {
            (last, last_change) = (stored, Instant::now());
        } else if last_change.elapsed() > Duration::from_secs(30) {
            shutdown.cancel();
            let dead = queue.dead_depth().await.unwrap_or(-1);
            return Err(BenchError(format!(
                "drain stalled at {stored} of {target} events ({dead} dead letters in {})",
                keys.dead
            )));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stages.push(Stage {
        name: "drain (Redis → events table, workers)",
        rows: report.queued,
        elapsed: started.elapsed(),
    });
    shutdown.cancel();
    for h in handles {
        let _ = h.await;
    }

    // The Data Provider's API in this process, for the sync to page through over HTTP.
    let dashboard_pool = db::pool(&dashboard_url, 4).map_err(|e| fail("pool")(&e))?;
    let state = crate::serve::app_state(cfg, pool.clone(), dashboard_pool.clone(), queue.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| fail("bind")(&e))?;
    let base_url = format!(
        "http://{}",
        listener.local_addr().map_err(|e| fail("bind")(&e))?
    );
    let server_stop = CancellationToken::new();
    let state_for_uncached = state.clone();
    let server = tokio::spawn({
        let stop = server_stop.clone();
        async move {
            let _ = axum::serve(listener, router(state))
                .with_graceful_shutdown(stop.cancelled_owned())
                .await;
        }
    });
    let client = DataProviderClient::new(&base_url).map_err(|e| fail("client")(&e))?;
    // The same API without the answer cache: every GET /dashboard reads the tables.
    let mut uncached = state_for_uncached;
    uncached.dashboard.cache =
        std::sync::Arc::new(crate::dashboard::api::DashboardCache::new(Duration::ZERO));
    uncached.dashboard.pace_cache =
        std::sync::Arc::new(crate::dashboard::pace::PaceCache::new(Duration::ZERO));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| fail("bind")(&e))?;
    let uncached_url = format!(
        "http://{}",
        listener.local_addr().map_err(|e| fail("bind")(&e))?
    );
    let uncached_server = tokio::spawn({
        let stop = server_stop.clone();
        async move {
            let _ = axum::serve(listener, router(uncached))
                .with_graceful_shutdown(stop.cancelled_owned())
                .await;
        }
    });

    let started = Instant::now();
    sync_until(&dashboard_pool, &client, target, &CancellationToken::new()).await?;
    stages.push(Stage {
        name: "sync (GET /events feed → dashboard tables)",
        rows: report.queued,
        elapsed: started.elapsed(),
    });

    stages.push(copy_baseline(&events_url, &gen).await?);

    // The whole chain at once: load, drain and sync overlapping, from an empty system.
    reset(&events_url, &dashboard_url).await?;
    clear_keys(&cfg.redis_url, &keys.queue).await?;
    let shutdown = CancellationToken::new();
    let started = Instant::now();
    let handles = spawn_workers(opts.workers, &queue, &pool, &settings, &shutdown);
    let sync = tokio::spawn({
        let (pool, client, stop) = (dashboard_pool.clone(), client.clone(), shutdown.clone());
        async move { sync_until(&pool, &client, target, &stop).await }
    });
    let loaded = load::load_events(&csv, &rejects, &queue, false)
        .await
        .map_err(|e| fail("load-events")(&e))?;
    let synced = sync.await.map_err(|e| fail("sync task")(&e));
    let elapsed = started.elapsed();
    shutdown.cancel();
    for h in handles {
        let _ = h.await;
    }
    synced??;
    stages.push(Stage {
        name: "whole chain (CSV → Redis → events → feed → dashboard), overlapped",
        rows: loaded.queued,
        elapsed,
    });
    verify_figures(&dashboard_url, &gen).await?;

    let mut latency = dashboard_latency(&base_url, opts.hotels, "answer cache on").await;
    latency.extend(dashboard_latency(&uncached_url, opts.hotels, "cache off").await);
    server_stop.cancel();
    let _ = server.await;
    let _ = uncached_server.await;
    let _ = std::fs::remove_file(&csv);
    clear_keys(&cfg.redis_url, &keys.queue).await?;
    Ok(BenchReport { stages, latency })
}

fn spawn_workers(
    n: usize,
    queue: &Queue,
    pool: &db::PgPool,
    settings: &worker::WorkerSettings,
    shutdown: &CancellationToken,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..n)
        .map(|_| {
            tokio::spawn(worker::run(
                queue.clone(),
                pool.clone(),
                settings.clone(),
                shutdown.clone(),
            ))
        })
        .collect()
}

/// Runs sync passes back to back (a schedule of "as often as possible") until `target` events
/// are counted.
async fn sync_until(
    pool: &db::PgPool,
    client: &DataProviderClient,
    target: i64,
    stop: &CancellationToken,
) -> Result<(), BenchError> {
    loop {
        let outcome = sync::run_pass(pool, client, sync::PAGE_SIZE)
            .await
            .map_err(|e| fail("sync pass")(&e))?;
        if let sync::PassOutcome::Synced(r) = outcome {
            if r.events_synced >= target {
                return Ok(());
            }
            if r.events == 0 {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        if stop.is_cancelled() {
            return Err(BenchError("stopped before the sync caught up".into()));
        }
    }
}

async fn reset(events_url: &str, dashboard_url: &str) -> Result<(), BenchError> {
    admin_client(events_url)
        .await?
        .batch_execute("TRUNCATE events")
        .await
        .map_err(|e| fail("truncate events")(&pg_error(&e)))?;
    admin_client(dashboard_url)
        .await?
        .batch_execute(
            "TRUNCATE dashboard_daily; \
             UPDATE sync_state SET cursor = NULL, events_synced = 0, last_event_at = NULL",
        )
        .await
        .map_err(|e| fail("reset dashboard")(&pg_error(&e)))
}

/// Compares every stored daily figure with figures computed here from the generator, so a
/// fast chain that counts wrong fails the benchmark.
async fn verify_figures(dashboard_url: &str, gen: &GenerateOptions) -> Result<(), BenchError> {
    let mut expected: HashMap<(i32, i16, NaiveDate), (i64, i64)> = HashMap::new();
    for r in generate::rows(gen) {
        for key in [
            (r.hotel_id, 1, r.event_timestamp.date_naive()),
            (r.hotel_id, 2, r.night_of_stay),
        ] {
            let c = expected.entry(key).or_default();
            if r.status == 1 {
                c.0 += 1;
            } else {
                c.1 += 1;
            }
        }
    }
    let rows = admin_client(dashboard_url)
        .await?
        .query(
            "SELECT hotel_id, basis, day, bookings, cancellations FROM dashboard_daily",
            &[],
        )
        .await
        .map_err(|e| fail("read figures")(&pg_error(&e)))?;
    let got: HashMap<(i32, i16, NaiveDate), (i64, i64)> = rows
        .iter()
        .map(|r| ((r.get(0), r.get(1), r.get(2)), (r.get(3), r.get(4))))
        .collect();
    if got != expected {
        let wrong = expected
            .iter()
            .filter(|(k, v)| got.get(k) != Some(v))
            .count();
        return Err(BenchError(format!(
            "the dashboard's figures are wrong in {wrong} of {} buckets",
            expected.len()
        )));
    }
    Ok(())
}

/// `wrk` against `GET /dashboard` (50 connections, 10 s each view), when wrk is installed.
async fn dashboard_latency(base_url: &str, hotels: u32, label: &str) -> Vec<String> {
    let mut out = Vec::new();
    let hotel = 2600 + hotels.saturating_sub(1) / 2;
    for view in [
        format!("hotel_id={hotel}&period=month&year=2022"),
        format!("hotel_id={hotel}&period=day&year=2022"),
        format!("hotel_id={hotel}&period=day&year=2023&basis=stay"),
    ] {
        let url = format!("{base_url}/dashboard?{view}");
        let run = tokio::process::Command::new("wrk")
            .args(["-t2", "-c50", "-d10s", "--latency", &url])
            .output()
            .await;
        match run {
            Ok(o) if o.status.success() => {
                let text = String::from_utf8_lossy(&o.stdout);
                let pick = |prefix: &str| {
                    text.lines()
                        .find(|l| l.trim_start().starts_with(prefix))
                        .map(|l| l.split_whitespace().nth(1).unwrap_or("?").to_string())
                        .unwrap_or_else(|| "?".into())
                };
                let errors = text
                    .lines()
                    .find(|l| l.contains("Non-2xx") || l.contains("Socket errors"))
                    .unwrap_or("no errors");
                out.push(format!(
                    "| `GET /dashboard?{view}` ({label}) | {} | {} | {} | {} |",
                    pick("50%"),
                    pick("99%"),
                    pick("Requests/sec:"),
                    errors.trim()
                ));
            }
            _ => {
                out.push("wrk is not installed (apt-get install wrk): latency not measured".into());
                break;
            }
        }
    }
    out
}

/// A raw binary COPY of the same rows into a copy of the events table (same indexes and
/// defaults): what PostgreSQL itself can take on this machine, measured in the same run.
async fn copy_baseline(url: &str, gen: &GenerateOptions) -> Result<Stage, BenchError> {
    let client = admin_client(url).await?;
    client
        .batch_execute(
            "DROP TABLE IF EXISTS events_copy; CREATE TABLE events_copy (LIKE events INCLUDING ALL); \
             ALTER TABLE events_copy ALTER COLUMN tx_id SET DEFAULT (pg_current_xact_id()::text::bigint)",
        )
        .await
        .map_err(|e| fail("create events_copy")(&pg_error(&e)))?;
    let started = Instant::now();
    let sink = client
        .copy_in("COPY events_copy (id, hotel_id, event_timestamp, status, room_reservation_id, night_of_stay) FROM STDIN BINARY")
        .await
        .map_err(|e| fail("COPY")(&pg_error(&e)))?;
    let writer = BinaryCopyInWriter::new(
        sink,
        &[
            Type::INT8,
            Type::INT4,
            Type::TIMESTAMPTZ,
            Type::INT2,
            Type::UUID,
            Type::DATE,
        ],
    );
    pin_mut!(writer);
    let mut rows = 0u64;
    for r in generate::rows(gen) {
        writer
            .as_mut()
            .write(&[
                &r.id,
                &r.hotel_id,
                &r.event_timestamp,
                &r.status,
                &r.room_reservation_id,
                &r.night_of_stay,
            ])
            .await
            .map_err(|e| fail("COPY row")(&pg_error(&e)))?;
        rows += 1;
    }
    writer
        .finish()
        .await
        .map_err(|e| fail("COPY finish")(&pg_error(&e)))?;
    Ok(Stage {
        name: "raw binary COPY of the same rows (baseline)",
        rows,
        elapsed: started.elapsed(),
    })
}

async fn clear_keys(redis_url: &str, prefix: &str) -> Result<(), BenchError> {
    use redis::AsyncCommands;
    let client = redis::Client::open(redis_url).map_err(|e| fail("redis")(&e))?;
    let mut c = client
        .get_multiplexed_async_connection()
        .await
        .map_err(|e| fail("redis")(&e))?;
    let keys: Vec<String> = c
        .keys(format!("{prefix}*"))
        .await
        .map_err(|e| fail("redis")(&e))?;
    if !keys.is_empty() {
        let _: () = c.del(keys).await.map_err(|e| fail("redis")(&e))?;
    }
    Ok(())
}

pub fn print(report: &BenchReport) {
    let stages = &report.stages;
    println!("| stage | rows | seconds | rows/s |");
    println!("|---|---:|---:|---:|");
    for s in stages {
        println!(
            "| {} | {} | {:.2} | {:.0} |",
            s.name,
            s.rows,
            s.elapsed.as_secs_f64(),
            s.rate()
        );
    }
    let rate = |prefix: &str| {
        stages
            .iter()
            .find(|s| s.name.starts_with(prefix))
            .map(Stage::rate)
    };
    if let Some(copy) = rate("raw binary COPY") {
        println!();
        for name in ["drain", "sync", "whole chain"] {
            if let Some(r) = rate(name) {
                println!("{name} / raw COPY = {:.2}", r / copy);
            }
        }
    }
    println!(
        "\nThe whole chain's figures were checked bucket by bucket against the generator: exact."
    );
    if !report.latency.is_empty() {
        println!("\n| request (wrk, 50 connections, 10 s) | p50 | p99 | requests/s | errors |");
        println!("|---|---:|---:|---:|---|");
        for l in &report.latency {
            println!("{l}");
        }
    }
}
