//! Configuration: every setting is a flag and an environment variable (a `.env` file may set
//! them too), with the defaults an operator gets on a fresh machine.
//!
//! The settings come in small groups, declared once each: the flag, the variable, the default
//! and the help text are the group's field. Each subcommand flattens only the groups it uses,
//! so that its `--help` lists what it reads and nothing else. [`Config`] is the groups `serve`
//! reads, together; a command with fewer fills those it has and leaves the others at their
//! defaults (`..Default::default()`), which it does not read. Each group's `Default` is what
//! its declarations give with no flag and no environment.
//!
//! Tokens are held as [`SecretString`]: `Debug` prints none of them.
//!
//! This module is a leaf: it imports nothing of the application.

use std::net::SocketAddr;

use clap::{Args, FromArgMatches};
use secrecy::SecretString;

/// Every setting `serve` reads, group by group, as the running parts read them.
#[derive(Debug, Clone, Default, Args)]
pub struct Config {
    #[command(flatten)]
    pub access: ApiAccessSettings,
    #[command(flatten)]
    pub data_provider_api: DataProviderApiSettings,
    #[command(flatten)]
    pub events_db: EventsDbSettings,
    #[command(flatten)]
    pub dashboard_db: DashboardDbSettings,
    #[command(flatten)]
    pub pool: PoolSettings,
    #[command(flatten)]
    pub queue: QueueSettings,
    #[command(flatten)]
    pub batch: BatchSettings,
    #[command(flatten)]
    pub limits: ApiLimitSettings,
    #[command(flatten)]
    pub http: HttpServerSettings,
    #[command(flatten)]
    pub replicas: ReadReplicaSettings,
    #[command(flatten)]
    pub keys: KeySettings,
    #[command(flatten)]
    pub sync: SyncSettings,
}

/// How the dashboard sync runs (`DASHBOARD_SYNC_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SyncMode {
    /// Follow the change feed without pause, waiting for new events on the Data Provider (a
    /// long poll); the schedule only restarts it when it stopped.
    Follow,
    /// One pass at each tick of the schedule.
    Schedule,
}

/// The Data Provider's database.
#[derive(Debug, Clone, Args)]
pub struct EventsDbSettings {
    /// The Data Provider's database (holds the events table). Created if missing.
    #[arg(
        long,
        env = "DATA_PROVIDER_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/roompulse_data_provider"
    )]
    pub data_provider_database_url: String,
}

/// The Dashboard's database.
#[derive(Debug, Clone, Args)]
pub struct DashboardDbSettings {
    /// The Dashboard's database (holds the figures and the sync cursor). Created if missing.
    #[arg(
        long,
        env = "DASHBOARD_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/roompulse_dashboard"
    )]
    pub dashboard_database_url: String,
}

/// The connection pools of a long-running process.
#[derive(Debug, Clone, Args)]
pub struct PoolSettings {
    /// Connections per database pool.
    #[arg(long, env = "DATABASE_POOL_SIZE", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub database_pool_size: u32,
}

/// Redis.
#[derive(Debug, Clone, Args)]
pub struct RedisSettings {
    /// Redis holding the events queue.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    pub redis_url: String,
}

/// The events queue: its Redis and its key.
#[derive(Debug, Clone, Args)]
pub struct QueueSettings {
    #[command(flatten)]
    pub redis: RedisSettings,
    /// Redis list the loader pushes to and the workers drain; dead letters go to `<key>:dead`.
    #[arg(long, env = "EVENTS_QUEUE_KEY", default_value = "roompulse:events")]
    pub events_queue_key: String,
}

/// How queue workers take their batches.
#[derive(Debug, Clone, Args)]
pub struct BatchSettings {
    /// Events a worker moves from the queue and inserts in one statement.
    #[arg(long, env = "WORKER_BATCH_SIZE", default_value_t = 5000, value_parser = clap::value_parser!(u32).range(1..=50_000))]
    pub worker_batch_size: u32,

    /// Seconds after which a silent worker's in-flight batch is handed to another worker.
    #[arg(long, env = "WORKER_LEASE_SECS", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub worker_lease_secs: u64,
}

