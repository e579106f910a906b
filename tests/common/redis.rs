//! A Redis key prefix per test on the shared Redis at 127.0.0.1:6379.

use roompulse::data_provider::queue::{Queue, QueueKeys};

pub const REDIS_URL: &str = "redis://127.0.0.1:6379";

/// A Redis key prefix of its own for one test; its keys are deleted when the test ends.
pub struct TestKeys {
    pub queue_key: String,
}

impl TestKeys {
    pub fn new() -> Self {
        Self {
            queue_key: format!("roompulse-test:{}:events", uuid::Uuid::new_v4().simple()),
        }
    }

    pub fn queue(&self) -> Queue {
        Queue::new(REDIS_URL, QueueKeys::new(&self.queue_key), 8).expect("queue")
    }
}

impl Drop for TestKeys {
    fn drop(&mut self) {
        let pattern = format!("{}*", self.queue_key);
        let _ = std::thread::spawn(move || {
            let Ok(client) = redis::Client::open(REDIS_URL) else {
                return;
            };
            let Ok(mut conn) = client.get_connection() else {
                return;
            };
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(&pattern)
                .query(&mut conn)
                .unwrap_or_default();
            if !keys.is_empty() {
                let _: Result<(), _> = redis::cmd("DEL").arg(&keys).query(&mut conn);
            }
        })
        .join();
    }
}

/// The messages waiting in the list `key` (not those held by workers), oldest first.
pub async fn queued(redis_url: &str, key: &str) -> Vec<String> {
    let client = redis::Client::open(redis_url).expect("redis url");
    let mut c = client
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    redis::cmd("LRANGE")
        .arg(key)
        .arg(0)
        .arg(-1)
        .query_async(&mut c)
        .await
        .expect("LRANGE")
}
