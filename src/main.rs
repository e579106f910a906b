use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use roompulse::config::Config;
use roompulse::data_provider::generate::{self, GenerateOptions};
use roompulse::data_provider::load;
use roompulse::data_provider::queue::Queue;
use roompulse::serve::{self, Parts};

/// roompulse: hotel booking events in, room-night figures out.
#[derive(Parser)]
#[command(name = "roompulse", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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
        config: Config,
    },
    /// Run queue workers only (start several processes to drain faster).
    Worker {
        /// Concurrent workers in this process.
        #[arg(long, default_value_t = 2)]
        workers: usize,
        #[command(flatten)]
        config: Config,
    },
    /// Run one dashboard sync pass (fetch what is new from DATA_PROVIDER_URL and count it), then
    /// exit: non-zero on failure. For cron jobs.
    SyncDashboard {
        #[command(flatten)]
        config: Config,
    },
    /// Create the databases if missing and run both migration sets.
    Migrate {
        #[command(flatten)]
        config: Config,
    },
    /// Read a CSV export and queue its events for the workers.
    LoadEvents {
        /// The CSV file (header room_reservation_id,night_of_stay,id,status,event_timestamp,hotel_id).
        csv: PathBuf,
        /// Where rejected rows go (default: <CSV>.rejects.csv).
        #[arg(long)]
        rejects: Option<PathBuf>,
        #[command(flatten)]
        config: Config,
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
        #[command(flatten)]
        config: Config,
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

#[tokio::main]
async fn main() -> ExitCode {
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    roompulse::telemetry::init();
    match run(cli.command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<(), Box<dyn std::error::Error>> {
    match command {
        Command::Serve {
            workers,
            no_api,
            no_schedule,
            config,
        } => {
            let shutdown = CancellationToken::new();
            serve::cancel_on_signal(shutdown.clone());
            let parts = Parts {
                api: !no_api,
                workers,
                // The sync talks to an API: a process without one is a worker process.
                schedule: !no_api && !no_schedule,
            };
            serve::run(config, parts, shutdown).await?;
        }
        Command::Worker { workers, config } => {
            let shutdown = CancellationToken::new();
            serve::cancel_on_signal(shutdown.clone());
            let parts = Parts {
                api: false,
                workers,
                schedule: false,
            };
            serve::run(config, parts, shutdown).await?;
        }
        Command::SyncDashboard { config } => {
            roompulse::db::migrate(
                &config.dashboard_database_url,
                roompulse::db::DASHBOARD_MIGRATIONS,
            )
            .await?;
            let pool = roompulse::db::pool(&config.dashboard_database_url, 1)?;
            let client =
                roompulse::dashboard::client::DataProviderClient::new(&config.data_provider_url())?;
            let outcome = roompulse::dashboard::sync::run_pass(
                &pool,
                &client,
                roompulse::dashboard::sync::PAGE_SIZE,
            )
            .await?;
            println!("{}", outcome.summary());
        }
        Command::Migrate { config } => {
            roompulse::db::migrate(
                &config.data_provider_database_url,
                roompulse::db::DATA_PROVIDER_MIGRATIONS,
            )
            .await?;
            roompulse::db::migrate(
                &config.dashboard_database_url,
                roompulse::db::DASHBOARD_MIGRATIONS,
            )
            .await?;
            println!("databases are migrated");
        }
        Command::LoadEvents {
            csv,
            rejects,
            config,
        } => {
            let rejects = rejects.unwrap_or_else(|| load::default_rejects_path(&csv));
            let queue = Queue::new(&config.redis_url, config.queue_keys(), 2)?;
            let report = load::load_events(&csv, &rejects, &queue, true).await?;
            if let Some(path) = &report.rejects_path {
                eprintln!("rejected rows are in {}", path.display());
            }
            println!("{}", report.summary());
        }
        Command::Bench {
            events,
            workers,
            hotels,
            config,
        } => {
            let opts = roompulse::bench::BenchOptions {
                events,
                workers,
                hotels,
                work_dir: std::env::temp_dir(),
            };
            let report = roompulse::bench::run(&config, &opts).await?;
            roompulse::bench::print(&report);
        }
        Command::GenerateEvents {
            rows,
            hotels,
            seed,
            trailing_blank_lines,
            output,
        } => {
            let opts = GenerateOptions {
                rows,
                hotels,
                seed,
                trailing_blank_lines,
            };
            let file = std::fs::File::create(&output)
                .map_err(|e| format!("cannot create {}: {e}", output.display()))?;
            generate::write_csv(&opts, file)
                .map_err(|e| format!("cannot write {}: {e}", output.display()))?;
            println!("wrote {rows} rows to {}", output.display());
        }
    }
    Ok(())
}
