//! The six fault scenarios of issue 5. Each ends with exact figures: every generated event
//! stored once (`count == count(DISTINCT id) == N`, and the very ids), no dead letters, and,
//! where the dashboard runs, `dashboard_daily` and `dashboard_pace` equal bucket by bucket to
//! the figures folded here from the generator's rows.
//!
//! Limits given to waits are deadlock guards, not timing assertions. The scenarios run one at
//! a time: each drives PostgreSQL, Redis and several processes on a 2-core machine.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::free_port;
use crate::common::oracle::{assert_api_matches, Expected};
use crate::common::wait::{self, eventually};
use crate::harness::{Roompulse, Stack, QUEUE_KEY};

pub(crate) const GUARD: Duration = Duration::from_secs(180);

pub(crate) static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Messages in the processing lists of the workers of process `pid` (worker ids start with it).
async fn held_by(stack: &Stack, pid: u32) -> i64 {
    let Ok(client) = redis::Client::open(stack.redis.url()) else {
        return 0;
    };
    let Ok(mut c) = client.get_multiplexed_async_connection().await else {
        return 0;
    };
    let workers: Vec<String> = redis::cmd("SMEMBERS")
        .arg(format!("{QUEUE_KEY}:workers"))
        .query_async(&mut c)
        .await
        .unwrap_or_default();
    let mut held = 0;
    for w in workers.iter().filter(|w| w.starts_with(&format!("{pid}-"))) {
        held += redis::cmd("LLEN")
            .arg(format!("{QUEUE_KEY}:processing:{w}"))
            .query_async::<i64>(&mut c)
            .await
            .unwrap_or(0);
    }
    held
}

async fn stored_count(stack: &Stack) -> i64 {
    stack.stored().await.map_or(0, |(n, _)| n)
}

/// Waits until nothing is queued or held by any worker (a dead worker's batch counts as held
/// until its lease runs out and a live worker requeues it).
/// A fresh stack of private services and a generated export of `rows` events, with the
/// figures expected from it.
async fn stack_with_export(rows: u64, seed: u64) -> (Stack, Expected, std::path::PathBuf) {
    let stack = Stack::start().await;
    let csv = stack.write_csv(rows, seed);
    (stack, Expected::of(rows, seed), csv)
}

async fn drained_exactly_once(stack: &Stack, expected: &Expected) {
    drained(stack).await;
    assert_stored_exactly_once(stack, expected).await;
}

pub(crate) async fn drained(stack: &Stack) {
    wait::drained(&stack.queue(), GUARD).await;
}

/// The dashboard has counted `events` events.
pub(crate) async fn synced(stack: &Stack, events: i64) {
    eventually("the dashboard synced every event", GUARD, || async move {
        stack.events_synced().await == Some(events)
    })
    .await;
}

/// The queue drained, every event synced: each stored exactly once and counted exactly.
pub(crate) async fn counted_exactly(stack: &Stack, expected: &Expected) {
    drained(stack).await;
    synced(stack, expected.events()).await;
    assert_stored_exactly_once(stack, expected).await;
    assert_dashboard_exact(stack, expected).await;
}

/// Every expected event stored exactly once, nothing else, no dead letters.
pub(crate) async fn assert_stored_exactly_once(stack: &Stack, expected: &Expected) {
    let n = expected.events();
    let (count, distinct) = stack.stored().await.expect("events db");
    assert_eq!((count, distinct), (n, n), "count(*), count(DISTINCT id)");
    assert!(
        stack.stored_ids().await == expected.ids,
        "the stored ids are the generated ids"
    );
    let (_, dead) = stack.backlog().await.expect("redis");
    if dead > 0 {
        let letters = stack.queue().dead_letters(0, 4).await.unwrap_or_default();
        panic!("{dead} dead letters, e.g. {letters:?}");
    }
}

pub(crate) async fn assert_dashboard_exact(stack: &Stack, expected: &Expected) {
    assert_eq!(
        stack.events_synced().await,
        Some(expected.events()),
        "events_synced"
    );
    let got = stack.dashboard_daily().await;
    if got != expected.days {
        let wrong: Vec<_> = expected
            .days
            .iter()
            .filter(|(k, v)| got.get(k) != Some(v))
            .take(5)
            .map(|(k, v)| (k, v, got.get(k)))
            .collect();
        panic!(
            "dashboard_daily differs from the generator's figures ({} rows vs {}); e.g. (key, want, got) {wrong:?}",
            got.len(),
            expected.days.len()
        );
    }
    // Every pace figure (on the books, pickup, same time last year, booking curve, lead time)
    // is read from these rows' counts: equal rows, exact figures for every night and as-of day.
    let got = stack.dashboard_pace().await;
    if got != expected.pace {
        let wrong: Vec<_> = expected
            .pace
            .iter()
            .filter(|(k, v)| got.get(k) != Some(v))
            .chain(got.iter().filter(|(k, _)| !expected.pace.contains_key(k)))
            .take(5)
            .collect();
        panic!(
            "dashboard_pace differs from the generator's figures ({} rows vs {}); e.g. {wrong:?}",
            got.len(),
            expected.pace.len()
        );
    }
}

