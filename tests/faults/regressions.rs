//! Deterministic checks of what the scenarios found, on a private Redis.

use std::time::Duration;

use roompulse::data_provider::queue::{Queue, QueueKeys};

use redis::AsyncCommands;

use crate::common::wait::eventually;
use crate::harness::PrivateRedis;

/// Scenario 2 lost a batch: Redis stopped after running a worker's claim but before the reply
/// reached it, and the worker's next acknowledgement deleted the processing list with those
/// messages in it, never stored. The next claim must hand them over.
#[tokio::test]
async fn a_claim_whose_reply_was_lost_is_claimed_again() {
    let redis = PrivateRedis::start_new().await;
    let queue = Queue::new(&redis.url(), QueueKeys::new("q"), 2).unwrap();
    let messages: Vec<String> = (0..10).map(|i| format!("m{i}")).collect();
    queue.push(&messages).await.unwrap();
    let (lease, wait) = (Duration::from_secs(5), Duration::from_millis(100));

    let lost = queue.claim("w", 4, lease, wait).await.unwrap();
    assert_eq!(lost.len(), 4);
    // The worker never saw `lost`; its next claim returns those messages topped up to 6.
    let batch = queue.claim("w", 6, lease, wait).await.unwrap();
    let text: Vec<String> = batch
        .iter()
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .collect();
    assert_eq!(text, messages[..6]);
    assert!(queue.ack("w", &[]).await.unwrap());

    // And after the queue ran dry, BLMOVE's message comes back with the rest, once.
    let rest = queue.claim("w", 100, lease, wait).await.unwrap();
    assert_eq!(rest.len(), 4);
    assert!(queue.ack("w", &[]).await.unwrap());
    let blocked = async {
        let client = redis::Client::open(redis.url()).unwrap();
        let mut c = client.get_multiplexed_async_connection().await.unwrap();
        eventually(
            "the claim blocks in BLMOVE",
            Duration::from_secs(30),
            || {
                let mut c = c.clone();
                async move {
                    let info: String = redis::cmd("INFO")
                        .arg("clients")
                        .query_async(&mut c)
                        .await
                        .unwrap();
                    info.lines()
                        .any(|l| l.starts_with("blocked_clients:") && l != "blocked_clients:0")
                }
            },
        )
        .await;
        queue.push(&["late"]).await.unwrap();
        c.rpush::<_, _, ()>("q", "later").await.unwrap();
    };
    let (late, ()) = tokio::join!(
        queue.claim("w", 100, lease, Duration::from_secs(30)),
        blocked
    );
    let late = late.unwrap();
    // "later" may or may not have arrived in time to join the batch.
    assert_eq!(late[..1], [b"late".to_vec()]);
    assert!(
        late[1..].iter().all(|m| m == b"later"),
        "BLMOVE's message is returned once: {late:?}"
    );
}
