//! Configuration: every setting is a flag and an environment variable (a `.env` file may set
//! them too), with the defaults an operator gets on a fresh machine.
//!
//! The settings come in small groups, and each subcommand flattens only the groups it uses, so
//! that its `--help` lists what it reads and nothing else. `Config` is all of them together,
//! as the running parts read them; a command fills the groups it has and leaves the others at
//! their defaults, which it does not read.

use std::net::SocketAddr;

use clap::{Args, FromArgMatches};

/// Every setting, as the running parts read them.
#[derive(Debug, Clone)]
pub struct Config {
    pub bind_addr: SocketAddr,
    pub data_provider_database_url: String,
    pub dashboard_database_url: String,
    pub redis_url: String,
    pub events_queue_key: String,
    pub worker_batch_size: u32,
    pub worker_lease_secs: u64,
    pub dashboard_cache_ms: u64,
    pub ingest_api_token: Option<String>,
    pub read_api_token: Option<String>,
    pub max_concurrent_requests: u32,
    pub database_pool_size: u32,
    pub data_provider_url: Option<String>,
    pub dashboard_sync_schedule: String,
    pub dashboard_sync_mode: SyncMode,
    pub request_timeout_secs: u64,
    pub http_idle_timeout_secs: u64,
    pub metrics_refresh_ms: u64,
    pub feed_horizon_warn_secs: u64,
    pub api_keys_refresh_ms: u64,
    pub data_provider_read_database_url: Option<String>,
    pub dashboard_read_database_url: Option<String>,
    pub read_replica_max_lag_ms: u64,
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

/// Where the API is and who may read it: what the API serves on, and what the dashboard sync
/// reads through.
#[derive(Debug, Clone, Args)]
pub struct ApiAccessSettings {
    /// Address the HTTP API listens on (and, unless DATA_PROVIDER_URL is set, where the
    /// dashboard sync reaches the Data Provider API).
    #[arg(long, env = "BIND_ADDR", default_value = "127.0.0.1:8000")]
    pub bind_addr: SocketAddr,

    /// The Data Provider API the dashboard sync reads events from (default: `http://` +
    /// BIND_ADDR, this process's own API, still spoken to over HTTP).
    #[arg(long, env = "DATA_PROVIDER_URL")]
    pub data_provider_url: Option<String>,

    /// When set, reading events and figures needs `Authorization: Bearer <this token>` (the
    /// ingest token reads too); the dashboard sync sends it to the Data Provider. A sync reading
    /// another process (DATA_PROVIDER_URL) once API keys exist needs it set to an all-hotel read
    /// key (`roompulse keys create --all-hotels --scope read`); one reading its own process
    /// presents a secret the process makes for itself.
    #[arg(long, env = "READ_API_TOKEN", hide_env_values = true)]
    pub read_api_token: Option<String>,
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

/// `serve`: every group.
#[derive(Debug, Clone, Args)]
pub struct ServeSettings {
    #[command(flatten)]
    pub access: ApiAccessSettings,
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

    /// When set, `POST /events` needs `Authorization: Bearer <this token>` (or an API key with
    /// the `ingest` scope).
    #[arg(long, env = "INGEST_API_TOKEN", hide_env_values = true)]
    pub ingest_api_token: Option<String>,

    /// How often (milliseconds) each process reads the API keys again from its databases, so
    /// that a key created or revoked with `roompulse keys` takes effect everywhere within this
    /// long (a change also wakes the processes at once through LISTEN/NOTIFY).
    #[arg(long, env = "API_KEYS_REFRESH_MS", default_value_t = 2000, value_parser = clap::value_parser!(u64).range(100..=600_000))]
    pub api_keys_refresh_ms: u64,

    /// When the dashboard sync runs: cron with seconds (`sec min hour day month weekday`), UTC.
    #[arg(long, env = "DASHBOARD_SYNC_SCHEDULE", default_value = "*/5 * * * * *", value_parser = cron_with_seconds)]
    pub dashboard_sync_schedule: String,

