//! `roompulse-bench scale`: chunks of generated events loaded one after another into one running
//! system (queue workers and the dashboard's sync running throughout, on scratch databases), to
//! see whether ingest slows as the events table grows; per chunk the rate, the write-ahead log
//! and the storage it took, and the first-page latency of `GET /events` for each filter alone.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use roompulse::config::Config;
use roompulse::dashboard::client::DataProviderClient;
use roompulse::dashboard::sync;
use roompulse::data_provider::event::Event;
use roompulse::data_provider::generate::{self, GenerateOptions, Shape};
use roompulse::data_provider::queue::{Queue, QueueKeys};
use roompulse::data_provider::store;
use roompulse::data_provider::{load, worker};
use roompulse::db;
use roompulse::db::pg_error;
use roompulse::serve::prepare;

use crate::support::{admin_client, fail, scratch_url, serve_on_loopback, BenchError};

/// How the chunks' events arrive.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ArrivalOrder {
    /// Multi-year history: timestamps anywhere in 2022–2023; each chunk's ids interleave with
    /// every other chunk's (per-hotel exports from one central system).
    Shuffled,
    /// Live traffic: timestamps from the start of the run on, one event a millisecond, ids and
    /// timestamps increasing across chunks.
    Time,
}

#[derive(Debug, Clone)]
pub struct ScaleOptions {
    pub chunks: u32,
    pub chunk_events: u64,
    pub order: ArrivalOrder,
    pub hotels: u32,
    pub workers: usize,
    /// Follow with the dashboard's sync and time each chunk until it is counted too.
    pub sync: bool,
    /// GET /events requests per probe (the median is reported).
    pub probes: usize,
    /// `POST /events` requests after each chunk, one at a time (median and p99 reported).
    pub posts: usize,
    /// After this many chunks, measure a COPY of the next chunk into copies of the table with
    /// each index alone.
    pub index_costs_at: Option<u32>,
    pub work_dir: std::path::PathBuf,
}

const EVENTS_DB: &str = "roompulse_bench_scale_events";
const DASHBOARD_DB: &str = "roompulse_bench_scale_dashboard";
const QUEUE_KEY: &str = "roompulse-bench-scale:events";

struct ChunkFigures {
    stored_before: i64,
    events: u64,
    stored_secs: f64,
    counted_secs: Option<f64>,
    wal: WalDelta,
    heap_bytes: i64,
    total_bytes: i64,
    indexes: Vec<(String, i64)>,
    /// (probe, median ms, rows on the page)
    probes: Vec<(String, f64, usize)>,
}

#[derive(Debug, Clone, Default)]
struct Wal {
    lsn_bytes: i64,
    fpi: i64,
    lsn: String,
    dir: String,
}

/// The full-page image bytes between two LSNs, by `pg_waldump --stats`; `None` when it cannot
/// tell (not installed, WAL not readable, segments already recycled).
fn fpi_bytes(data_dir: &str, from: &str, to: &str) -> Option<i64> {
    let waldump = std::env::var("PG_WALDUMP")
        .unwrap_or_else(|_| "/usr/lib/postgresql/15/bin/pg_waldump".into());
    let out = std::process::Command::new(waldump)
        .args([
            "--stats",
            "-p",
            &format!("{data_dir}/pg_wal"),
            "-s",
            from,
            "-e",
            to,
        ])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    // "Total  <records>  <record bytes> [x%]  <fpi bytes> [y%]  <combined> [100%]"
    let total = text.lines().find(|l| l.starts_with("Total"))?;
    let numbers: Vec<i64> = total
        .split_whitespace()
        .filter_map(|t| t.parse().ok())
        .collect();
    numbers.get(2).copied()
}

#[derive(Debug, Clone, Default)]
struct WalDelta {
    bytes: i64,
    fpi: i64,
    /// Bytes of full-page images, from `pg_waldump --stats` when it can read the WAL directory
    /// (run as root or postgres on the database's machine).
    fpi_bytes: Option<i64>,
}

