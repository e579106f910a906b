//! The Redis queue protocol between the loader (and any other producer) and the workers.
//!
//! Keys, for a queue key `K` (`EVENTS_QUEUE_KEY`):
//! - `K` — the list of pending messages: producers `RPUSH`, workers take from the left.
//! - `K:processing:<worker>` — the one batch a worker holds. A batch moves here from `K` in one
//!   atomic step (a Lua script), so a message is always in exactly one list.
//! - `K:lease:<worker>` — expires unless the worker's heartbeat renews it.
//! - `K:workers` — the workers that may hold a batch.
//! - `K:dead` — dead letters: messages that can never be stored, with the reason.
//!
//! On a Redis Cluster every key a script touches must live in one hash slot, so there `K` is
//! wrapped in a hash tag (`{roompulse:events}`, and `{roompulse:events}:dead`, …) unless it
//! already holds one: the whole queue lives on the master owning that slot. On one Redis the
//! names stay as they always were, so an upgrade finds the messages already queued.
//!
//! A worker acknowledges a batch only after PostgreSQL committed it; a worker whose lease ran
//! out (it died, or lost Redis for longer than the lease) has its batch pushed back to the head
//! of `K` by whichever worker notices first. Delivery is therefore at-least-once, and the
//! idempotent insert makes the effect exactly-once.

use std::sync::LazyLock;
use std::time::Duration;

use deadpool_redis::redis::{self, AsyncCommands, Script};
use serde::Serialize;

use super::redis_pool::{RedisConnection, RedisPool};

use crate::config::redact_url;

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("Redis at {url} is unavailable: {reason}")]
    Unavailable { url: String, reason: String },
    #[error("bad Redis URL {url}: {reason}")]
    BadUrl { url: String, reason: String },
}

impl From<QueueError> for crate::error::ApiError {
    fn from(e: QueueError) -> Self {
        crate::error::ApiError::Unavailable(e.to_string())
    }
}

#[derive(Debug, Clone)]
pub struct QueueKeys {
    pub queue: String,
    pub dead: String,
    pub workers: String,
}

impl QueueKeys {
    pub fn new(queue: &str) -> Self {
        Self {
            queue: queue.to_string(),
            dead: format!("{queue}:dead"),
            workers: format!("{queue}:workers"),
        }
    }
    pub fn processing(&self, worker: &str) -> String {
        format!("{}:processing:{worker}", self.queue)
    }
    pub fn lease(&self, worker: &str) -> String {
        format!("{}:lease:{worker}", self.queue)
    }

    /// The same queue with every key in one hash slot of a Redis Cluster: the queue key inside
    /// a hash tag, unless it already has one (a non-empty `{…}`, the part Redis hashes).
    pub fn in_one_slot(&self) -> Self {
        if has_hash_tag(&self.queue) {
            self.clone()
        } else {
            Self::new(&format!("{{{}}}", self.queue))
        }
    }
}

/// Whether Redis Cluster hashes only part of `key`: a `{` followed later by a `}` with at least
/// one character between them (the first such pair counts).
fn has_hash_tag(key: &str) -> bool {
    key.find('{')
        .and_then(|open| key[open + 1..].find('}'))
        .is_some_and(|len| len > 0)
}

/// Why a message could not be stored, as kept in `K:dead`.
#[derive(Debug, Clone, Serialize)]
pub struct DeadLetter {
    pub reason: String,
    /// The message exactly as it was queued.
    pub message: String,
    pub worker: String,
    pub failed_at: String,
}

/// Tops the worker's processing list up to ARGV[1] messages from the queue, renews the worker's
/// lease, and returns the whole processing list, in one step.
///
/// The whole list, not only what this call moved: a claim whose reply was lost (Redis stopped
/// or the connection broke after running it) left messages there that the worker never saw,
/// and the acknowledgement deletes the list. Returning them with the next claim means the
/// worker stores exactly what it acknowledges.
const CLAIM: &str = r"
local want = tonumber(ARGV[1]) - redis.call('LLEN', KEYS[2])
if want > 0 then
  local items = redis.call('LPOP', KEYS[1], want)
  if items then
    for i = 1, #items, 1000 do
      redis.call('RPUSH', KEYS[2], unpack(items, i, math.min(i + 999, #items)))
    end
  end
end
redis.call('SADD', KEYS[3], ARGV[2])
redis.call('SET', KEYS[4], '1', 'EX', ARGV[3])
return redis.call('LRANGE', KEYS[2], 0, -1)
";

/// Acknowledges the batch: records its dead letters and forgets it. Does nothing when the batch
/// is no longer ours (another worker already put it back in the queue and will decide its fate).
const ACK: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
for i = 1, #ARGV, 1000 do
  redis.call('RPUSH', KEYS[2], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
redis.call('DEL', KEYS[1])
return 1
";

/// Puts a worker's batch back at the head of the queue, in its original order, and forgets the
/// worker. With ARGV[2] = 'if-expired', only when the worker's lease has run out.
const HAND_BACK: &str = r"
if ARGV[2] == 'if-expired' and redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
local n = 0
while redis.call('LMOVE', KEYS[2], KEYS[3], 'RIGHT', 'LEFT') do n = n + 1 end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[4], ARGV[1])
return n
";

/// Counts the queue and every registered worker's processing list at one instant.
const BACKLOG: &str = r"
local in_flight = 0
local prefix = string.sub(KEYS[2], 1, -8) .. 'processing:'
for _, w in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  in_flight = in_flight + redis.call('LLEN', prefix .. w)
end
return {redis.call('LLEN', KEYS[1]), in_flight}
";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backlog {
    pub queued: i64,
    pub in_flight: i64,
}

static BACKLOG_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(BACKLOG));
static CLAIM_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(CLAIM));
static ACK_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(ACK));
static HAND_BACK_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(HAND_BACK));

