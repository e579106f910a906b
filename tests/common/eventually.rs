//! Awaiting a condition instead of sleeping: shared by the `it` and `faults` test binaries.

use std::future::Future;
use std::time::Duration;

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
