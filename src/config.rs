//! Configuration: every setting is a flag and an environment variable (a `.env` file may set
//! them too), with the defaults an operator gets on a fresh machine.

use std::net::SocketAddr;

use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Address the HTTP API listens on.
    #[arg(long, env = "BIND_ADDR", default_value = "127.0.0.1:8000")]
    pub bind_addr: SocketAddr,

    /// The Data Provider's database (holds the events table). Created if missing.
    #[arg(
        long,
        env = "DATA_PROVIDER_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/roompulse_data_provider"
    )]
    pub data_provider_database_url: String,

    /// The Dashboard's database (holds the figures and the sync cursor). Created if missing.
    #[arg(
        long,
        env = "DASHBOARD_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/roompulse_dashboard"
    )]
    pub dashboard_database_url: String,

    /// Redis holding the events queue.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    pub redis_url: String,

    /// Redis list the loader pushes to and the workers drain; dead letters go to `<key>:dead`.
    #[arg(long, env = "EVENTS_QUEUE_KEY", default_value = "roompulse:events")]
    pub events_queue_key: String,

    /// Events a worker moves from the queue and inserts in one statement.
    #[arg(long, env = "WORKER_BATCH_SIZE", default_value_t = 5000, value_parser = clap::value_parser!(u32).range(1..=50_000))]
    pub worker_batch_size: u32,

    /// Seconds after which a silent worker's in-flight batch is handed to another worker.
    #[arg(long, env = "WORKER_LEASE_SECS", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub worker_lease_secs: u64,

    /// How long `GET /dashboard` may answer from its recent answers (0: always read the tables).
    #[arg(long, env = "DASHBOARD_CACHE_MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(0..=60_000))]
    pub dashboard_cache_ms: u64,

    /// When set, `POST /events` needs `Authorization: Bearer <this token>`.
    #[arg(long, env = "INGEST_API_TOKEN", hide_env_values = true)]
    pub ingest_api_token: Option<String>,

    /// When set, reading events and figures needs `Authorization: Bearer <this token>` (the
    /// ingest token reads too); the dashboard sync sends it to the Data Provider.
    #[arg(long, env = "READ_API_TOKEN", hide_env_values = true)]
    pub read_api_token: Option<String>,

    /// Requests to the event and dashboard endpoints served at once; more answer 503 with
    /// `Retry-After` instead of queueing without bound.
    #[arg(long, env = "MAX_CONCURRENT_REQUESTS", default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_concurrent_requests: u32,

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

    /// Connections per database pool.
    #[arg(long, env = "DATABASE_POOL_SIZE", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub database_pool_size: u32,

    /// The Data Provider API the dashboard sync reads events from (default: `http://` +
    /// BIND_ADDR, this process's own API, still spoken to over HTTP).
    #[arg(long, env = "DATA_PROVIDER_URL")]
    pub data_provider_url: Option<String>,

    /// When the dashboard sync runs: cron with seconds (`sec min hour day month weekday`), UTC.
    #[arg(long, env = "DASHBOARD_SYNC_SCHEDULE", default_value = "*/5 * * * * *", value_parser = crate::dashboard::schedule::parse_schedule)]
    pub dashboard_sync_schedule: String,
}

impl Config {
    pub fn queue_keys(&self) -> crate::data_provider::queue::QueueKeys {
        crate::data_provider::queue::QueueKeys::new(&self.events_queue_key)
    }

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
        Err(_) => "<unparseable URL>".to_string(),
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
    }
}