pub(crate) async fn http_ok(url: String) -> bool {
    matches!(reqwest::get(url).await, Ok(r) if r.status().is_success())
}

pub(crate) fn serve(
    stack: &Stack,
    name: &str,
    args: &[&str],
    extra: &[(&str, String)],
) -> Roompulse {
    let mut all = vec!["serve"];
    all.extend_from_slice(args);
    stack.run(name, &all, extra)
}

/// `serve` as the Data Provider's API alone (no workers, no sync schedule) on `port`.
pub(crate) fn serve_api(stack: &Stack, name: &str, port: u16) -> Roompulse {
    serve(
        stack,
        name,
        &["--workers", "0", "--no-schedule"],
        &[("BIND_ADDR", format!("127.0.0.1:{port}"))],
    )
}

/// Splits the export in two files (header repeated), the first with `first` rows.
pub(crate) fn split_csv(
    stack: &Stack,
    csv: &std::path::Path,
    first: usize,
) -> (std::path::PathBuf, std::path::PathBuf) {
    let text = std::fs::read_to_string(csv).expect("export");
    let mut lines = text.split_inclusive('\n').filter(|l| !l.trim().is_empty());
    let header = lines.next().expect("header").to_string();
    let rows: Vec<&str> = lines.collect();
    let write = |name: &str, part: &[&str]| {
        let path = stack.dir.path().join(name);
        std::fs::write(&path, format!("{header}{}", part.concat())).expect("write part");
        path
    };
    (
        write("part1.csv", &rows[..first]),
        write("part2.csv", &rows[first..]),
    )
}

/// 1. Workers SIGKILLed mid-batch four times while 200,000 events load and drain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_killed_mid_batch_lose_and_double_nothing() {
    let _serial = SERIAL.lock().await;
    const ROWS: u64 = 200_000;
    let (mut stack, expected, csv) = stack_with_export(ROWS, 1).await;

    let mut loader = stack.load(&csv);
    let mut worker = stack.worker(2);
    let mut kills = Vec::new();
    let mut last = 0;
    for _ in 0..4 {
        // Spread the kills over the drain: each after another 20,000 events, while the worker
        // holds a batch it has claimed and not acknowledged.
        let pid = worker.pid();
        let (stack_ref, since) = (&stack, last);
        eventually(
            "the worker stored more and holds a batch",
            GUARD,
            || async move {
                stored_count(stack_ref).await >= since + 20_000 && held_by(stack_ref, pid).await > 0
            },
        )
        .await;
        worker.kill().await;
        let held = held_by(&stack, pid).await;
        last = stored_count(&stack).await;
        kills.push((last, held));
        worker = stack.worker(2);
    }
    loader.succeeds(GUARD).await;
    drained(&stack).await;
    eprintln!("scenario 1: SIGKILLed workers at (stored, messages held): {kills:?}");
    assert!(
        kills.iter().all(|&(_, held)| held > 0),
        "each kill abandoned a batch"
    );
    assert_stored_exactly_once(&stack, &expected).await;
    worker.terminate(GUARD).await;
}

/// 2. Redis (AOF on) stopped while the loader pushes and the workers drain, started again
///    5 s later: both retry with backoff; nothing lost, nothing doubled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restart_during_load_and_drain() {
    let _serial = SERIAL.lock().await;
    const ROWS: u64 = 50_000;
    let (mut stack, expected, csv) = stack_with_export(ROWS, 2).await;

    let mut worker = stack.worker(2);
    let mut loader = stack.load(&csv);
    let s = &stack;
    eventually("the loader has pushed", GUARD, || async move {
        matches!(s.backlog().await, Some((b, _)) if b.queued + b.in_flight > 0)
    })
    .await;
    // Paused, so that Redis goes away with the rest of the file still to push (the loader is
    // otherwise too quick to catch mid-file).
    loader.signal(libc::SIGSTOP);
    assert!(
        !loader.has_exited(),
        "the loader finished before Redis could be stopped under it"
    );
    eventually("the worker stored", GUARD, || async move {
        stored_count(s).await > 0
    })
    .await;
    stack.redis.single().stop().await;
    loader.signal(libc::SIGCONT);
    let down_at = Instant::now();
    // The outage itself: what the scenario is about, not a synchronisation.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(
        !loader.has_exited(),
        "the loader gave up while Redis was down"
    );
    assert!(!worker.has_exited(), "the worker died while Redis was down");
    stack.redis.single().start().await;
    eprintln!(
        "scenario 2: Redis was down for {:.1} s",
        down_at.elapsed().as_secs_f64()
    );
    loader.succeeds(GUARD).await;
    assert!(
        loader.log().contains("retrying"),
        "the loader retried its push"
    );
    drained_exactly_once(&stack, &expected).await;
    worker.terminate(GUARD).await;
}

