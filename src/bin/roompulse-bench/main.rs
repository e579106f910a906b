//! `roompulse-bench`: generate N events, load them onto the queue, drain them into PostgreSQL,
//! sync them into the dashboard, and compare with a raw binary COPY of the same rows, all in one
//! run on scratch databases; prints a Markdown table for BENCHMARKS.md.
//!
//! A binary of its own beside `roompulse`, on the library's public API: the product binary
//! carries no benchmark code.

mod attack;
mod figures;
mod filters;
mod freshness;
mod latency;
mod scale;
mod stages;
mod support;

use std::process::ExitCode;

use clap::Parser;

use roompulse::config::{
    ApiLimitSettings, BatchSettings, Config, DashboardDbSettings, EventsDbSettings, QueueSettings,
    RedisSettings,
};

/// Measure each stage (load, drain, sync, a raw COPY baseline, the whole chain) on scratch
/// databases; prints a Markdown table for BENCHMARKS.md.
#[derive(Parser)]
#[command(name = "roompulse-bench")]
struct Cli {
    #[command(subcommand)]
    mode: Option<Mode>,
    /// Events to generate and push through.
    #[arg(long, default_value_t = 1_000_000)]
    events: u64,
    /// Queue workers draining concurrently.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Distinct hotels in the generated data.
    #[arg(long, default_value_t = 50)]
    hotels: u32,
    // Scratch databases `roompulse_bench_*` are made on these databases' servers.
    #[command(flatten)]
    events_db: EventsDbSettings,
    #[command(flatten)]
    dashboard_db: DashboardDbSettings,
    // The run uses a queue key of its own there (`roompulse-bench:events`).
    #[command(flatten)]
    redis: RedisSettings,
    #[command(flatten)]
    batch: BatchSettings,
    #[command(flatten)]
    limits: ApiLimitSettings,
}

#[derive(clap::Subcommand)]
enum Mode {
    /// Chunks of events loaded one after another into one running system (workers and the
    /// dashboard's sync throughout, on scratch databases `roompulse_bench_scale_*`): per chunk
    /// the ingest rate, WAL and storage bytes per event, and `GET /events` first-page latency
    /// for each filter alone; prints Markdown tables.
    Scale {
        /// Chunks to load, one after another.
        #[arg(long, default_value_t = 10)]
        chunks: u32,
        /// Events per chunk.
        #[arg(long, default_value_t = 1_000_000)]
        chunk_events: u64,
        /// `shuffled`: multi-year history, ids interleaved across chunks; `time`: live traffic,
        /// timestamps from now on, ids increasing.
        #[arg(long, value_enum, default_value = "shuffled")]
        order: scale::ArrivalOrder,
        /// Time chunks until stored only, without the dashboard's sync.
        #[arg(long)]
        no_sync: bool,
        /// Requests per `GET /events` probe (the median is reported).
        #[arg(long, default_value_t = 5)]
        probes: usize,
        /// `POST /events` requests after each chunk, one at a time (median and p99 reported).
        #[arg(long, default_value_t = 200)]
        posts: usize,
        /// After this many chunks, time a COPY of the next one into copies of the table with
        /// each index alone.
        #[arg(long)]
        index_costs_at: Option<u32>,
    },
    /// The first page of `GET /events` for each documented filter alone and a few combinations,
    /// on an events database already filled (scripts/filters-scratch.sh builds one).
    Filters {
        /// The events database to read (not modified).
        #[arg(long)]
        database: String,
        /// Requests per query (the median is reported).
        #[arg(long, default_value_t = 7)]
        probes: usize,
    },
    /// Against a running service: a steady stream of events for a while, how long a sample of
    /// them takes to show in `GET /dashboard` (p50, p99, max), and each `POST /events`'s round
    /// trip; prints a Markdown table.
    Freshness {
        #[command(flatten)]
        stream: StreamArgs,
    },
    /// Against a running service: the freshness stream (see `freshness`) alone, then while
    /// `--attackers` clients hold long polls of the change feed for a hotel with no events;
    /// prints both rows and the ratio of the `POST /events` p99s (issue: no tenant starves
    /// the others).
    Attack {
        #[command(flatten)]
        stream: StreamArgs,
        /// Clients holding `GET /events?order=stored&hotel_id=…&wait=25` at once.
        #[arg(long, default_value_t = 250)]
        attackers: usize,
        /// The hotel they follow: one without events.
        #[arg(long, default_value_t = 424242)]
        hotel: i32,
        /// Re-issue each long poll from the start of the feed, not from its `next` link.
        #[arg(long)]
        restart: bool,
        /// The attackers' bearer key (a per-hotel read key), when the service has keys.
        #[arg(long, env = "ATTACK_TOKEN")]
        token: Option<String>,
    },
}