impl Wal {
    async fn read(c: &tokio_postgres::Client) -> Result<Wal, BenchError> {
        // Backends publish their WAL counters when idle, at most once a second unless told.
        let _ = c.batch_execute("SELECT pg_stat_force_next_flush()").await;
        let row = c
            .query_one(
                "SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::bigint, wal_fpi, \
                 pg_current_wal_insert_lsn()::text, current_setting('data_directory') FROM pg_stat_wal",
                &[],
            )
            .await
            .map_err(|e| fail("read pg_stat_wal")(&pg_error(&e)))?;
        Ok(Wal {
            lsn_bytes: row.get(0),
            fpi: row.get(1),
            lsn: row.get(2),
            dir: row.get(3),
        })
    }
    fn since(&self, before: &Wal) -> WalDelta {
        WalDelta {
            bytes: self.lsn_bytes - before.lsn_bytes,
            fpi: self.fpi - before.fpi,
            fpi_bytes: fpi_bytes(&self.dir, &before.lsn, &self.lsn),
        }
    }
}

/// Chunk `k`'s generator settings and shape: distinct ids in every chunk.
fn chunk(opts: &ScaleOptions, k: u32, t0: DateTime<Utc>) -> (GenerateOptions, Shape) {
    let gen = GenerateOptions {
        rows: opts.chunk_events,
        hotels: opts.hotels,
        seed: 1 + u64::from(k),
        trailing_blank_lines: 0,
    };
    let shape = match opts.order {
        ArrivalOrder::Shuffled => Shape {
            id_before: 19_000_000 + i64::from(k),
            id_step: i64::from(opts.chunks.max(1)),
            live_from: None,
        },
        // Ids grow by at most 3 a row and the clock by 1 ms a row: each chunk starts past the
        // previous one's last id and instant.
        ArrivalOrder::Time => Shape {
            id_before: 19_000_000 + i64::from(k) * 3 * opts.chunk_events as i64,
            id_step: 1,
            live_from: Some(
                t0 + chrono::Duration::milliseconds(i64::from(k) * opts.chunk_events as i64),
            ),
        },
    };
    (gen, shape)
}

