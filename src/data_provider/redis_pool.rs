//! One Redis, or a Redis Cluster, behind one pool type: the queue speaks to either the same way.
//!
//! `REDIS_URL` names a cluster with the `redis+cluster://` scheme and a comma-separated list of
//! seed nodes (`redis+cluster://[user:password@]host:port[,host:port…]`); any `redis://` URL is
//! one server. The seeds are only where the client starts: it learns every master
//! and which slots it owns from them, and follows the cluster's redirections after that.

use std::time::Duration;

use deadpool::managed;
use deadpool_redis::redis::aio::ConnectionLike;
use deadpool_redis::redis::cluster::{ClusterClient, ClusterClientBuilder};
use deadpool_redis::redis::cluster_async::ClusterConnection;
use deadpool_redis::redis::{self, Cmd, Pipeline, RedisError, RedisFuture, Value};
use deadpool_redis::{PoolConfig, Runtime};

const CLUSTER_SCHEME: &str = "redis+cluster://";

/// A pool of connections to one Redis or to a Redis Cluster.
#[derive(Clone)]
pub enum RedisPool {
    Single(deadpool_redis::Pool),
    Cluster(managed::Pool<ClusterManager>),
}

/// A pooled connection from either kind of pool; commands, pipelines and scripts run on it
/// alike (a cluster connection routes each to the master owning its keys' slot).
pub enum RedisConnection {
    Single(deadpool_redis::Connection),
    Cluster(managed::Object<ClusterManager>),
}

impl RedisPool {
    /// A pool for `url` (not connected yet). The error is the reason the URL is unusable.
    pub fn new(url: &str, pool: PoolConfig) -> Result<Self, String> {
        match cluster_seeds(url)? {
            Some(seeds) => {
                let client = ClusterClientBuilder::new(seeds)
                    // A few quick tries to follow a redirection or reconnect, then the error
                    // goes to the caller, whose backoff (and /ready) handles an outage.
                    .retries(3)
                    .min_retry_wait(100)
                    .max_retry_wait(1000)
                    .connection_timeout(Duration::from_secs(5))
                    .build()
                    .map_err(|e| e.to_string())?;
                managed::Pool::builder(ClusterManager { client })
                    .max_size(pool.max_size)
                    .runtime(Runtime::Tokio1)
                    .wait_timeout(pool.timeouts.wait)
                    .create_timeout(pool.timeouts.create)
                    .recycle_timeout(pool.timeouts.recycle)
                    .build()
                    .map(Self::Cluster)
                    .map_err(|e| e.to_string())
            }
            None => {
                let mut cfg = deadpool_redis::Config::from_url(url);
                cfg.pool = Some(pool);
                cfg.create_pool(Some(Runtime::Tokio1))
                    .map(Self::Single)
                    .map_err(|e| e.to_string())
            }
        }
    }

    pub fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }

    pub async fn get(&self) -> Result<RedisConnection, String> {
        match self {
            Self::Single(p) => p
                .get()
                .await
                .map(RedisConnection::Single)
                .map_err(|e| e.to_string()),
            Self::Cluster(p) => p
                .get()
                .await
                .map(RedisConnection::Cluster)
                .map_err(|e| e.to_string()),
        }
    }
}

impl ConnectionLike for RedisConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(c) => c.req_packed_commands(cmd, offset, count),
            Self::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}

/// Opens cluster connections, each with its own connections to the masters: a worker blocked
/// in `BLMOVE` holds one of them and delays no one else's commands.
pub struct ClusterManager {
    client: ClusterClient,
}

impl managed::Manager for ClusterManager {
    type Type = ClusterConnection;
    type Error = RedisError;

    async fn create(&self) -> Result<ClusterConnection, RedisError> {
        self.client.get_async_connection().await
    }

    async fn recycle(
        &self,
        conn: &mut ClusterConnection,
        _: &managed::Metrics,
    ) -> managed::RecycleResult<RedisError> {
        redis::cmd("PING").query_async::<String>(conn).await?;
        Ok(())
    }
}

/// The seed nodes of a `redis+cluster://` URL as `redis://` URLs, each with the URL's user,
/// password and query; `None` for any other URL (one server).
pub fn cluster_seeds(url: &str) -> Result<Option<Vec<String>>, String> {
    let Some(rest) = url.strip_prefix(CLUSTER_SCHEME) else {
        return Ok(None);
    };
    // authority[/path][?query]: the path (a database number) means nothing to a cluster, which
    // has database 0 only.
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let query = tail.find('?').map(|at| &tail[at..]).unwrap_or("");
    let (credentials, hosts) = match authority.rfind('@') {
        Some(at) => (&authority[..=at], &authority[at + 1..]),
        None => ("", authority),
    };
    let seeds: Vec<String> = hosts
        .split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(|h| format!("redis://{credentials}{h}{query}"))
        .collect();
    if seeds.is_empty() {
        return Err("a redis+cluster:// URL names at least one host:port".to_string());
    }
    for seed in &seeds {
        url::Url::parse(seed)
            .map_err(|e| format!("seed {}: {e}", crate::config::redact_url(seed)))?;
    }
    Ok(Some(seeds))
}

#[cfg(test)]
mod tests {
    use super::cluster_seeds;

    #[test]
    fn a_cluster_url_lists_its_seeds() {
        assert_eq!(
            cluster_seeds("redis+cluster://10.0.0.1:7000,10.0.0.2:7001").unwrap(),
            Some(vec![
                "redis://10.0.0.1:7000".to_string(),
                "redis://10.0.0.2:7001".to_string()
            ])
        );
        assert_eq!(
            cluster_seeds("redis+cluster://app:pw@a:1,b:2/0?protocol=resp3").unwrap(),
            Some(vec![
                "redis://app:pw@a:1?protocol=resp3".to_string(),
                "redis://app:pw@b:2?protocol=resp3".to_string()
            ])
        );
        assert_eq!(cluster_seeds("redis://127.0.0.1:6379").unwrap(), None);
        assert!(cluster_seeds("redis+cluster://").is_err());
        assert!(cluster_seeds("redis+cluster://a:notaport").is_err());
    }
}