    /// `follow`: the dashboard sync follows the Data Provider's change feed continuously,
    /// counting events as soon as they are stored (DASHBOARD_SYNC_SCHEDULE then only restarts
    /// it if it stopped). `schedule`: one sync pass at each tick of DASHBOARD_SYNC_SCHEDULE.
    #[arg(long, env = "DASHBOARD_SYNC_MODE", value_enum, default_value_t = SyncMode::Follow)]
    pub dashboard_sync_mode: SyncMode,
}

impl From<ServeSettings> for Config {
    fn from(s: ServeSettings) -> Self {
        Config {
            bind_addr: s.access.bind_addr,
            data_provider_database_url: s.events_db.data_provider_database_url,
            dashboard_database_url: s.dashboard_db.dashboard_database_url,
            redis_url: s.queue.redis.redis_url,
            events_queue_key: s.queue.events_queue_key,
            worker_batch_size: s.batch.worker_batch_size,
            worker_lease_secs: s.batch.worker_lease_secs,
            dashboard_cache_ms: s.limits.dashboard_cache_ms,
            ingest_api_token: s.ingest_api_token,
            read_api_token: s.access.read_api_token,
            max_concurrent_requests: s.limits.max_concurrent_requests,
            database_pool_size: s.pool.database_pool_size,
            data_provider_url: s.access.data_provider_url,
            dashboard_sync_schedule: s.dashboard_sync_schedule,
            dashboard_sync_mode: s.dashboard_sync_mode,
            request_timeout_secs: s.http.request_timeout_secs,
            http_idle_timeout_secs: s.http.http_idle_timeout_secs,
            metrics_refresh_ms: s.http.metrics_refresh_ms,
            feed_horizon_warn_secs: s.http.feed_horizon_warn_secs,
            api_keys_refresh_ms: s.api_keys_refresh_ms,
            data_provider_read_database_url: s.replicas.data_provider_read_database_url,
            dashboard_read_database_url: s.replicas.dashboard_read_database_url,
            read_replica_max_lag_ms: s.replicas.read_replica_max_lag_ms,
        }
    }
}

impl Default for Config {
    /// Every setting at the default its flag declares: no flags, no environment.
    fn default() -> Self {
        let cmd = ServeSettings::augment_args(clap::Command::new("defaults"))
            .mut_args(|a| a.env(None::<&'static str>));
        let parsed = cmd
            .try_get_matches_from(["defaults"])
            .and_then(|m| ServeSettings::from_arg_matches(&m));
        match parsed {
            Ok(s) => s.into(),
            // Only a defect in the declarations above can get here; `defaults_parse` tests it.
            Err(e) => panic!("the settings' own defaults do not parse: {e}"),
        }
    }
}

/// A group of settings: fills its fields into a `Config`.
pub trait Settings {
    fn apply(&self, c: &mut Config);
}

impl Config {
    /// `Config::default()` with `groups` filled in: a command's `Config` from the groups its
    /// flags and environment gave.
    pub fn from_groups(groups: &[&dyn Settings]) -> Config {
        let mut c = Config::default();
        for g in groups {
            g.apply(&mut c);
        }
        c
    }
}

impl Settings for ServeSettings {
    fn apply(&self, c: &mut Config) {
        *c = self.clone().into();
    }
}

impl Settings for EventsDbSettings {
    fn apply(&self, c: &mut Config) {
        c.data_provider_database_url = self.data_provider_database_url.clone();
    }
}

impl Settings for DashboardDbSettings {
    fn apply(&self, c: &mut Config) {
        c.dashboard_database_url = self.dashboard_database_url.clone();
    }
}

impl Settings for PoolSettings {
    fn apply(&self, c: &mut Config) {
        c.database_pool_size = self.database_pool_size;
    }
}

impl Settings for RedisSettings {
    fn apply(&self, c: &mut Config) {
        c.redis_url = self.redis_url.clone();
    }
}

impl Settings for QueueSettings {
    fn apply(&self, c: &mut Config) {
        self.redis.apply(c);
        c.events_queue_key = self.events_queue_key.clone();
    }
}

impl Settings for BatchSettings {
    fn apply(&self, c: &mut Config) {
        c.worker_batch_size = self.worker_batch_size;
        c.worker_lease_secs = self.worker_lease_secs;
    }
}

impl Settings for ApiLimitSettings {
    fn apply(&self, c: &mut Config) {
        c.dashboard_cache_ms = self.dashboard_cache_ms;
        c.max_concurrent_requests = self.max_concurrent_requests;
    }
}

impl Settings for HttpServerSettings {
    fn apply(&self, c: &mut Config) {
        c.request_timeout_secs = self.request_timeout_secs;
        c.http_idle_timeout_secs = self.http_idle_timeout_secs;
        c.metrics_refresh_ms = self.metrics_refresh_ms;
        c.feed_horizon_warn_secs = self.feed_horizon_warn_secs;
    }
}

impl Settings for ReadReplicaSettings {
    fn apply(&self, c: &mut Config) {
        c.data_provider_read_database_url = self.data_provider_read_database_url.clone();
        c.dashboard_read_database_url = self.dashboard_read_database_url.clone();
        c.read_replica_max_lag_ms = self.read_replica_max_lag_ms;
    }
}

impl Settings for ApiAccessSettings {
    fn apply(&self, c: &mut Config) {
        c.bind_addr = self.bind_addr;
        c.data_provider_url = self.data_provider_url.clone();
        c.read_api_token = self.read_api_token.clone();
    }
}

impl Config {
    /// DATA_PROVIDER_URL, or this process's own API when it is not set.
    pub fn data_provider_url(&self) -> String {
        match &self.data_provider_url {
            Some(url) => url.clone(),
            None => {
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
    }
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
    use super::redact_url;

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