/// How the HTTP API answers under load.
#[derive(Debug, Clone, Args)]
pub struct ApiLimitSettings {
    /// How long `GET /dashboard` may answer from its recent answers (0: always read the tables).
    #[arg(long, env = "DASHBOARD_CACHE_MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(0..=60_000))]
    pub dashboard_cache_ms: u64,

    /// Requests to the event and dashboard endpoints served at once; more answer 503 with
    /// `Retry-After` instead of queueing without bound.
    #[arg(long, env = "MAX_CONCURRENT_REQUESTS", default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_concurrent_requests: u32,
}

/// How the HTTP server treats connections and its `/metrics` readings: `serve`, and `worker`
/// with `--metrics-addr`.
#[derive(Debug, Clone, Args)]
pub struct HttpServerSettings {
    /// Seconds a request may take before it is answered 503.
    #[arg(long, env = "REQUEST_TIMEOUT_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub request_timeout_secs: u64,

    /// Seconds a connection may stay open without sending a complete request header: a new
    /// connection, or a kept-alive one between requests. Then the server closes it.
    #[arg(long, env = "HTTP_IDLE_TIMEOUT_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub http_idle_timeout_secs: u64,

    /// How old the queue, sync-lag and feed-horizon gauges of `/metrics` may be before a scrape
    /// reads them again (0: every scrape reads them; concurrent scrapes still share one reading).
    #[arg(long, env = "METRICS_REFRESH_MS", default_value_t = 5000, value_parser = clap::value_parser!(u64).range(0..=600_000))]
    pub metrics_refresh_ms: u64,

    /// Seconds a transaction may hold the change feed back before `/ready` names it and the log
    /// warns (once a minute).
    #[arg(long, env = "FEED_HORIZON_WARN_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(0..=86_400))]
    pub feed_horizon_warn_secs: u64,
}

/// Where this process's API listens, and the read token presented to an API: what the API
/// serves on, what the dashboard sync reads through, and what retention asks the Dashboard with.
#[derive(Debug, Clone, Args)]
pub struct ApiAccessSettings {
    /// Address the HTTP API listens on (and, unless DATA_PROVIDER_URL or DASHBOARD_URL is set,
    /// where the dashboard sync and `retention` reach the API).
    #[arg(long, env = "BIND_ADDR", default_value = "127.0.0.1:8000")]
    pub bind_addr: SocketAddr,

    /// When set, reading events and figures needs `Authorization: Bearer <this token>` (the
    /// ingest token reads too); the dashboard sync sends it to the Data Provider, and
    /// `retention` to the Dashboard. A sync reading another process (DATA_PROVIDER_URL) once API
    /// keys exist needs it set to an all-hotel read key (`roompulse keys create --all-hotels
    /// --scope read`); one reading its own process presents a secret the process makes for
    /// itself.
    #[arg(long, env = "READ_API_TOKEN", hide_env_values = true, value_parser = secret)]
    pub read_api_token: Option<SecretString>,
}