pub async fn run(cfg: &Config, opts: &ScaleOptions) -> Result<(), BenchError> {
    let events_url = scratch_url(&cfg.events_db.data_provider_database_url, EVENTS_DB)?;
    let dashboard_url = scratch_url(&cfg.dashboard_db.dashboard_database_url, DASHBOARD_DB)?;
    let admin = admin_client(&scratch_url(
        &cfg.events_db.data_provider_database_url,
        "postgres",
    )?)
    .await?;
    for name in [EVENTS_DB, DASHBOARD_DB] {
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await
            .map_err(|e| fail("drop scratch database")(&pg_error(&e)))?;
    }
    db::migrate(&events_url, db::DATA_PROVIDER_MIGRATIONS)
        .await
        .map_err(|e| fail("migrate")(&e))?;
    db::migrate(&dashboard_url, db::DASHBOARD_MIGRATIONS)
        .await
        .map_err(|e| fail("migrate")(&e))?;
    let settings_row = admin
        .query_one(
            "SELECT current_setting('shared_buffers'), current_setting('max_wal_size'), \
             current_setting('checkpoint_timeout'), version()",
            &[],
        )
        .await
        .map_err(|e| fail("settings")(&pg_error(&e)))?;
    println!(
        "PostgreSQL: shared_buffers {}, max_wal_size {}, checkpoint_timeout {}; {}\n",
        settings_row.get::<_, String>(0),
        settings_row.get::<_, String>(1),
        settings_row.get::<_, String>(2),
        settings_row.get::<_, String>(3)
    );

    let keys = QueueKeys::new(QUEUE_KEY);
    let queue = Queue::new(
        &cfg.queue.redis.redis_url,
        keys.clone(),
        2 * opts.workers + 4,
    )
    .map_err(|e| fail("redis")(&e))?;
    crate::stages::clear_keys(&cfg.queue.redis.redis_url, &keys.queue).await?;

    // The running system: workers, the Data Provider's API on loopback, the sync following it.
    let pool = db::pool(&events_url, opts.workers as u32 + 2).map_err(|e| fail("pool")(&e))?;
    let mut settings = worker::WorkerSettings::from_config(cfg);
    settings.idle_wait = Duration::from_millis(100);
    settings.copy_url = Some(events_url.clone());
    let stop = CancellationToken::new();
    let workers: Vec<_> = (0..opts.workers)
        .map(|_| {
            tokio::spawn(worker::run(
                queue.clone(),
                pool.clone(),
                settings.clone(),
                stop.clone(),
            ))
        })
        .collect();
    let api_config =
        crate::stages::scratch_config(cfg, &events_url, &dashboard_url, &keys.queue, opts.workers);
    let state = prepare(&api_config, opts.workers)
        .await
        .map_err(|e| fail("start the API")(&e))?;
    let (base_url, server) = serve_on_loopback(state, &stop).await?;
    let synced = Arc::new(AtomicI64::new(0));
    // Stopped before the API it reads from.
    let sync_stop = CancellationToken::new();
    let follower = opts.sync.then(|| {
        let dashboard_pool = db::pool(&dashboard_url, 4).map_err(|e| fail("pool")(&e));
        let client = DataProviderClient::new(&base_url).map_err(|e| fail("client")(&e));
        let (synced, stop) = (synced.clone(), sync_stop.clone());
        tokio::spawn(async move {
            let (pool, client) = (dashboard_pool?, client?);
            follow(&pool, &client, &synced, &stop).await
        })
    });

    let stats = admin_client(&events_url).await?;
    let http = reqwest::Client::new();
    let t0 = Utc::now();
    let mut figures: Vec<ChunkFigures> = Vec::new();
    let mut index_costs = Vec::new();
    let mut stored: i64 = 0;
    let mut probe_reservation = None;
    for k in 0..opts.chunks {
        let (gen, shape) = chunk(opts, k, t0);
        let csv = opts.work_dir.join(format!("bench-scale-{k}.csv"));
        let file = std::fs::File::create(&csv).map_err(|e| fail("create CSV")(&e))?;
        generate::write_csv_shaped(&gen, shape, file).map_err(|e| fail("write CSV")(&e))?;
        if probe_reservation.is_none() {
            probe_reservation = generate::rows_shaped(&gen, shape)
                .nth(gen.rows as usize / 2)
                .map(|r| r.room_reservation_id);
        }
        let rejects = opts.work_dir.join("bench-scale.rejects.csv");

        let wal_before = Wal::read(&stats).await?;
        let started = Instant::now();
        let report = load::load_events(&csv, &rejects, &queue, false)
            .await
            .map_err(|e| fail("load-events")(&e))?;
        drained(&queue).await?;
        let stored_secs = started.elapsed().as_secs_f64();
        let wal = Wal::read(&stats).await?.since(&wal_before);
        let _ = std::fs::remove_file(&csv);
        let dead = queue.dead_depth().await.map_err(|e| fail("redis")(&e))?;
        if dead > 0 {
            return Err(BenchError(format!(
                "{dead} dead letters in {}: not every event was stored",
                keys.dead
            )));
        }
        let stored_before = stored;
        stored += report.queued as i64;
        let counted_secs = match &follower {
            Some(_) => {
                counted(&synced, stored, &sync_stop).await?;
                Some(started.elapsed().as_secs_f64())
            }
            None => None,
        };
        // Untimed, what autovacuum would have done by now: the planner's statistics, without
        // which the probes measure plans made for an empty table (servers run with autovacuum
        // off, as the one BENCHMARKS.md reports, never gather them).
        stats
            .batch_execute("ANALYZE events")
            .await
            .map_err(|e| fail("analyze")(&pg_error(&e)))?;
        let (heap_bytes, total_bytes, indexes) = sizes(&stats).await?;
        let mut probes = probe(&http, &base_url, probe_reservation, opts.probes).await?;
        let posted = post_latency(&http, &base_url, stored, opts.posts).await?;
        stored += posted.len() as i64;
        probes.extend(posted.summary());
        let f = ChunkFigures {
            stored_before,
            events: report.queued,
            stored_secs,
            counted_secs,
            wal,
            heap_bytes,
            total_bytes,
            indexes,
            probes,
        };
        eprintln!(
            "chunk {k}: {} stored before, {:.0} events/s stored{}",
            f.stored_before,
            f.events as f64 / f.stored_secs,
            f.counted_secs
                .map(|s| format!(", {:.0} events/s counted", f.events as f64 / s))
                .unwrap_or_default()
        );
        figures.push(f);
        if opts.index_costs_at == Some(k + 1) && k + 1 < opts.chunks {
            let (gen, shape) = chunk(opts, k + 1, t0);
            index_costs = measure_index_costs(&stats, &gen, shape).await?;
        }
    }
    let total: i64 = stats
        .query_one("SELECT count(*) FROM events", &[])
        .await
        .map_err(|e| fail("count")(&pg_error(&e)))?
        .get(0);
    sync_stop.cancel();
    if let Some(f) = follower {
        f.await.map_err(|e| fail("sync task")(&e))??;
    }
    stop.cancel();
    for w in workers {
        let _ = w.await;
    }
    let _ = server.await;
    crate::stages::clear_keys(&cfg.queue.redis.redis_url, &keys.queue).await?;
    print(opts, &figures, &index_costs);
    if total != stored {
        return Err(BenchError(format!(
            "{total} events stored, {stored} loaded: not exactly once"
        )));
    }
    println!("\n{total} events stored, each loaded once: exact.");
    Ok(())
}