/// 3. The Data Provider's PostgreSQL stopped for 5 s during the drain: batches wait and retry,
///    none become dead letters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restart_during_drain() {
    let _serial = SERIAL.lock().await;
    const ROWS: u64 = 50_000;
    let (mut stack, expected, csv) = stack_with_export(ROWS, 3).await;

    stack.load(&csv).succeeds(GUARD).await;
    let mut worker = stack.worker(2);
    let pid = worker.pid();
    let s = &stack;
    eventually(
        "the worker stored a batch and holds another",
        GUARD,
        || async move { stored_count(s).await > 0 && held_by(s, pid).await > 0 },
    )
    .await;
    // Paused while PostgreSQL stops, so that the worker meets the outage with a batch in hand
    // however quickly it would otherwise drain the rest.
    worker.signal(libc::SIGSTOP);
    stack.pg.stop().await;
    worker.signal(libc::SIGCONT);
    // The outage itself.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(
        !worker.has_exited(),
        "the worker died while PostgreSQL was down"
    );
    stack.pg.start().await;
    drained_exactly_once(&stack, &expected).await;
    assert!(
        worker.log().contains("retrying"),
        "the worker met the outage and retried"
    );
    worker.terminate(GUARD).await;
}

/// 4. The Data Provider API unreachable for 10 s during the sync: the dashboard keeps
///    answering from its tables, `/ready` names the Data Provider API, the sync catches up
///    exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_provider_api_down_during_sync() {
    let _serial = SERIAL.lock().await;
    const ROWS: u64 = 40_000;
    const FIRST: usize = 15_000;
    let mut stack = Stack::start().await;
    let expected = Expected::of(ROWS, 4);
    let (part1, part2) = split_csv(&stack, &stack.write_csv(ROWS, 4), FIRST);

    let (api_port, dash_port) = (free_port(), free_port());
    let api_url = format!("http://127.0.0.1:{api_port}");
    let dash_url = format!("http://127.0.0.1:{dash_port}");
    let start_api = |stack: &Stack, name: &str| serve_api(stack, name, api_port);
    let mut api = start_api(&stack, "data-provider-api-1");
    let mut dashboard = serve(
        &stack,
        "dashboard",
        &["--workers", "0"],
        &[
            ("BIND_ADDR", format!("127.0.0.1:{dash_port}")),
            ("DATA_PROVIDER_URL", api_url.clone()),
        ],
    );
    let mut worker = stack.worker(2);

    stack.load(&part1).succeeds(GUARD).await;
    let s = &stack;
    eventually(
        "the dashboard synced the first part",
        GUARD,
        || async move { s.events_synced().await == Some(FIRST as i64) },
    )
    .await;
    let ready: Value = reqwest::get(format!("{dash_url}/ready"))
        .await
        .expect("ready")
        .json()
        .await
        .expect("json");
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(ready["checks"]["data_provider_api"], "up", "{ready}");

    api.kill().await;
    let down_at = Instant::now();
    // More events arrive while the API is down; the workers do not need it.
    stack.load(&part2).succeeds(GUARD).await;
    drained(&stack).await;
    assert_eq!(stored_count(&stack).await, ROWS as i64);

    let r = reqwest::get(format!("{dash_url}/ready"))
        .await
        .expect("ready");
    assert_eq!(r.status(), 200, "the dashboard still serves");
    let ready: Value = r.json().await.expect("json");
    let check = ready["checks"]["data_provider_api"].as_str().unwrap_or("");
    assert!(check.starts_with("down"), "{ready}");
    assert!(
        ready["status"]
            .as_str()
            .unwrap_or("")
            .contains("data_provider_api down"),
        "{ready}"
    );
    // Answers from its own tables: the first part's figures.
    let r = reqwest::get(format!(
        "{dash_url}/dashboard?hotel_id=2600&period=month&year=2022"
    ))
    .await
    .expect("GET /dashboard");
    assert_eq!(r.status(), 200);
    assert_eq!(stack.events_synced().await, Some(FIRST as i64));

    // The rest of the 10 s outage.
    tokio::time::sleep(Duration::from_secs(10).saturating_sub(down_at.elapsed())).await;
    let mut api = start_api(&stack, "data-provider-api-2");
    eprintln!(
        "scenario 4: the Data Provider API was down for {:.1} s",
        down_at.elapsed().as_secs_f64()
    );
    let s = &stack;
    eventually("the sync caught up", GUARD, || async move {
        s.events_synced().await == Some(ROWS as i64)
    })
    .await;
    assert_stored_exactly_once(&stack, &expected).await;
    assert_dashboard_exact(&stack, &expected).await;
    assert_api_matches(&reqwest::Client::new(), &dash_url, &expected.days).await;
    let ready: Value = reqwest::get(format!("{dash_url}/ready"))
        .await
        .expect("ready")
        .json()
        .await
        .expect("json");
    assert_eq!(ready["status"], "ready", "{ready}");
    for p in [&mut api, &mut dashboard, &mut worker] {
        p.terminate(GUARD).await;
    }
}

