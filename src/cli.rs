//! The command line: every subcommand and flag (each setting also an environment variable, see
//! `config.rs`). Each subcommand flattens only the settings groups it reads, so its `--help`
//! lists nothing it ignores. `main.rs` runs what this parses.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::auth::manage::Modules;
use crate::auth::Scope;

use crate::config::{
    ApiAccessSettings, BatchSettings, DashboardDbSettings, EventsDbSettings, HttpServerSettings,
    PoolSettings, QueueSettings, ServeSettings,
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
    /// Manage the API keys: per hotel, per scope, in the modules' databases (run it with the
    /// same settings as `serve`).
    Keys {
        #[command(subcommand)]
        action: KeysCommand,
    },
    /// Read a CSV export and queue its events for the workers.
    LoadEvents {
        /// The CSV file (header room_reservation_id,night_of_stay,id,status,event_timestamp,hotel_id),
        /// or `-` for standard input.
        csv: PathBuf,
        /// Where rejected rows go (default: CSV.rejects.csv beside CSV; for `-`,
        /// stdin.rejects.csv in the current directory; for a pipe or device, NAME.rejects.csv
        /// there). Must not be the input. A run that rejects nothing removes a rejects file left there by an earlier run.
        #[arg(long)]
        rejects: Option<PathBuf>,
        #[command(flatten)]
        queue: QueueSettings,
    },
    /// Delete events older than a date from the Data Provider, in batches, optionally
    /// archiving them as CSV. The dashboard's figures do not change: only events it has
    /// counted are deleted (up to its sync cursor), and their ids are kept so that loading one
    /// again stores nothing. See README, "Retention".
    #[command(group(clap::ArgGroup::new("cutoff").required(true).args(["older_than_months", "before"])))]
    Retention {
        /// Events whose event_timestamp is before midnight UTC N calendar months ago.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1200))]
        older_than_months: Option<u32>,
        /// Events whose event_timestamp is before this day (midnight UTC).
        #[arg(long, value_name = "YYYY-MM-DD")]
        before: Option<chrono::NaiveDate>,
        /// Also write the deleted events to FILE, in the CSV format `load-events` reads; synced
        /// to disk before each batch's delete commits. An existing archive is appended to; any
        /// other existing file is refused.
        #[arg(long, value_name = "FILE")]
        archive: Option<PathBuf>,
        /// Count what would be deleted and kept; delete nothing.
        #[arg(long)]
        dry_run: bool,
        /// Delete only events the dashboard has counted: those at or before this position of
        /// the change feed (the dashboard's `sync_state.cursor`; the lowest one, when several
        /// dashboards follow this Data Provider). Default: read from DASHBOARD_DATABASE_URL.
        #[arg(long, value_name = "CURSOR", conflicts_with = "unsafe_ignore_sync")]
        synced_cursor: Option<String>,
        /// Delete old events whether the dashboard has counted them or not. The dashboard's
        /// cursor is still read (when it can be) to count those it has not counted: they would
        /// never be in its figures, so a run that would delete any is refused unless
        /// --yes-lose-uncounted is given as well. --dry-run reports how many.
        #[arg(long)]
        unsafe_ignore_sync: bool,
        /// With --unsafe-ignore-sync: delete old events the dashboard has not counted too,
        /// losing them from its figures for good (README, "Retention", to recover them).
        #[arg(long, requires = "unsafe_ignore_sync")]
        yes_lose_uncounted: bool,
        /// Events deleted per transaction.
        #[arg(long, default_value_t = crate::data_provider::retention::DEFAULT_BATCH, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        batch_size: u32,
        #[command(flatten)]
        events_db: EventsDbSettings,
        #[command(flatten)]
        dashboard_db: DashboardDbSettings,
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

/// `roompulse keys …`.
#[derive(Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it on standard output, once: only its hash is stored.
    Create {
        /// The hotels it is for, comma-separated (`2607,2608`).
        #[arg(long, value_delimiter = ',', required_unless_present = "all_hotels", conflicts_with = "all_hotels", value_parser = clap::value_parser!(i32).range(1..))]
        hotels: Vec<i32>,
        /// For every hotel, those to come included (operators; the dashboard's own sync).
        #[arg(long)]
        all_hotels: bool,
        /// What it may do: `read` (events, the dashboard, the chart page), `ingest` (`POST
        /// /events`), or both (`read,ingest`).
        #[arg(long, value_enum, value_delimiter = ',', required = true)]
        scope: Vec<Scope>,
        /// How `keys list` shows it and `keys revoke` finds it (default: `key-<id>`).
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        target: KeysTarget,
    },
    /// List the keys: name, scopes, hotels, created, last used, revoked. Never the key.
    List {
        #[command(flatten)]
        target: KeysTarget,
    },
    /// Revoke a key: every running process refuses it within API_KEYS_REFRESH_MS.
    Revoke {
        /// The key's name or id (as `keys list` shows them).
        key: String,
        #[command(flatten)]
        target: KeysTarget,
    },
}

/// Where `roompulse keys` reads and writes keys.
#[derive(Debug, Clone, Args)]
pub struct KeysTarget {
    /// Whose database: `both` (one key that works on both APIs), `data-provider` or `dashboard`
    /// (a module running alone).
    #[arg(long, value_enum, default_value_t = Modules::Both)]
    pub module: Modules,
    #[command(flatten)]
    pub events_db: EventsDbSettings,
    #[command(flatten)]
    pub dashboard_db: DashboardDbSettings,
}

impl KeysTarget {
    pub fn targets(&self) -> Vec<crate::auth::manage::Target> {
        self.module.targets(
            &self.events_db.data_provider_database_url,
            &self.dashboard_db.dashboard_database_url,
        )
    }
}
