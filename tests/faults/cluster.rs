//! The queue on a Redis Cluster of three masters (`REDIS_URL=redis+cluster://…`): the loader,
//! the workers, `/ready` and `/metrics` as on one Redis, and a master restarted mid-drain.
//! Each ends with every event stored exactly once and exact figures.

use serde_json::Value;

use crate::common::free_port;
use crate::common::oracle::{assert_api_matches, Expected};
use crate::common::wait::eventually;
use crate::harness::{Stack, QUEUE_KEY};
use crate::scenarios::{counted_exactly, http_ok, serve, GUARD, SERIAL};

/// The `queued N events` count of a finished `load-events`.
fn queued_by_loader(log: &str) -> i64 {
    log.lines()
        .rev()
        .find_map(|l| {
            let rest = &l[l.find("queued ")? + "queued ".len()..];
            rest.split(' ').next()?.parse().ok()
        })
        .expect("the loader's summary line")
}

/// A gauge's value in a `/metrics` text.
fn gauge(metrics: &str, name: &str) -> Option<i64> {
    metrics.lines().find_map(|l| {
        let (n, v) = l.split_once(' ')?;
        (n == name).then(|| v.trim().parse::<f64>().ok().map(|v| v as i64))?
    })
}

/// Load, `/metrics` counting the queue on the cluster, drain by workers, exact figures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_on_a_redis_cluster_loads_drains_and_counts_exactly() {
    let _serial = SERIAL.lock().await;
    const ROWS: u64 = 30_000;
    let mut stack = Stack::start_clustered().await;
    let expected = Expected::of(ROWS, 21);
    let csv = stack.write_csv(ROWS, 21);

    // The API and the sync first, without workers: the queue only fills.
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut api = serve(
        &stack,
        "serve",
        &["--workers", "0"],
        &[
            ("BIND_ADDR", format!("127.0.0.1:{port}")),
            ("METRICS_REFRESH_MS", "0".to_string()),
        ],
    );
    eventually("serve answers", GUARD, || http_ok(format!("{base}/health"))).await;
    let mut loader = stack.load(&csv);
    loader.succeeds(GUARD).await;
    assert_eq!(queued_by_loader(&loader.log()), ROWS as i64);

    // Every key of the queue is in one slot: the hash tag of EVENTS_QUEUE_KEY.
    let tagged = format!("{{{QUEUE_KEY}}}");
    let queue = stack.queue();
    assert_eq!(queue.keys().queue, tagged);
    let owner = stack.redis.cluster().owner_of(&tagged).await;
    let mut on_owner = stack.redis.cluster().nodes[owner]
        .connection()
        .await
        .expect("the owner");
    let len: i64 = redis::cmd("LLEN")
        .arg(&tagged)
        .query_async(&mut on_owner)
        .await
        .expect("LLEN on the owner");
    assert_eq!(len, ROWS as i64, "the whole queue is on the slot's master");

    let ready: Value = reqwest::get(format!("{base}/ready"))
        .await
        .expect("ready")
        .json()
        .await
        .expect("json");
    assert_eq!(ready["checks"]["redis"], "up", "{ready}");
    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert_eq!(
        gauge(&metrics, "roompulse_queue_depth"),
        Some(ROWS as i64),
        "{metrics}"
    );

    let mut worker = stack.worker(2);
    counted_exactly(&stack, &expected).await;
    assert_api_matches(&reqwest::Client::new(), &base, &expected.days).await;
    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert_eq!(gauge(&metrics, "roompulse_queue_depth"), Some(0));
    assert_eq!(gauge(&metrics, "roompulse_queue_in_flight"), Some(0));
    worker.terminate(GUARD).await;
    api.terminate(GUARD).await;
}

/// The master owning the queue's slot SIGKILLed while the loader pushes and the workers drain,
/// started again from its AOF: the loader and the workers retry, and every event the loader
/// counted as queued is stored exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_killed_mid_drain_loses_nothing_queued() {
    let _serial = SERIAL.lock().await;
    const ROWS: u64 = 50_000;
    let mut stack = Stack::start_clustered().await;
    let expected = Expected::of(ROWS, 22);
    let csv = stack.write_csv(ROWS, 22);
    let owner = stack
        .redis
        .cluster()
        .owner_of(&format!("{{{QUEUE_KEY}}}"))
        .await;

    let port = free_port();
    let mut server = serve(
        &stack,
        "serve",
        &["--workers", "2"],
        &[("BIND_ADDR", format!("127.0.0.1:{port}"))],
    );
    let mut loader = stack.load(&csv);
    let s = &stack;
    eventually(
        "the workers stored and hold a batch",
        GUARD,
        || async move {
            s.stored().await.is_some_and(|(n, _)| n > 0)
                && matches!(s.backlog().await, Some((b, _)) if b.in_flight > 0)
        },
    )
    .await;
    stack.redis.cluster().nodes[owner].kill().await;
    // Down until the workers have met the outage (their next claim fails).
    let server_ref = &server;
    eventually("the workers met the outage", GUARD, || async move {
        let log = server_ref.log();
        [
            "cannot take a batch",
            "acknowledge failed",
            "lease renewal failed",
        ]
        .iter()
        .any(|m| log.contains(m))
    })
    .await;
    assert!(!server.has_exited(), "serve died while a master was down");
    stack.redis.cluster().nodes[owner].start().await;
    stack.redis.cluster().await_ok().await;

    loader.succeeds(GUARD).await;
    assert_eq!(
        queued_by_loader(&loader.log()),
        ROWS as i64,
        "the loader counted every row as queued"
    );
    counted_exactly(&stack, &expected).await;
    server.terminate(GUARD).await;
}
