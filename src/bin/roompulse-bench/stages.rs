//! The stages, each timed on scratch databases and a scratch queue key.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use roompulse::config::{
    ApiAccessSettings, ApiLimitSettings, Config, DashboardDbSettings, EventsDbSettings,
    KeySettings, PoolSettings, QueueSettings,
};
use roompulse::dashboard::client::DataProviderClient;
use roompulse::dashboard::sync;
use roompulse::data_provider::event::Event;
use roompulse::data_provider::generate::{self, GenerateOptions};
use roompulse::data_provider::queue::{Queue, QueueKeys};
use roompulse::data_provider::{load, store, worker};
use roompulse::db;
use roompulse::db::pg_error;
use roompulse::serve::prepare;

use crate::figures::verify_figures;
use crate::latency;
use crate::support::{admin_client, fail, scratch_url, serve_on_loopback, BenchError};

#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub events: u64,
    pub workers: usize,
    pub hotels: u32,
    pub work_dir: PathBuf,
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

pub struct BenchReport {
    pub stages: Vec<Stage>,
    /// Markdown table rows from wrk, or why there are none.
    pub latency: Vec<String>,
    /// The dashboard database's size with every event counted, by table.
    pub dashboard_bytes: Vec<(String, i64)>,
}

/// The dashboard database's size in all and of its figure tables (indexes included), for
/// bytes per stored event.
async fn database_bytes(url: &str) -> Result<Vec<(String, i64)>, BenchError> {
    let client = admin_client(url).await?;
    client
        .batch_execute("VACUUM ANALYZE")
        .await
        .map_err(|e| fail("vacuum")(&pg_error(&e)))?;
    let rows = client
        .query(
            "SELECT 'whole database', pg_database_size(current_database()) \
             UNION ALL SELECT relname::text, pg_total_relation_size(oid) FROM pg_class \
             WHERE relname IN ('dashboard_daily', 'dashboard_pace') ORDER BY 1",
            &[],
        )
        .await
        .map_err(|e| fail("database size")(&pg_error(&e)))?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

pub async fn run(cfg: &Config, opts: &BenchOptions) -> Result<BenchReport, BenchError> {
    let events_url = scratch_url(
        &cfg.events_db.data_provider_database_url,
        "roompulse_bench_events",
    )?;
    let dashboard_url = scratch_url(
        &cfg.dashboard_db.dashboard_database_url,
        "roompulse_bench_dashboard",
    )?;
    let admin = admin_client(&scratch_url(
        &cfg.events_db.data_provider_database_url,
        "postgres",
    )?)
    .await?;
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
    let queue = Queue::new(
        &cfg.queue.redis.redis_url,
        keys.clone(),
        2 * opts.workers + 4,
    )
    .map_err(|e| fail("redis")(&e))?;
    clear_keys(&cfg.queue.redis.redis_url, &keys.queue).await?;

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

    // The Data Provider's API in this process, for the sync to page through over HTTP, built as
    // `serve` builds it, on the scratch databases and queue key.
    let dashboard_pool = db::pool(&dashboard_url, 4).map_err(|e| fail("pool")(&e))?;
    let api_config = scratch_config(cfg, &events_url, &dashboard_url, &keys.queue, opts.workers);
    let state = prepare(&api_config, opts.workers)
        .await
        .map_err(|e| fail("start the API")(&e))?;
    let server_stop = CancellationToken::new();
    let (base_url, server) = serve_on_loopback(state, &server_stop).await?;
    let client = DataProviderClient::new(&base_url).map_err(|e| fail("client")(&e))?;
    // The same API without the answer cache: every GET /dashboard reads the tables.
    let uncached = prepare(
        &Config {
            limits: ApiLimitSettings {
                dashboard_cache_ms: 0,
                ..api_config.limits
            },
            ..api_config
        },
        opts.workers,
    )
    .await
    .map_err(|e| fail("start the API")(&e))?;
    let (uncached_url, uncached_server) = serve_on_loopback(uncached, &server_stop).await?;

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
    clear_keys(&cfg.queue.redis.redis_url, &keys.queue).await?;
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

    let dashboard_bytes = database_bytes(&dashboard_url).await?;
    let views = latency::views(opts.hotels);
    let (plain, pace): (Vec<_>, Vec<_>) = views
        .into_iter()
        .partition(|v| v.path.starts_with("/dashboard?"));
    let cpu = latency::CpuProbe {
        database: admin_client(&dashboard_url).await?,
    };
    let mut latency = latency::measure(&base_url, "answer cache on", &plain, None).await;
    latency.extend(latency::measure(&uncached_url, "cache off", &plain, Some(&cpu)).await);
    latency.extend(latency::measure(&uncached_url, "cache off", &pace, Some(&cpu)).await);
    server_stop.cancel();
    let _ = server.await;
    let _ = uncached_server.await;
    let _ = std::fs::remove_file(&csv);
    clear_keys(&cfg.queue.redis.redis_url, &keys.queue).await?;
    Ok(BenchReport {
        stages,
        latency,
        dashboard_bytes,
    })
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
            // Every figure goes, and the versions with them: a running service's in-memory
            // books see their hotels' versions change and reload. Tables an older build's
            // schema lacks are skipped (A/B runs reset both builds' databases).
            "TRUNCATE dashboard_daily; \
             DO $$ BEGIN \
                 IF to_regclass('dashboard_pace') IS NOT NULL THEN TRUNCATE dashboard_pace; END IF; \
                 IF to_regclass('dashboard_hotel_versions') IS NOT NULL THEN \
                     TRUNCATE dashboard_hotel_versions; END IF; \
             END $$; \
             UPDATE sync_state SET cursor = NULL, events_synced = 0, last_event_at = NULL",
        )
        .await
        .map_err(|e| fail("reset dashboard")(&pg_error(&e)))
}

