//! `roompulse bench`: generate N events, load them onto the queue, drain them into PostgreSQL,
//! and compare with a raw binary COPY of the same rows, all in one run on scratch databases.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures_util::pin_mut;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::Type;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
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
        .map_err(|e| fail("connect to PostgreSQL")(&e))?;
    tokio::spawn(conn);
    Ok(client)
}

pub async fn run(cfg: &Config, opts: &BenchOptions) -> Result<Vec<Stage>, BenchError> {
    let events_url = scratch_url(&cfg.data_provider_database_url, "roompulse_bench_events")?;
    let admin = admin_client(&scratch_url(&cfg.data_provider_database_url, "postgres")?).await?;
    admin
        .batch_execute("DROP DATABASE IF EXISTS roompulse_bench_events WITH (FORCE)")
        .await
        .map_err(|e| fail("drop scratch database")(&e))?;
    db::migrate(&events_url, db::DATA_PROVIDER_MIGRATIONS)
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
    let handles: Vec<_> = (0..opts.workers)
        .map(|_| {
            tokio::spawn(worker::run(
                queue.clone(),
                pool.clone(),
                settings.clone(),
                shutdown.clone(),
            ))
        })
        .collect();
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

    stages.push(copy_baseline(&events_url, &gen).await?);
    let _ = std::fs::remove_file(&csv);
    clear_keys(&cfg.redis_url, &keys.queue).await?;
    Ok(stages)
}

/// A raw binary COPY of the same rows into a copy of the events table (same indexes and
/// defaults): what PostgreSQL itself can take on this machine, measured in the same run.
async fn copy_baseline(url: &str, gen: &GenerateOptions) -> Result<Stage, BenchError> {
    let client = admin_client(url).await?;
    client
        .batch_execute(
            "DROP TABLE IF EXISTS events_copy; CREATE TABLE events_copy (LIKE events INCLUDING ALL)",
        )
        .await
        .map_err(|e| fail("create events_copy")(&e))?;
    let started = Instant::now();
    let sink = client
        .copy_in("COPY events_copy (id, hotel_id, event_timestamp, status, room_reservation_id, night_of_stay) FROM STDIN BINARY")
        .await
        .map_err(|e| fail("COPY")(&e))?;
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
            .map_err(|e| fail("COPY row")(&e))?;
        rows += 1;
    }
    writer.finish().await.map_err(|e| fail("COPY finish")(&e))?;
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

pub fn print(stages: &[Stage]) {
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
    if let (Some(drain), Some(copy)) = (rate("drain"), rate("raw binary COPY")) {
        println!("\ndrain / raw COPY = {:.2}", drain / copy);
    }
}