/// 5. Two `serve` processes, each with workers and the sync schedule, on the same databases
///    and queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_serve_processes_share_the_work() {
    let _serial = SERIAL.lock().await;
    const ROWS: u64 = 40_000;
    let (mut stack, expected, csv) = stack_with_export(ROWS, 5).await;

    let ports = [free_port(), free_port()];
    let mut servers: Vec<Roompulse> = ports
        .iter()
        .enumerate()
        .map(|(i, port)| {
            serve(
                &stack,
                &format!("serve-{i}"),
                &["--workers", "2"],
                &[("BIND_ADDR", format!("127.0.0.1:{port}"))],
            )
        })
        .collect();
    for port in ports {
        eventually("serve answers", GUARD, || {
            http_ok(format!("http://127.0.0.1:{port}/health"))
        })
        .await;
    }
    stack.load(&csv).succeeds(GUARD).await;
    counted_exactly(&stack, &expected).await;
    for port in ports {
        assert_api_matches(
            &reqwest::Client::new(),
            &format!("http://127.0.0.1:{port}"),
            &expected.days,
        )
        .await;
    }
    for s in &mut servers {
        s.terminate(GUARD).await;
    }
}

/// 6. SIGTERM to a `worker` and then to a `serve` process mid-batch: each stops, and every
///    event is then either stored or back in the queue (none held); a fresh worker drains the
///    rest exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_batch_stores_or_hands_back() {
    let _serial = SERIAL.lock().await;
    const ROWS: u64 = 50_000;
    let (mut stack, expected, csv) = stack_with_export(ROWS, 6).await;
    stack.load(&csv).succeeds(GUARD).await;

    let port = free_port();
    let mut stops = Vec::new();
    for kind in ["worker", "serve"] {
        let mut process = match kind {
            "worker" => stack.worker(2),
            _ => serve(
                &stack,
                "serve",
                &["--workers", "2"],
                &[("BIND_ADDR", format!("127.0.0.1:{port}"))],
            ),
        };
        let pid = process.pid();
        let before = stored_count(&stack).await;
        let s = &stack;
        eventually(
            &format!("the {kind} stored a batch and holds another"),
            GUARD,
            || async move { stored_count(s).await > before && held_by(s, pid).await > 0 },
        )
        .await;
        let held = held_by(&stack, pid).await;
        let sent = Instant::now();
        process.signal(libc::SIGTERM);
        let status = process.wait(GUARD).await;
        let took = sent.elapsed();
        assert!(status.success(), "{kind} exited with {status}");
        stops.push((kind, held, took));

        // Nothing is held any more: no lease has to run out for the rest to be stored.
        let (backlog, dead) = stack.backlog().await.expect("redis");
        assert_eq!(
            (backlog.in_flight, dead),
            (0, 0),
            "after the {kind} stopped"
        );
        let mut seen = stack.stored_ids().await;
        seen.extend(stack.queued_ids().await);
        assert!(
            seen == expected.ids,
            "after the {kind} stopped, every event is stored or queued"
        );
    }
    eprintln!("scenario 6: SIGTERM mid-batch (process, messages held, time to exit): {stops:?}");

    let mut worker = stack.worker(2);
    drained_exactly_once(&stack, &expected).await;
    worker.terminate(GUARD).await;
}