/// Until the queue and every worker's batch are empty: every loaded event is stored (or a dead
/// letter). Fails when nothing moves for a minute.
async fn drained(queue: &Queue) -> Result<(), BenchError> {
    let (mut last, mut last_change) = (None, Instant::now());
    loop {
        let b = queue.backlog().await.map_err(|e| fail("redis")(&e))?;
        let left = b.queued + b.in_flight;
        if left == 0 {
            return Ok(());
        }
        if last != Some(left) {
            (last, last_change) = (Some(left), Instant::now());
        } else if last_change.elapsed() > Duration::from_secs(60) {
            return Err(BenchError(format!("drain stalled with {left} events left")));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sync passes back to back until stopped, publishing how many events the dashboard counted.
async fn follow(
    pool: &db::PgPool,
    client: &DataProviderClient,
    synced: &AtomicI64,
    stop: &CancellationToken,
) -> Result<(), BenchError> {
    while !stop.is_cancelled() {
        let outcome = sync::run_pass(pool, client, sync::PAGE_SIZE)
            .await
            .map_err(|e| fail("sync pass")(&e))?;
        if let sync::PassOutcome::Synced(r) = outcome {
            synced.store(r.events_synced, Ordering::SeqCst);
            if r.events == 0 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    Ok(())
}

async fn counted(
    synced: &AtomicI64,
    target: i64,
    stop: &CancellationToken,
) -> Result<(), BenchError> {
    let started = Instant::now();
    while synced.load(Ordering::SeqCst) < target {
        if stop.is_cancelled() || started.elapsed() > Duration::from_secs(600) {
            return Err(BenchError("the dashboard did not catch up".into()));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

type Sizes = (i64, i64, Vec<(String, i64)>);

async fn sizes(c: &tokio_postgres::Client) -> Result<Sizes, BenchError> {
    let row = c
        .query_one(
            // Every partition (a plain table is its own only leaf), and the ids table that keeps
            // events once across partitions.
            "SELECT sum(pg_relation_size(relid))::int8, \
                    (sum(pg_total_relation_size(relid)) \
                     + coalesce(pg_total_relation_size(to_regclass('event_ids')), 0))::int8 \
             FROM pg_partition_tree('events') WHERE isleaf",
            &[],
        )
        .await
        .map_err(|e| fail("table size")(&pg_error(&e)))?;
    let indexes = c
        .query(
            // Each partitioned index summed over its partitions; the partitions' own primary
            // keys on id as one.
            "SELECT coalesce(pg_partition_root(i.indexrelid)::text, \
                             CASE WHEN i.indisprimary THEN 'primary keys (id)' \
                                  ELSE i.indexrelid::regclass::text END) AS name, \
                    sum(pg_relation_size(i.indexrelid))::int8 \
             FROM pg_partition_tree('events') t JOIN pg_index i ON i.indrelid = t.relid \
             WHERE t.isleaf GROUP BY 1 \
             UNION ALL \
             SELECT 'event_ids_pkey', pg_relation_size(to_regclass('event_ids_pkey')) \
             WHERE to_regclass('event_ids_pkey') IS NOT NULL \
             ORDER BY 1",
            &[],
        )
        .await
        .map_err(|e| fail("index sizes")(&pg_error(&e)))?;
    Ok((
        row.get(0),
        row.get(1),
        indexes.iter().map(|r| (r.get(0), r.get(1))).collect(),
    ))
}

/// Each documented `GET /events` filter alone, and the feed's first page.
fn probe_queries(reservation: Option<uuid::Uuid>) -> Vec<String> {
    let mut q = vec![
        "(no filter)".to_string(),
        "hotel_id=2601".into(),
        "updated__gte=2023-06-01T00:00:00Z".into(),
        "updated__lt=2022-03-01T00:00:00Z".into(),
        "rpg_status=2".into(),
        "night_of_stay__gte=2030-01-01".into(),
        "night_of_stay__gte=2024-03-01".into(),
        "night_of_stay__lte=2022-01-10".into(),
        // The combination: a hotel's cancellations of a night range.
        "hotel_id=2601&rpg_status=2&night_of_stay__gte=2024-03-01".into(),
        "order=stored".into(),
        "order=stored&limit=10000".into(),
    ];
    if let Some(r) = reservation {
        q.insert(5, format!("room_id={r}"));
    }
    q
}

async fn probe(
    http: &reqwest::Client,
    base_url: &str,
    reservation: Option<uuid::Uuid>,
    n: usize,
) -> Result<Vec<(String, f64, usize)>, BenchError> {
    let mut out = Vec::new();
    for q in probe_queries(reservation) {
        let query = if q.starts_with('(') { "" } else { q.as_str() };
        let url = format!("{base_url}/events?{query}");
        let mut times = Vec::new();
        let mut rows = 0;
        for _ in 0..n.max(1) {
            let started = Instant::now();
            let response = http
                .get(&url)
                .send()
                .await
                .map_err(|e| fail("GET /events")(&e))?;
            let status = response.status();
            let body: serde_json::Value =
                response.json().await.map_err(|e| fail("GET /events")(&e))?;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            if !status.is_success() {
                return Err(BenchError(format!("GET /events?{query}: {status} {body}")));
            }
            rows = body.as_array().map_or(0, Vec::len);
        }
        times.sort_by(f64::total_cmp);
        out.push((q, times[times.len() / 2], rows));
    }
    Ok(out)
}

/// The latencies of `POST /events`, one at a time.
struct Posted(Vec<f64>);

impl Posted {
    fn len(&self) -> usize {
        self.0.len()
    }

    /// The median and the 99th percentile (nearest rank), as probes (no rows: `0`).
    fn summary(&self) -> Vec<(String, f64, usize)> {
        if self.0.is_empty() {
            return Vec::new();
        }
        let mut t = self.0.clone();
        t.sort_by(f64::total_cmp);
        let rank = |q: f64| t[((q * t.len() as f64).ceil() as usize).clamp(1, t.len()) - 1];
        vec![
            ("POST /events, median".into(), rank(0.5), 0),
            ("POST /events, p99".into(), rank(0.99), 0),
        ]
    }
}

/// `n` new events posted one at a time (ids assigned by the service; each a new reservation, so
/// that none replays another), timed from send to the answer read.
async fn post_latency(
    http: &reqwest::Client,
    base_url: &str,
    stored: i64,
    n: usize,
) -> Result<Posted, BenchError> {
    let mut times = Vec::with_capacity(n);
    for i in 0..n {
        let body = serde_json::json!({
            "hotel_id": 2601,
            "event_timestamp": "2023-06-01T12:00:00Z",
            "rpg_status": 1,
            "room_id": uuid::Uuid::from_u64_pair(0x5ca1e, (stored as u64) << 16 | i as u64),
            "night_of_stay": "2023-07-01",
        });
        let started = Instant::now();
        let response = http
            .post(format!("{base_url}/events"))
            .json(&body)
            .send()
            .await
            .map_err(|e| fail("POST /events")(&e))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| fail("POST /events")(&e))?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        if status != reqwest::StatusCode::CREATED {
            return Err(BenchError(format!("POST /events: {status} {text}")));
        }
    }
    Ok(Posted(times))
}

/// A copy of the stored rows, then for each set of indexes: build it, checkpoint, and time one
/// COPY of the next chunk's rows (in a transaction rolled back afterwards, so that every set
/// starts from the same table), with the write-ahead log it took.
async fn measure_index_costs(
    c: &tokio_postgres::Client,
    gen: &GenerateOptions,
    shape: Shape,
) -> Result<Vec<(String, f64, WalDelta)>, BenchError> {
    let exec = |sql: String| async move {
        c.batch_execute(&sql)
            .await
            .map_err(|e| BenchError(format!("{sql}: {}", pg_error(&e))))
    };
    eprintln!("index costs: copying the table");
    exec(
        "DROP TABLE IF EXISTS scale_copy; \
          CREATE TABLE scale_copy (LIKE events INCLUDING DEFAULTS INCLUDING CONSTRAINTS); \
          INSERT INTO scale_copy SELECT * FROM events"
            .into(),
    )
    .await?;
    exec("VACUUM ANALYZE scale_copy".into()).await?;
    let sets: [(&str, &[&str]); 10] = [
        ("no index", &[]),
        (
            "primary key (id)",
            &["ALTER TABLE scale_copy ADD PRIMARY KEY (id)"],
        ),
        (
            "(event_timestamp, id)",
            &["CREATE INDEX ON scale_copy (event_timestamp, id)"],
        ),
        (
            "(hotel_id, event_timestamp, id)",
            &["CREATE INDEX ON scale_copy (hotel_id, event_timestamp, id)"],
        ),
        ("(tx_id, id)", &["CREATE INDEX ON scale_copy (tx_id, id)"]),
        (
            "(night_of_stay)",
            &["CREATE INDEX ON scale_copy (night_of_stay)"],
        ),
        (
            "(room_reservation_id)",
            &["CREATE INDEX ON scale_copy (room_reservation_id)"],
        ),
        (
            "hash (room_reservation_id)",
            &["CREATE INDEX ON scale_copy USING hash (room_reservation_id)"],
        ),
        (
            "brin (event_timestamp)",
            &["CREATE INDEX ON scale_copy USING brin (event_timestamp)"],
        ),
        (
            "today's four (key, two time indexes, feed)",
            &[
                "ALTER TABLE scale_copy ADD PRIMARY KEY (id)",
                "CREATE INDEX ON scale_copy (event_timestamp, id)",
                "CREATE INDEX ON scale_copy (hotel_id, event_timestamp, id)",
                "CREATE INDEX ON scale_copy (tx_id, id)",
            ],
        ),
    ];
    let mut out = Vec::new();
    for (name, statements) in sets {
        eprintln!("index costs: {name}");
        for s in statements {
            exec((*s).to_string()).await?;
        }
        exec("CHECKPOINT".into()).await?;
        let before = Wal::read(c).await?;
        let started = Instant::now();
        exec("BEGIN".into()).await?;
        let rows = generate::rows_shaped(gen, shape).map(Event::from);
        store::copy_events(c, "scale_copy", Some(1), None, rows)
            .await
            .map_err(|e| fail("COPY")(&pg_error(&e)))?;
        let secs = started.elapsed().as_secs_f64();
        exec("ROLLBACK".into()).await?;
        let wal = Wal::read(c).await?.since(&before);
        out.push((name.to_string(), secs, wal));
        exec("ALTER TABLE scale_copy DROP CONSTRAINT IF EXISTS scale_copy_pkey".into()).await?;
        let names = c
            .query(
                "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = 'scale_copy'::regclass",
                &[],
            )
            .await
            .map_err(|e| fail("indexes")(&pg_error(&e)))?;
        for r in names {
            exec(format!("DROP INDEX {}", r.get::<_, String>(0))).await?;
        }
    }
    exec("DROP TABLE scale_copy".into()).await?;
    Ok(out)
}

/// The share of full-page images in the WAL, by bytes when pg_waldump could tell, else their
/// count (`pg_stat_wal.wal_fpi`).
fn fpi_share(w: &WalDelta) -> String {
    match w.fpi_bytes {
        Some(b) => format!("{:.0} %", 100.0 * b as f64 / w.bytes.max(1) as f64),
        None => format!("{} images", w.fpi),
    }
}

fn mb(bytes: i64) -> f64 {
    bytes as f64 / 1e6
}

fn print(opts: &ScaleOptions, figures: &[ChunkFigures], index_costs: &[(String, f64, WalDelta)]) {
    let first = figures
        .first()
        .map_or(1.0, |f| f.events as f64 / f.stored_secs);
    let first_counted = figures
        .first()
        .and_then(|f| f.counted_secs.map(|s| f.events as f64 / s));
    println!(
        "order: {:?}, {} chunks of {} events, {} hotels, {} workers\n",
        opts.order, opts.chunks, opts.chunk_events, opts.hotels, opts.workers
    );
    println!("| stored before | events/s stored | × first | events/s counted | × first | WAL bytes/event | of which full-page images | table+indexes bytes/event | heap bytes/event |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for f in figures {
        let rate = f.events as f64 / f.stored_secs;
        let counted = f.counted_secs.map(|s| f.events as f64 / s);
        let after = (f.stored_before + f.events as i64).max(1) as f64;
        println!(
            "| {} | {:.0} | {:.2} | {} | {} | {:.0} | {} | {:.0} | {:.0} |",
            f.stored_before,
            rate,
            rate / first,
            counted.map_or("–".into(), |c| format!("{c:.0}")),
            counted
                .zip(first_counted)
                .map_or("–".into(), |(c, f)| format!("{:.2}", c / f)),
            f.wal.bytes as f64 / f.events as f64,
            fpi_share(&f.wal),
            f.total_bytes as f64 / after,
            f.heap_bytes as f64 / after,
        );
    }
    if let Some(last) = figures.last() {
        let after = (last.stored_before + last.events as i64).max(1) as f64;
        println!("\n| at {} stored | MB | bytes/event |", after as i64);
        println!("|---|---:|---:|");
        println!(
            "| heap | {:.0} | {:.0} |",
            mb(last.heap_bytes),
            last.heap_bytes as f64 / after
        );
        for (name, bytes) in &last.indexes {
            println!(
                "| {name} | {:.0} | {:.1} |",
                mb(*bytes),
                *bytes as f64 / after
            );
        }
        println!(
            "| total | {:.0} | {:.0} |",
            mb(last.total_bytes),
            last.total_bytes as f64 / after
        );
    }
    if let Some(first) = figures.first() {
        print!("\n| probe: GET /events first page median ms (rows), POST /events ms, at stored |");
        for f in figures {
            print!(" {} |", f.stored_before + f.events as i64);
        }
        println!();
        print!("|---|");
        for _ in figures {
            print!("---:|");
        }
        println!();
        for (i, (q, _, _)) in first.probes.iter().enumerate() {
            print!("| `{q}` |");
            for f in figures {
                let (_, ms, rows) = &f.probes[i];
                print!(" {ms:.1} ({rows}) |");
            }
            println!();
        }
    }
    if !index_costs.is_empty() {
        println!("\n| COPY of the next chunk into a copy of the table with only | seconds | events/s | WAL bytes/event | of which full-page images |");
        println!("|---|---:|---:|---:|---:|");
        for (name, secs, wal) in index_costs {
            let n = opts.chunk_events as f64;
            println!(
                "| {name} | {secs:.2} | {:.0} | {:.0} | {} |",
                n / secs,
                wal.bytes as f64 / n,
                fpi_share(wal)
            );
        }
    }
}
