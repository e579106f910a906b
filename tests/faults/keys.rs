//! A running `serve` whose modules' keys diverge: keys created for one module alone (in the
//! other process's databases, as `roompulse keys` does) are logged as leaving the other open.

use std::time::Duration;

use crate::common::free_port;
use crate::common::wait::eventually;
use crate::harness::Stack;
use crate::scenarios::{http_ok, serve, GUARD, SERIAL};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_logs_when_one_module_closes_and_the_other_stays_open() {
    let _serial = SERIAL.lock().await;
    let stack = Stack::start().await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut process = serve(
        &stack,
        "serve",
        &["--workers", "0", "--no-schedule"],
        &[
            ("BIND_ADDR", format!("127.0.0.1:{port}")),
            ("API_KEYS_REFRESH_MS", "500".to_string()),
        ],
    );
    let b = &base;
    eventually("serve answers", GUARD, || http_ok(format!("{b}/health"))).await;
    stack
        .run(
            "keys",
            &[
                "keys",
                "create",
                "--module",
                "data-provider",
                "--all-hotels",
                "--scope",
                "read",
            ],
            &[],
        )
        .succeeds(GUARD)
        .await;
    let p = &process;
    eventually(
        "the process logs the half-open API",
        Duration::from_secs(60),
        || async move {
            let log = p.log();
            log.contains("the data-provider API is now closed")
                && log
                    .contains("the data-provider API requires a key but the dashboard API is open")
        },
    )
    .await;
    process.terminate(GUARD).await;
}
