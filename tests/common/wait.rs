//! Awaiting a condition instead of sleeping.

use std::future::Future;
use std::time::Duration;

use roompulse::data_provider::queue::Queue;

/// Awaits `condition` (polled every 20 ms), failing the test with `what` after `limit`. The
/// limit is a deadlock guard, never a performance assertion.
pub async fn eventually<F, Fut>(what: &str, limit: Duration, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if condition().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Awaits a queue with nothing queued and nothing held by any worker. Workers acknowledge a
/// batch only after storing it, so from then on every message is stored or dead-lettered. A
/// Redis that does not answer (stopped by a fault test) counts as not drained yet.
pub async fn drained(queue: &Queue, limit: Duration) {
    eventually("the queue is drained", limit, || async {
        matches!(queue.backlog().await, Ok(b) if b.queued == 0 && b.in_flight == 0)
    })
    .await;
}
