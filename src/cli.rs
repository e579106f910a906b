//! The command line: every subcommand and flag (each setting also an environment variable, see
//! `config.rs`). Each subcommand flattens only the settings groups it reads, so its `--help`
//! lists nothing it ignores. `main.rs` runs what this parses.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::{
    ApiAccessSettings, ApiLimitSettings, BatchSettings, DashboardDbSettings, EventsDbSettings,
    HttpServerSettings, PoolSettings, QueueSettings, RedisSettings, ServeSettings,
};

/// roompulse: hotel booking events in, room-night figures out.
#[derive(Parser)]
#[command(name = "roompulse", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the HTTP API (both modules) and the queue workers in one process.
    Serve {
        /// Queue workers in this process (0 for none: an API-only process beside `worker`
        /// processes).
        #[arg(long, default_value_t = 2)]
        workers: usize,
        /// Do not serve HTTP (a process of workers only; same as `roompulse worker`).
        #[arg(long)]
        no_api: bool,
        /// Do not run the dashboard sync on DASHBOARD_SYNC_SCHEDULE (run `sync-dashboard` from
        /// cron instead, or let another `serve` process do it).
        #[arg(long)]
        no_schedule: bool,
        #[command(flatten)]
        settings: ServeSettings,
    },
    /// Run queue workers only (start several processes to drain faster).
    Worker {
        /// Concurrent workers in this process.
        #[arg(long, default_value_t = 2)]
        workers: usize,
        /// Serve `/health`, `/ready` and `/metrics` (this process's batch counters) here.
        #[arg(long, env = "METRICS_ADDR")]
        metrics_addr: Option<std::net::SocketAddr>,
        #[command(flatten)]
        events_db: EventsDbSettings,
        // `/ready` reports it, and the process migrates it at start like every other.
        #[command(flatten)]
        dashboard_db: DashboardDbSettings,
        #[command(flatten)]
        pool: PoolSettings,
        #[command(flatten)]
        queue: QueueSettings,
        #[command(flatten)]
        batch: BatchSettings,
        #[command(flatten)]
        http: HttpServerSettings,
    },
    /// Run one dashboard sync pass (fetch what is new from DATA_PROVIDER_URL and count it), then
    /// exit: non-zero on failure. For cron jobs.
    SyncDashboard {
        #[command(flatten)]
        dashboard_db: DashboardDbSettings,
        #[command(flatten)]
        access: ApiAccessSettings,
    },
    /// Create the databases if missing and run both migration sets.
    Migrate {
        #[command(flatten)]
        events_db: EventsDbSettings,
        #[command(flatten)]
        dashboard_db: DashboardDbSettings,
    },
    /// Read a CSV export and queue its events for the workers.
    LoadEvents {
        /// The CSV file (header room_reservation_id,night_of_stay,id,status,event_timestamp,hotel_id),
        /// or `-` for standard input.
        csv: PathBuf,
        /// Where rejected rows go (default: <CSV>.rejects.csv; for `-`, stdin.rejects.csv in the
        /// current directory; for a pipe or device, <NAME>.rejects.csv there). Must not be the
        /// input. A run that rejects nothing removes a rejects file left there by an earlier run.
        #[arg(long)]
        rejects: Option<PathBuf>,
        #[command(flatten)]
        queue: QueueSettings,
    },
    /// Measure each stage (load, drain, a raw COPY baseline) on scratch databases; prints a
    /// Markdown table for BENCHMARKS.md.
    Bench {
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
    },
    /// Send requests at a fixed rate to a running service and report the rate held, latency
    /// percentiles and errors (a Markdown table row for BENCHMARKS.md).
    LoadTest {
        /// The service's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8000")]
        url: String,
        #[arg(long, value_enum)]
        scenario: crate::loadtest::Scenario,
        /// Requests per second.
        #[arg(long, default_value_t = 1000)]
        rate: u32,
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Requests in flight at most (a request finding none free counts as an error).
        #[arg(long, default_value_t = 256)]
        max_in_flight: usize,
        /// Bearer token to send (INGEST_API_TOKEN for posts, READ_API_TOKEN for reads).
        #[arg(long, env = "LOAD_TEST_TOKEN", hide_env_values = true)]
        token: Option<String>,
    },
    /// Write a deterministic synthetic CSV export.
    GenerateEvents {
        /// Rows to write.
        #[arg(long)]
        rows: u64,
        /// Distinct hotels.
        #[arg(long, default_value_t = 10)]
        hotels: u32,
        /// The same seed gives the same file.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Blank CRLF lines after the last row (the original exports have thousands).
        #[arg(long, default_value_t = 0)]
        trailing_blank_lines: u64,
        /// The file to write.
        #[arg(long)]
        output: PathBuf,
    },
}