#[derive(Clone)]
pub struct Queue {
    pool: RedisPool,
    keys: QueueKeys,
    url: String,
}

impl Queue {
    /// The queue `keys` on the Redis or Redis Cluster (`redis+cluster://…`) at `redis_url`; on a
    /// cluster, under `keys.in_one_slot()` (`keys()` says which names are in use).
    pub fn new(redis_url: &str, keys: QueueKeys, pool_size: usize) -> Result<Self, QueueError> {
        let config = deadpool_redis::PoolConfig {
            max_size: pool_size,
            timeouts: deadpool_redis::Timeouts {
                wait: Some(Duration::from_secs(5)),
                create: Some(Duration::from_secs(5)),
                recycle: Some(Duration::from_secs(5)),
            },
            ..Default::default()
        };
        let pool = RedisPool::new(redis_url, config).map_err(|reason| QueueError::BadUrl {
            url: redact_url(redis_url),
            reason,
        })?;
        let keys = if pool.is_cluster() {
            keys.in_one_slot()
        } else {
            keys
        };
        Ok(Self {
            pool,
            keys,
            url: redact_url(redis_url),
        })
    }

    pub fn keys(&self) -> &QueueKeys {
        &self.keys
    }

    fn unavailable(&self, e: impl std::fmt::Display) -> QueueError {
        QueueError::Unavailable {
            url: self.url.clone(),
            reason: e.to_string(),
        }
    }

    async fn conn(&self) -> Result<RedisConnection, QueueError> {
        self.pool.get().await.map_err(|e| self.unavailable(e))
    }

    pub async fn ping(&self) -> Result<(), QueueError> {
        let mut c = self.conn().await?;
        redis::cmd("PING")
            .query_async::<String>(&mut c)
            .await
            .map(|_| ())
            .map_err(|e| self.unavailable(e))
    }

    /// Appends messages to the queue: one round trip for the whole slice, `RPUSH`es of 1,000.
    pub async fn push<M: AsRef<[u8]>>(&self, messages: &[M]) -> Result<(), QueueError> {
        if messages.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for chunk in messages.chunks(1000) {
            let cmd = pipe.cmd("RPUSH").arg(&self.keys.queue);
            for m in chunk {
                cmd.arg(m.as_ref());
            }
            cmd.ignore();
        }
        let mut c = self.conn().await?;
        pipe.query_async::<()>(&mut c)
            .await
            .map_err(|e| self.unavailable(e))
    }

    /// Takes up to `max` messages into `worker`'s processing list and returns the list (what
    /// an earlier claim left there unseen included). When both are empty it blocks on Redis for
    /// up to `wait` (no polling) and returns what arrived, possibly nothing.
    pub async fn claim(
        &self,
        worker: &str,
        max: usize,
        lease: Duration,
        wait: Duration,
    ) -> Result<Vec<Vec<u8>>, QueueError> {
        let mut c = self.conn().await?;
        let processing = self.keys.processing(worker);
        let claim = |n: usize| {
            let mut inv = CLAIM_SCRIPT.prepare_invoke();
            inv.key(&self.keys.queue)
                .key(&processing)
                .key(&self.keys.workers)
                .key(self.keys.lease(worker))
                .arg(n)
                .arg(worker)
                .arg(lease.as_secs().max(1));
            inv
        };
        let items: Vec<Vec<u8>> = claim(max)
            .invoke_async(&mut c)
            .await
            .map_err(|e| self.unavailable(e))?;
        if !items.is_empty() {
            return Ok(items);
        }
        // The claim above registered the lease, so a message that lands in the processing list
        // while we block is covered by it.
        let first: Option<Vec<u8>> = c
            .blmove(
                &self.keys.queue,
                &processing,
                redis::Direction::Left,
                redis::Direction::Right,
                wait.as_secs_f64(),
            )
            .await
            .map_err(|e| self.unavailable(e))?;
        if first.is_none() {
            return Ok(Vec::new());
        }
        // The message BLMOVE delivered is in the processing list: topping it up returns it
        // with the rest of the batch.
        claim(max)
            .invoke_async(&mut c)
            .await
            .map_err(|e| self.unavailable(e))
    }