/// A raw binary COPY of the same rows into a copy of the events table (same indexes and
/// defaults): what PostgreSQL itself can take on this machine, measured in the same run. The
/// rows go in generated order, in one statement outside a transaction, and `tx_id` is left to
/// its default: the plain transaction id, not the feed position the workers look up.
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
    let rows = generate::rows(gen).map(Event::from);
    let rows = store::copy_events(&client, "events_copy", None, None, rows)
        .await
        .map_err(|e| fail("COPY")(&pg_error(&e)))?;
    Ok(Stage {
        name: "raw binary COPY of the same rows (baseline)",
        rows,
        elapsed: started.elapsed(),
    })
}

/// `cfg` on the scratch databases and queue key, with a pool for `workers` and no token: the
/// API `serve` would run there, open.
pub fn scratch_config(
    cfg: &Config,
    events_url: &str,
    dashboard_url: &str,
    queue_key: &str,
    workers: usize,
) -> Config {
    Config {
        access: ApiAccessSettings {
            read_api_token: None,
            ..cfg.access.clone()
        },
        events_db: EventsDbSettings {
            data_provider_database_url: events_url.to_string(),
        },
        dashboard_db: DashboardDbSettings {
            dashboard_database_url: dashboard_url.to_string(),
        },
        queue: QueueSettings {
            events_queue_key: queue_key.to_string(),
            ..cfg.queue.clone()
        },
        pool: PoolSettings {
            database_pool_size: workers as u32 + 2,
        },
        keys: KeySettings {
            ingest_api_token: None,
            ..cfg.keys.clone()
        },
        ..cfg.clone()
    }
}

pub async fn clear_keys(redis_url: &str, prefix: &str) -> Result<(), BenchError> {
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
    let events = stages.first().map_or(0, |s| s.rows).max(1);
    println!("\n| dashboard database, every event counted | bytes | bytes per event |");
    println!("|---|---:|---:|");
    for (what, bytes) in &report.dashboard_bytes {
        println!(
            "| {what} | {bytes} | {:.1} |",
            *bytes as f64 / events as f64
        );
    }
    if !report.latency.is_empty() {
        println!(
            "\n| request (wrk, 10 s) | connections | p50 | p99 | requests/s | CPU ms/request, service | CPU ms/request, PostgreSQL | errors |"
        );
        println!("|---|---:|---:|---:|---:|---:|---:|---|");
        for l in &report.latency {
            println!("{l}");
        }
    }
}
