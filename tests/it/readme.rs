//! The README's shell blocks, run as written: a `serve` of their own stands in for the Run
//! section's first command (the test run is its second), and every other block runs in order in
//! one `bash` in the repository, as a reader would paste them into a second terminal. Then the
//! figures the README promises are checked against that serve.

use std::process::Stdio;
use std::time::Duration;

use roompulse::dashboard::busiest::busiest_hotel_year;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::common::db::TestDb;
use crate::common::redis::{TestKeys, REDIS_URL};
use crate::swagger::figures;

const README: &str = include_str!("../../README.md");
const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// The README's ```sh blocks, each with the `## ` section it is in.
fn shell_blocks(text: &str) -> Vec<(String, String)> {
    let mut blocks = Vec::new();
    let mut section = String::new();
    let mut block: Option<String> = None;
    for line in text.lines() {
        match &mut block {
            Some(b) if line.trim_end() == "```" => {
                blocks.push((section.clone(), std::mem::take(b)));
                block = None;
            }
            Some(b) => {
                b.push_str(line);
                b.push('\n');
            }
            None if line.trim_end() == "```sh" => block = Some(String::new()),
            None => {
                if let Some(title) = line.strip_prefix("## ") {
                    section = title.to_string();
                }
            }
        }
    }
    assert!(block.is_none(), "the README ends inside a code block");
    blocks
}

/// The commands of a block, comments and blank lines left out.
fn commands(block: &str) -> Vec<String> {
    block
        .lines()
        .map(|l| l.split(" #").next().unwrap_or("").trim().to_string())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

#[test]
fn the_run_section_is_two_commands_and_ci_runs_the_second() {
    let blocks = shell_blocks(README);
    let run: Vec<_> = blocks.iter().filter(|(s, _)| s == "Run").collect();
    assert_eq!(
        commands(&run[0].1),
        ["cargo run -- serve", "cargo test"],
        "the Run section's first block"
    );
    let ci = std::fs::read_to_string(format!("{REPO}/.ci/run")).unwrap();
    assert!(
        ci.lines().any(|l| l.trim() == "cargo test"),
        ".ci/run runs the README's test command"
    );
    assert!(README.lines().count() <= 200, "the README is a front door");
}

/// `serve` on a port of its own, on databases and a queue key of its own; its address as it
/// logs it.
async fn serve(
    events_db: &TestDb,
    dashboard_db: &TestDb,
    keys: &TestKeys,
    workdir: &std::path::Path,
) -> (tokio::process::Child, String) {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_roompulse"))
        .arg("serve")
        // No `.env` of the repository: only what is set here.
        .current_dir(workdir)
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("DATA_PROVIDER_DATABASE_URL", &events_db.url)
        .env("DASHBOARD_DATABASE_URL", &dashboard_db.url)
        .env("REDIS_URL", REDIS_URL)
        .env("EVENTS_QUEUE_KEY", &keys.queue_key)
        .env("RUST_LOG", "info")
        .env_remove("LOG_FORMAT")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start serve");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let base = tokio::time::timeout(Duration::from_secs(120), async {
        while let Some(line) = lines.next_line().await.expect("read serve's log") {
            // `… serving; Swagger UI at http://127.0.0.1:PORT/swagger-ui/ addr=… workers=…`
            if let Some(rest) = line.split("Swagger UI at ").nth(1) {
                return rest
                    .split("/swagger-ui/")
                    .next()
                    .unwrap_or_default()
                    .to_string();
            }
        }
        panic!("serve ended before it served");
    })
    .await
    .expect("serve logs its address");
    // Keep reading its log, so that serve never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, base)
}

#[tokio::test]
async fn every_shell_block_of_the_readme_runs_as_written() {
    let (events_db, dashboard_db) = tokio::join!(TestDb::data_provider(), TestDb::dashboard());
    let keys = TestKeys::new();
    let workdir = crate::helpers::temp_dir();
    let (mut server, base) = serve(&events_db, &dashboard_db, &keys, workdir.path()).await;

    let mut script = String::from("set -euo pipefail\n");
    for (section, block) in shell_blocks(README) {
        if section == "Run" && block.contains("cargo test") {
            continue; // the serve above and this test run
        }
        script.push_str(&block);
    }
    // The examples put `target/debug` first on the PATH; the binary under test comes next, for a
    // build elsewhere (CARGO_TARGET_DIR).
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_roompulse"))
        .parent()
        .expect("the binary's folder")
        .to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let run = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(REPO)
        .env("BASE", &base)
        .env("PATH", path)
        .env("DATA_PROVIDER_DATABASE_URL", &events_db.url)
        .env("DASHBOARD_DATABASE_URL", &dashboard_db.url)
        .env("REDIS_URL", REDIS_URL)
        .env("EVENTS_QUEUE_KEY", &keys.queue_key)
        .env_remove("RUST_LOG")
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(900), run)
        .await
        .expect("the README's blocks finish")
        .expect("run bash");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the README's blocks failed ({}):\n{stdout}\n{stderr}",
        out.status
    );

    // What the walkthrough says they print.
    for said in [
        "queued 333856 events, rejected 0 rows in ",
        "roompulse_queue_depth 0\n",
        "roompulse_queue_in_flight 0\n",
        "roompulse_sync_lag_events 0\n",
        "roompulse_events_stored_total 333856\n",
    ] {
        assert!(stdout.contains(said), "no {said:?} in:\n{stdout}");
    }

    // Every figure query the README shows answers figures, not zeros.
    let client = reqwest::Client::new();
    let mut queries = 0;
    for part in README.split("\"$BASE/dashboard").skip(1) {
        let rest = part.split('"').next().unwrap_or_default();
        let url = format!("/dashboard{rest}");
        let r = client.get(format!("{base}{url}")).send().await.unwrap();
        assert_eq!(r.status(), 200, "README: {url}");
        let body: Value = r.json().await.unwrap();
        assert!(
            figures(url.split('?').next().unwrap_or_default(), &body) > 0,
            "README: {url} answers only zeros"
        );
        queries += 1;
    }
    assert!(queries >= 5, "{queries} figure queries in the README");

    // The chart page's first look, as the walkthrough names it.
    let pool = roompulse::db::pool(&dashboard_db.url, 1).expect("pool");
    assert_eq!(
        busiest_hotel_year(&pool, None, roompulse::dashboard::Basis::Event)
            .await
            .unwrap(),
        Some((4101, 2016))
    );
    let flat = README.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("the hotel and year with the most events (4101, 2016)"));

    server.start_kill().expect("stop serve");
    server.wait().await.expect("serve ends");
}