    /// Renews `worker`'s lease; its heartbeat calls this well within the lease.
    pub async fn renew(&self, worker: &str, lease: Duration) -> Result<(), QueueError> {
        let mut c = self.conn().await?;
        redis::pipe()
            .sadd(&self.keys.workers, worker)
            .ignore()
            .set_ex(self.keys.lease(worker), 1, lease.as_secs().max(1))
            .ignore()
            .query_async::<()>(&mut c)
            .await
            .map_err(|e| self.unavailable(e))
    }

    /// Acknowledges `worker`'s batch after it was committed, recording its dead letters.
    /// Returns false when the batch had already been handed to another worker.
    pub async fn ack(&self, worker: &str, dead: &[DeadLetter]) -> Result<bool, QueueError> {
        let mut c = self.conn().await?;
        let mut inv = ACK_SCRIPT.prepare_invoke();
        inv.key(self.keys.processing(worker)).key(&self.keys.dead);
        for d in dead {
            // Serialising a struct of strings cannot fail.
            inv.arg(serde_json::to_string(d).unwrap_or_default());
        }
        let done: i64 = inv
            .invoke_async(&mut c)
            .await
            .map_err(|e| self.unavailable(e))?;
        Ok(done == 1)
    }

    /// Puts `worker`'s batch back at the head of the queue (graceful shutdown with a batch that
    /// was not stored) and unregisters it. Returns how many messages went back.
    pub async fn hand_back(&self, worker: &str) -> Result<i64, QueueError> {
        self.hand_back_script(worker, "always").await
    }

    async fn hand_back_script(&self, worker: &str, mode: &str) -> Result<i64, QueueError> {
        let mut c = self.conn().await?;
        HAND_BACK_SCRIPT
            .key(self.keys.lease(worker))
            .key(self.keys.processing(worker))
            .key(&self.keys.queue)
            .key(&self.keys.workers)
            .arg(worker)
            .arg(mode)
            .invoke_async(&mut c)
            .await
            .map_err(|e| self.unavailable(e))
    }

    /// Hands back the batches of every worker whose lease ran out. Returns the messages requeued.
    pub async fn recover_expired(&self) -> Result<i64, QueueError> {
        let workers: Vec<String> = {
            let mut c = self.conn().await?;
            c.smembers(&self.keys.workers)
                .await
                .map_err(|e| self.unavailable(e))?
        };
        let mut requeued = 0;
        for w in workers {
            let n = self.hand_back_script(&w, "if-expired").await?;
            if n > 0 {
                tracing::warn!(worker = %w, messages = n, "requeued the batch of a worker whose lease ran out");
                requeued += n;
            }
        }
        Ok(requeued)
    }

    pub async fn depth(&self) -> Result<i64, QueueError> {
        let mut c = self.conn().await?;
        c.llen(&self.keys.queue)
            .await
            .map_err(|e| self.unavailable(e))
    }

    pub async fn dead_depth(&self) -> Result<i64, QueueError> {
        let mut c = self.conn().await?;
        c.llen(&self.keys.dead)
            .await
            .map_err(|e| self.unavailable(e))
    }

    /// The dead letters, oldest first (`start`/`stop` as in `LRANGE`).
    pub async fn dead_letters(&self, start: isize, stop: isize) -> Result<Vec<String>, QueueError> {
        let mut c = self.conn().await?;
        c.lrange(&self.keys.dead, start, stop)
            .await
            .map_err(|e| self.unavailable(e))
    }

    /// Messages waiting in the queue and messages held by workers, read in one atomic step (two
    /// separate reads could miss a batch moving between the lists).
    pub async fn backlog(&self) -> Result<Backlog, QueueError> {
        let mut c = self.conn().await?;
        let (queued, in_flight): (i64, i64) = BACKLOG_SCRIPT
            .key(&self.keys.queue)
            .key(&self.keys.workers)
            .invoke_async(&mut c)
            .await
            .map_err(|e| self.unavailable(e))?;
        Ok(Backlog { queued, in_flight })
    }

    /// Messages currently held by workers (in processing lists).
    pub async fn in_flight(&self) -> Result<i64, QueueError> {
        Ok(self.backlog().await?.in_flight)
    }
}

#[cfg(test)]
mod tests {
    use super::QueueKeys;

    #[test]
    fn on_a_cluster_every_key_of_a_queue_shares_the_hash_tag() {
        let keys = QueueKeys::new("roompulse:events").in_one_slot();
        assert_eq!(keys.queue, "{roompulse:events}");
        assert_eq!(keys.dead, "{roompulse:events}:dead");
        assert_eq!(keys.workers, "{roompulse:events}:workers");
        assert_eq!(keys.processing("w1"), "{roompulse:events}:processing:w1");
        assert_eq!(keys.lease("w1"), "{roompulse:events}:lease:w1");
        // A key that already names its tag keeps it; an empty `{}` is no tag.
        assert_eq!(QueueKeys::new("q{t}").in_one_slot().queue, "q{t}");
        assert_eq!(QueueKeys::new("q{}").in_one_slot().queue, "{q{}}");
    }
}