impl ApiAccessSettings {
    /// This process's own API, as a client on this machine reaches it.
    pub fn own_url(&self) -> String {
        let mut addr = self.bind_addr;
        // Listening on every address (0.0.0.0) means reachable on loopback.
        if addr.ip().is_unspecified() {
            addr.set_ip(match addr {
                SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        format!("http://{addr}")
    }
}

/// The Data Provider API the dashboard sync reads.
#[derive(Debug, Clone, Args)]
pub struct DataProviderApiSettings {
    /// The Data Provider API the dashboard sync reads events from (default: `http://` +
    /// BIND_ADDR, this process's own API, still spoken to over HTTP).
    #[arg(long, env = "DATA_PROVIDER_URL")]
    pub data_provider_url: Option<String>,
}

/// The Dashboard API `retention` asks for the dashboard's sync cursor.
#[derive(Debug, Clone, Args)]
pub struct DashboardApiSettings {
    /// The Dashboard API `retention` asks how far the dashboard has counted (`GET
    /// /dashboard/sync`, with READ_API_TOKEN) (default: `http://` + BIND_ADDR).
    #[arg(long, env = "DASHBOARD_URL")]
    pub dashboard_url: Option<String>,
}

impl DashboardApiSettings {
    /// DASHBOARD_URL, or the API at `access`'s BIND_ADDR when it is not set.
    pub fn url(&self, access: &ApiAccessSettings) -> String {
        self.dashboard_url
            .clone()
            .unwrap_or_else(|| access.own_url())
    }
}

/// Hot standbys for the API's read-only queries: `serve` only.
#[derive(Debug, Clone, Args)]
pub struct ReadReplicaSettings {
    /// A hot standby of the Data Provider's database: `GET /events` lists from it (the change
    /// feed, `order=stored`, never does). Unset: every query goes to the primary.
    #[arg(long, env = "DATA_PROVIDER_READ_DATABASE_URL")]
    pub data_provider_read_database_url: Option<String>,

    /// A hot standby of the Dashboard's database: `GET /dashboard`, the pace endpoints and the
    /// chart page read from it. Unset: every query goes to the primary.
    #[arg(long, env = "DASHBOARD_READ_DATABASE_URL")]
    pub dashboard_read_database_url: Option<String>,

    /// Reads fall back to the primary while a standby lags further behind it than this (or
    /// does not answer); checked every second.
    #[arg(long, env = "READ_REPLICA_MAX_LAG_MS", default_value_t = 5000, value_parser = clap::value_parser!(u64).range(0..=3_600_000))]
    pub read_replica_max_lag_ms: u64,
}

/// The legacy ingest token, and how soon the API keys' changes take effect: `serve`.
#[derive(Debug, Clone, Args)]
pub struct KeySettings {
    /// When set, `POST /events` needs `Authorization: Bearer <this token>` (or an API key with
    /// the `ingest` scope).
    #[arg(long, env = "INGEST_API_TOKEN", hide_env_values = true, value_parser = secret)]
    pub ingest_api_token: Option<SecretString>,

    /// How often (milliseconds) each process reads the API keys again from its databases, so
    /// that a key created or revoked with `roompulse keys` takes effect everywhere within this
    /// long (a change also wakes the processes at once through LISTEN/NOTIFY).
    #[arg(long, env = "API_KEYS_REFRESH_MS", default_value_t = 2000, value_parser = clap::value_parser!(u64).range(100..=600_000))]
    pub api_keys_refresh_ms: u64,
}

/// When and how the dashboard sync runs: `serve`.
#[derive(Debug, Clone, Args)]
pub struct SyncSettings {
    /// When the dashboard sync runs: cron with seconds (`sec min hour day month weekday`), UTC.
    #[arg(long, env = "DASHBOARD_SYNC_SCHEDULE", default_value = "*/5 * * * * *", value_parser = cron_with_seconds)]
    pub dashboard_sync_schedule: String,

    /// `follow`: the dashboard sync follows the Data Provider's change feed continuously,
    /// counting events as soon as they are stored (DASHBOARD_SYNC_SCHEDULE then only restarts
    /// it if it stopped). `schedule`: one sync pass at each tick of DASHBOARD_SYNC_SCHEDULE.
    #[arg(long, env = "DASHBOARD_SYNC_MODE", value_enum, default_value_t = SyncMode::Follow)]
    pub dashboard_sync_mode: SyncMode,
}

/// The value a group's declarations give with no flag and no environment.
fn declared_defaults<T: Args + FromArgMatches>() -> T {
    let cmd =
        T::augment_args(clap::Command::new("defaults")).mut_args(|a| a.env(None::<&'static str>));
    match cmd
        .try_get_matches_from(["defaults"])
        .and_then(|m| T::from_arg_matches(&m))
    {
        Ok(group) => group,
        // Only a defect in the declarations can get here; `every_group_has_its_declared_defaults`
        // builds every group.
        Err(e) => panic!("the settings' own defaults do not parse: {e}"),
    }
}

macro_rules! default_as_declared {
    ($($group:ty),* $(,)?) => {
        $(impl Default for $group {
            /// Every setting of the group at the default its flag declares.
            fn default() -> Self {
                declared_defaults()
            }
        })*
    };
}

default_as_declared!(
    ApiAccessSettings,
    DataProviderApiSettings,
    DashboardApiSettings,
    EventsDbSettings,
    DashboardDbSettings,
    PoolSettings,
    RedisSettings,
    QueueSettings,
    BatchSettings,
    ApiLimitSettings,
    HttpServerSettings,
    ReadReplicaSettings,
    KeySettings,
    SyncSettings,
);

impl Config {
    /// DATA_PROVIDER_URL, or this process's own API when it is not set.
    pub fn data_provider_url(&self) -> String {
        self.data_provider_api
            .data_provider_url
            .clone()
            .unwrap_or_else(|| self.access.own_url())
    }
}

/// A token as clap reads it: held as a secret from the start.
fn secret(raw: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(raw))
}

/// Checks a cron expression the way the scheduler will read it (six fields, seconds first).
/// Used as clap's parser for `DASHBOARD_SYNC_SCHEDULE`, so that a bad one stops the process at
/// start with the reason.
pub fn cron_with_seconds(expr: &str) -> Result<String, String> {
    let cron = croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Required)
        .dom_and_dow(true)
        .build()
        .parse(expr)
        .map_err(|e| {
            format!("{e}; expected cron with seconds, e.g. `*/5 * * * * *` (every 5 seconds)")
        })?;
    cron.find_next_occurrence(&chrono::Utc::now(), false)
        .map_err(|e| format!("it never fires: {e}"))?;
    Ok(expr.to_string())
}

/// A URL as it may appear in logs and errors: the password replaced by `***`.
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut url) => {
            if url.password().is_some() {
                // set_password only fails for URLs that cannot have one, which this one has.
                let _ = url.set_password(Some("***"));
            }
            url.to_string()
        }
        // A Redis Cluster URL lists several `host:port`, which is no URL to the parser; its
        // password is hidden all the same.
        Err(_) => match raw.split_once("://") {
            Some((scheme, rest)) if scheme.starts_with("redis") => match rest.rsplit_once('@') {
                Some((credentials, hosts)) if credentials.contains(':') => {
                    let user = credentials.split(':').next().unwrap_or("");
                    format!("{scheme}://{user}:***@{hosts}")
                }
                _ => raw.to_string(),
            },
            _ => "<unparseable URL>".to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn every_group_has_its_declared_defaults() {
        let c = Config::default();
        assert_eq!(c.access.bind_addr.to_string(), "127.0.0.1:8000");
        assert!(c.access.read_api_token.is_none());
        assert_eq!(c.batch.worker_batch_size, 5000);
        assert_eq!(c.sync.dashboard_sync_schedule, "*/5 * * * * *");
        assert_eq!(c.sync.dashboard_sync_mode, SyncMode::Follow);
        assert_eq!(c.keys.api_keys_refresh_ms, 2000);
        assert_eq!(c.queue.redis.redis_url, RedisSettings::default().redis_url);
        assert_eq!(c.data_provider_url(), "http://127.0.0.1:8000");
        assert_eq!(
            DashboardApiSettings::default().url(&ApiAccessSettings {
                bind_addr: "0.0.0.0:9000".parse().unwrap(),
                read_api_token: None,
            }),
            "http://127.0.0.1:9000"
        );
    }

    #[test]
    fn debug_prints_no_token() {
        let parsed = Config::augment_args(clap::Command::new("serve"))
            .mut_args(|a| a.env(None::<&'static str>))
            .try_get_matches_from([
                "serve",
                "--read-api-token",
                "read-t0ken-value",
                "--ingest-api-token",
                "ingest-t0ken-value",
            ])
            .and_then(|m| Config::from_arg_matches(&m))
            .unwrap();
        let tokens = (
            parsed.access.read_api_token.as_ref().unwrap(),
            parsed.keys.ingest_api_token.as_ref().unwrap(),
        );
        assert_eq!(
            (tokens.0.expose_secret(), tokens.1.expose_secret()),
            ("read-t0ken-value", "ingest-t0ken-value")
        );
        let debug = format!("{parsed:?} {parsed:#?}");
        assert!(debug.contains("read_api_token"), "{debug}");
        assert!(!debug.contains("t0ken"), "{debug}");
    }

    #[test]
    fn passwords_never_reach_logs() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/x"),
            "postgres://app:***@db:5432/x"
        );
        assert_eq!(
            redact_url("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
        assert_eq!(redact_url("not a url"), "<unparseable URL>");
        assert_eq!(
            redact_url("redis+cluster://app:s3cret@r1:7000,r2:7000"),
            "redis+cluster://app:***@r1:7000,r2:7000"
        );
    }
}
