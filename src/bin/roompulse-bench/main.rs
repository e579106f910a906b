//! `roompulse-bench`: generate N events, load them onto the queue, drain them into PostgreSQL,
//! sync them into the dashboard, and compare with a raw binary COPY of the same rows, all in one
//! run on scratch databases; prints a Markdown table for BENCHMARKS.md.
//!
//! A binary of its own beside `roompulse`, on the library's public API: the product binary
//! carries no benchmark code.

mod figures;
mod latency;
mod stages;

use std::process::ExitCode;

use clap::Parser;

use roompulse::config::{
    ApiLimitSettings, BatchSettings, Config, DashboardDbSettings, EventsDbSettings, RedisSettings,
};

/// Measure each stage (load, drain, sync, a raw COPY baseline, the whole chain) on scratch
/// databases; prints a Markdown table for BENCHMARKS.md.
#[derive(Parser)]
#[command(name = "roompulse-bench")]
struct Cli {
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

#[tokio::main]
async fn main() -> ExitCode {
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    roompulse::telemetry::init();
    let config = Config::from_groups(&[
        &cli.events_db,
        &cli.dashboard_db,
        &cli.redis,
        &cli.batch,
        &cli.limits,
    ]);
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