/// The steady stream of events and its freshness probes.
#[derive(clap::Args)]
struct StreamArgs {
    /// The service.
    #[arg(long, default_value = "http://127.0.0.1:8000")]
    url: String,
    /// `api`: `POST /events`; `queue`: `RPUSH` onto the service's queue, as load-events.
    #[arg(long, value_enum, default_value = "api")]
    via: freshness::Via,
    /// Events a second.
    #[arg(long, default_value_t = 2000)]
    rate: u32,
    /// Seconds of sending.
    #[arg(long, default_value_t = 60)]
    secs: u64,
    /// One event in this many is a probe (at most 365 probes a run).
    #[arg(long, default_value_t = 400)]
    probe_every: u32,
    /// Milliseconds between two `GET /dashboard` of the probes.
    #[arg(long, default_value_t = 5)]
    poll_ms: u64,
    /// The service's queue (with `--via queue`).
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    redis_url: String,
    #[arg(long, env = "EVENTS_QUEUE_KEY", default_value = "roompulse:events")]
    queue_key: String,
}

impl StreamArgs {
    fn options(&self) -> freshness::FreshnessOptions {
        freshness::FreshnessOptions {
            url: self.url.trim_end_matches('/').to_string(),
            via: self.via,
            rate: self.rate,
            secs: self.secs,
            probe_every: self.probe_every,
            poll: std::time::Duration::from_millis(self.poll_ms.max(1)),
            redis_url: self.redis_url.clone(),
            queue_key: self.queue_key.clone(),
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    roompulse::telemetry::init();
    let config = Config {
        events_db: cli.events_db,
        dashboard_db: cli.dashboard_db,
        queue: QueueSettings {
            redis: cli.redis,
            ..Default::default()
        },
        batch: cli.batch,
        limits: cli.limits,
        ..Default::default()
    };
    if let Some(Mode::Scale {
        chunks,
        chunk_events,
        order,
        no_sync,
        probes,
        posts,
        index_costs_at,
    }) = cli.mode
    {
        let o = scale::ScaleOptions {
            chunks,
            chunk_events,
            order,
            hotels: cli.hotels,
            workers: cli.workers,
            sync: !no_sync,
            probes,
            posts,
            index_costs_at,
            work_dir: std::env::temp_dir(),
        };
        return match scale::run(&config, &o).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if let Some(Mode::Filters { database, probes }) = &cli.mode {
        return match filters::run(database, *probes).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if let Some(Mode::Freshness { stream }) = &cli.mode {
        return match freshness::run(&stream.options()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if let Some(Mode::Attack {
        stream,
        attackers,
        hotel,
        restart,
        token,
    }) = &cli.mode
    {
        let o = attack::AttackOptions {
            freshness: stream.options(),
            attackers: *attackers,
            hotel: *hotel,
            restart: *restart,
            token: token.clone(),
        };
        return match attack::run(&o).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let opts = stages::BenchOptions {
        events: cli.events,
        workers: cli.workers,
        hotels: cli.hotels,
        work_dir: std::env::temp_dir(),
    };
    match stages::run(&config, &opts).await {
        Ok(report) => {
            stages::print(&report);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
