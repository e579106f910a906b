//! The dashboard sync's follower (`DASHBOARD_SYNC_MODE=follow`, the default) across process
//! faults: the Data Provider API restarted and killed while the follower waits on its feed,
//! and the following process itself killed, with another `serve` process's schedule taking
//! over. Figures exact at each step.

use crate::common::free_port;
use crate::common::oracle::{assert_api_matches, Expected};
use crate::common::wait::eventually;
use crate::harness::Stack;
use crate::scenarios::{assert_dashboard_exact, drained, http_ok, serve, serve_api, GUARD, SERIAL};

/// Waits until the dashboard has counted `n` events, never more.
async fn synced(stack: &Stack, n: i64) {
    eventually(
        "the dashboard counted every stored event",
        GUARD,
        || async move {
            let got = stack.events_synced().await;
            assert!(got <= Some(n), "counted twice: {got:?} of {n}");
            got == Some(n)
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_follower_survives_data_provider_restarts_and_its_own_death() {
    let _serial = SERIAL.lock().await;
    const ROWS: u64 = 30_000;
    let mut stack = Stack::start().await;
    let expected = Expected::of(ROWS, 7);
    let csv = stack.write_csv(ROWS, 7);
    let text = std::fs::read_to_string(&csv).expect("export");
    let mut lines = text.split_inclusive('\n').filter(|l| !l.trim().is_empty());
    let header = lines.next().expect("header").to_string();
    let rows: Vec<&str> = lines.collect();
    let parts: Vec<std::path::PathBuf> = rows
        .chunks(rows.len().div_ceil(4))
        .enumerate()
        .map(|(i, part)| {
            let path = stack.dir.path().join(format!("part{i}.csv"));
            std::fs::write(&path, format!("{header}{}", part.concat())).expect("write part");
            path
        })
        .collect();
    let mut loaded = 0i64;
    let mut part_rows = rows.chunks(rows.len().div_ceil(4)).map(|c| c.len() as i64);

    let api_port = free_port();
    let api_url = format!("http://127.0.0.1:{api_port}");
    let start_api = |stack: &Stack, name: &str| serve_api(stack, name, api_port);
    let dashboard = |stack: &Stack, name: &str, port: u16| {
        serve(
            stack,
            name,
            &["--workers", "0"],
            &[
                ("BIND_ADDR", format!("127.0.0.1:{port}")),
                ("DATA_PROVIDER_URL", api_url.clone()),
                ("DASHBOARD_SYNC_MODE", "follow".to_string()),
            ],
        )
    };
    let mut api = start_api(&stack, "data-provider-1");
    let (port_a, port_b) = (free_port(), free_port());
    let mut first = dashboard(&stack, "dashboard-a", port_a);
    let mut worker = stack.worker(2);

    // 1. The follower counts what is loaded.
    stack.load(&parts[0]).succeeds(GUARD).await;
    loaded += part_rows.next().expect("part");
    drained(&stack).await;
    synced(&stack, loaded).await;

    // 2. The Data Provider API restarts (SIGTERM: its held requests are answered, then it
    //    exits) while the follower waits on its feed; events are stored meanwhile.
    api.terminate(GUARD).await;
    stack.load(&parts[1]).succeeds(GUARD).await;
    loaded += part_rows.next().expect("part");
    drained(&stack).await;
    let mut api = start_api(&stack, "data-provider-2");
    synced(&stack, loaded).await;

    // 3. Killed outright (SIGKILL) while the follower waits, and back.
    api.kill().await;
    stack.load(&parts[2]).succeeds(GUARD).await;
    loaded += part_rows.next().expect("part");
    drained(&stack).await;
    let mut api = start_api(&stack, "data-provider-3");
    synced(&stack, loaded).await;

    // 4. A second dashboard process runs beside the first, whose follower holds the sync lock;
    //    the first is killed while its follower waits, and the second's schedule takes over.
    let mut second = dashboard(&stack, "dashboard-b", port_b);
    eventually("the second dashboard answers", GUARD, || {
        http_ok(format!("http://127.0.0.1:{port_b}/health"))
    })
    .await;
    first.kill().await;
    stack.load(&parts[3]).succeeds(GUARD).await;
    loaded += part_rows.next().expect("part");
    drained(&stack).await;
    assert_eq!(loaded, ROWS as i64);
    synced(&stack, loaded).await;

    assert_dashboard_exact(&stack, &expected).await;
    assert_api_matches(
        &reqwest::Client::new(),
        &format!("http://127.0.0.1:{port_b}"),
        &expected.days,
    )
    .await;
    for p in [&mut api, &mut second, &mut worker] {
        p.terminate(GUARD).await;
    }
}
