//! The API's reads on a streaming hot standby (`DATA_PROVIDER_READ_DATABASE_URL`,
//! `DASHBOARD_READ_DATABASE_URL`): the figures and listings equal the primary's once replay
//! catches up, a standby that falls behind is left for the primary, and a standby stopped under
//! a stream of requests fails none of them.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use serde_json::Value;

use crate::common::free_port;
use crate::common::oracle::{assert_api_matches, Expected};
use crate::common::wait::eventually;
use crate::harness::{PrivatePostgres, Roompulse, Stack};
use crate::scenarios::{
    assert_dashboard_exact, drained, http_ok, serve, split_csv, synced, GUARD, SERIAL,
};

const FIGURES: &str = "/dashboard?hotel_id=2600&period=month&year=2022";
const PACE: &str = "/dashboard/pace?hotel_id=2600&from=2022-06-01&to=2022-06-30&as_of=2022-05-15";

async fn ready(base: &str) -> Value {
    reqwest::get(format!("{base}/ready"))
        .await
        .expect("ready")
        .json()
        .await
        .expect("json")
}

async fn body(base: &str, path: &str) -> String {
    let r = reqwest::get(format!("{base}{path}")).await.expect("GET");
    assert_eq!(r.status(), 200, "{path}");
    r.text().await.expect("body")
}

/// Every event of `hotel` that `GET /events` lists, following the `Link` header.
async fn listed(base: &str, hotel: i32) -> usize {
    let http = reqwest::Client::new();
    let mut url = format!("{base}/events?hotel_id={hotel}&limit=10000");
    let mut n = 0;
    loop {
        let r = http.get(&url).send().await.expect("GET /events");
        assert_eq!(r.status(), 200);
        let next = r
            .headers()
            .get("link")
            .and_then(|l| l.to_str().ok())
            .and_then(|l| Some(l[l.find('<')? + 1..l.find('>')?].to_string()));
        let page: Vec<Value> = r.json().await.expect("events");
        n += page.len();
        match next {
            Some(path) => url = format!("{base}{path}"),
            None => return n,
        }
    }
}

async fn primary_count(pg: &PrivatePostgres, hotel: i32) -> usize {
    let c = pg.sql("roompulse_data_provider").await;
    let row = c
        .query_one("SELECT count(*) FROM events WHERE hotel_id = $1", &[&hotel])
        .await
        .expect("count on the primary");
    row.get::<_, i64>(0) as usize
}

async fn replica_state(base: &str, database: &str) -> String {
    ready(base).await["read_replicas"][database]
        .as_str()
        .unwrap_or("")
        .to_string()
}

async fn both_in_use(base: &str) -> bool {
    replica_state(base, "data_provider_database")
        .await
        .starts_with("in use")
        && replica_state(base, "dashboard_database")
            .await
            .starts_with("in use")
}

fn serve_reading_from(
    stack: &Stack,
    name: &str,
    standby: &PrivatePostgres,
    port: u16,
    args: &[&str],
    max_lag_ms: &str,
) -> Roompulse {
    serve(
        stack,
        name,
        args,
        &[
            ("BIND_ADDR", format!("127.0.0.1:{port}")),
            (
                "DATA_PROVIDER_READ_DATABASE_URL",
                standby.url("roompulse_data_provider"),
            ),
            (
                "DASHBOARD_READ_DATABASE_URL",
                standby.url("roompulse_dashboard"),
            ),
            ("READ_REPLICA_MAX_LAG_MS", max_lag_ms.to_string()),
            ("METRICS_REFRESH_MS", "0".to_string()),
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_on_a_standby_equal_the_primary_and_survive_its_stop() {
    let _serial = SERIAL.lock().await;
    const ROWS: u64 = 30_000;
    const FIRST: usize = 20_000;
    let mut stack = Stack::start().await;
    let expected = Expected::of(ROWS, 31);
    let (part1, part2) = split_csv(&stack, &stack.write_csv(ROWS, 31), FIRST);
    let mut standby = PrivatePostgres::start_standby_of(&stack.pg).await;

    // `lenient` keeps reading from the standby however far it falls behind (a bound no test
    // reaches); `strict` leaves it as soon as it lags at all. `lenient` runs the workers and
    // the sync.
    let (lenient_port, strict_port) = (free_port(), free_port());
    let lenient = format!("http://127.0.0.1:{lenient_port}");
    let strict = format!("http://127.0.0.1:{strict_port}");
    let mut lenient_process = serve_reading_from(
        &stack,
        "lenient",
        &standby,
        lenient_port,
        &["--workers", "2"],
        "3600000",
    );
    let mut strict_process = serve_reading_from(
        &stack,
        "strict",
        &standby,
        strict_port,
        &["--workers", "0", "--no-schedule"],
        "0",
    );
    for base in [&lenient, &strict] {
        eventually("serve answers", GUARD, || http_ok(format!("{base}/health"))).await;
    }

    stack.load(&part1).succeeds(GUARD).await;
    drained(&stack).await;
    let s = &stack;
    eventually(
        "the dashboard synced the first part",
        GUARD,
        || async move { s.events_synced().await == Some(FIRST as i64) },
    )
    .await;
    // Replay caught up: both read the standby, which answers what the primary holds.
    let standby_synced = || async {
        let c = standby.sql("roompulse_dashboard").await;
        let row = c
            .query_one("SELECT events_synced FROM sync_state", &[])
            .await
            .expect("sync_state on the standby");
        row.get::<_, i64>(0) == FIRST as i64
    };
    eventually("the standby replayed the first part", GUARD, standby_synced).await;
    for base in [&lenient, &strict] {
        eventually("reads go to the standby", GUARD, || both_in_use(base)).await;
    }
    let part1_figures = body(&lenient, FIGURES).await;
    assert_eq!(part1_figures, body(&strict, FIGURES).await);
    assert_eq!(
        listed(&lenient, 2600).await,
        primary_count(&stack.pg, 2600).await
    );

    // Replay paused, the second part stored and counted on the primary: the standby falls
    // behind. `lenient` answers from it, the first part's figures; `strict` falls back and
    // answers the primary's.
    standby
        .sql("postgres")
        .await
        .execute("SELECT pg_wal_replay_pause()", &[])
        .await
        .expect("pause replay");
    stack.load(&part2).succeeds(GUARD).await;
    drained(&stack).await;
    synced(&stack, ROWS as i64).await;
    let strict_ref = &strict;
    eventually("strict falls back to the primary", GUARD, || async move {
        replica_state(strict_ref, "dashboard_database")
            .await
            .starts_with("fallback to the primary: the standby lags")
    })
    .await;
    assert_eq!(
        body(&lenient, FIGURES).await,
        part1_figures,
        "lenient reads the paused standby"
    );
    assert!(replica_state(&lenient, "dashboard_database")
        .await
        .starts_with("in use"));
    let whole = body(&strict, FIGURES).await;
    assert_ne!(whole, part1_figures, "the second part changes the figures");
    assert_api_matches(&reqwest::Client::new(), &strict, &expected.days).await;
    assert_eq!(
        listed(&strict, 2600).await,
        primary_count(&stack.pg, 2600).await
    );
    let metrics = body(&strict, "/metrics").await;
    assert!(
        metrics.contains("roompulse_read_replica_in_use{database=\"dashboard_database\"} 0"),
        "{metrics}"
    );

    // Replay resumed: the standby catches up and both answer the whole export exactly.
    standby
        .sql("postgres")
        .await
        .execute("SELECT pg_wal_replay_resume()", &[])
        .await
        .expect("resume replay");
    let lenient_ref = &lenient;
    eventually("the standby caught up", GUARD, || {
        let whole = whole.clone();
        async move { body(lenient_ref, FIGURES).await == whole }
    })
    .await;
    assert_api_matches(&reqwest::Client::new(), &lenient, &expected.days).await;
    assert_eq!(
        listed(&lenient, 2600).await,
        primary_count(&stack.pg, 2600).await
    );
    assert_dashboard_exact(&stack, &expected).await;
    eventually("strict reads the standby again", GUARD, || {
        both_in_use(strict_ref)
    })
    .await;

    // A stream of reads across the standby's stop: every one answers 200.
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    let stream = tokio::spawn({
        let (stop, sent, base) = (stop.clone(), sent.clone(), lenient.clone());
        async move {
            let http = reqwest::Client::new();
            let mut statuses = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                for path in [FIGURES, PACE, "/events?hotel_id=2600&limit=50", "/"] {
                    let status = http
                        .get(format!("{base}{path}"))
                        .send()
                        .await
                        .map(|r| r.status().as_u16())
                        .unwrap_or(0);
                    statuses.push((path, status));
                    sent.fetch_add(1, Ordering::Relaxed);
                }
            }
            statuses
        }
    });
    let sent_ref = &sent;
    eventually("reads stream from the standby", GUARD, || async move {
        sent_ref.load(Ordering::Relaxed) >= 8
    })
    .await;
    standby.stop_immediate().await;
    eventually("/ready reports the fallback", GUARD, || async move {
        replica_state(lenient_ref, "data_provider_database")
            .await
            .starts_with("fallback to the primary")
            && replica_state(lenient_ref, "dashboard_database")
                .await
                .starts_with("fallback to the primary")
    })
    .await;
    let r = reqwest::get(format!("{lenient}/ready"))
        .await
        .expect("ready");
    assert_eq!(r.status(), 200, "a fallback leaves the process ready");
    // More reads on the primary alone, then the stream stops.
    let after = sent.load(Ordering::Relaxed);
    eventually("more reads after the fallback", GUARD, || async move {
        sent_ref.load(Ordering::Relaxed) >= after + 8
    })
    .await;
    assert_eq!(body(&lenient, FIGURES).await, whole);
    stop.store(true, Ordering::Relaxed);
    let statuses = stream.await.expect("the stream");
    let failed: Vec<_> = statuses.iter().filter(|(_, s)| *s != 200).collect();
    assert!(
        failed.is_empty(),
        "{} of {} reads failed across the standby's stop: {failed:?}",
        failed.len(),
        statuses.len()
    );
    let metrics = body(&lenient, "/metrics").await;
    assert!(
        metrics.contains("roompulse_read_replica_in_use{database=\"data_provider_database\"} 0"),
        "{metrics}"
    );
    for p in [&mut lenient_process, &mut strict_process] {
        p.terminate(GUARD).await;
    }
}

/// A standby of another server given as the read URL (one kept from before a dump-and-restore
/// move, say): the other server's events must not be served as the primary's. Both databases'
/// standbys are refused, reads stay on the primary, `/ready`, `/metrics` and the log say why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_of_another_server_is_refused() {
    let _serial = SERIAL.lock().await;
    const OTHERS: i64 = 100;
    let (stack, other) = tokio::join!(Stack::start(), PrivatePostgres::start_new());
    stack
        .run(
            "migrate-other",
            &["migrate"],
            &[
                (
                    "DATA_PROVIDER_DATABASE_URL",
                    other.url("roompulse_data_provider"),
                ),
                ("DASHBOARD_DATABASE_URL", other.url("roompulse_dashboard")),
            ],
        )
        .succeeds(GUARD)
        .await;
    other
        .sql("roompulse_data_provider")
        .await
        .execute(
            "INSERT INTO events (id, hotel_id, event_timestamp, status, room_reservation_id, night_of_stay) \
             SELECT g, 2600, now(), 1, gen_random_uuid(), current_date FROM generate_series(1, $1::bigint) g",
            &[&OTHERS],
        )
        .await
        .expect("the other server's events");
    let standby = PrivatePostgres::start_standby_of(&other).await;
    assert_eq!(primary_count(&standby, 2600).await, OTHERS as usize);
    assert_eq!(primary_count(&stack.pg, 2600).await, 0);

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    // However far behind the bound allows: only the identity check keeps the reads off it.
    let mut process = serve_reading_from(
        &stack,
        "misdirected",
        &standby,
        port,
        &["--workers", "0", "--no-schedule"],
        "3600000",
    );
    let b = &base;
    eventually("serve answers", GUARD, || http_ok(format!("{b}/health"))).await;
    eventually("both standbys are refused", GUARD, || async move {
        replica_state(b, "data_provider_database")
            .await
            .starts_with("refused, reading from the primary: not a standby of the primary")
            && replica_state(b, "dashboard_database")
                .await
                .starts_with("refused, reading from the primary: not a standby of the primary")
    })
    .await;
    assert_eq!(
        listed(&base, 2600).await,
        0,
        "the listing reads the primary"
    );
    let r = reqwest::get(format!("{base}/ready")).await.expect("ready");
    assert_eq!(
        r.status(),
        200,
        "a refused standby leaves the process ready"
    );
    let metrics = body(&base, "/metrics").await;
    for database in ["data_provider_database", "dashboard_database"] {
        for line in [
            format!("roompulse_read_replica_refused{{database=\"{database}\"}} 1"),
            format!("roompulse_read_replica_in_use{{database=\"{database}\"}} 0"),
        ] {
            assert!(metrics.contains(&line), "no {line} in\n{metrics}");
        }
    }
    assert!(
        process
            .log()
            .contains("the read standby is refused: reads go to the primary"),
        "{}",
        process.log_tail(20)
    );
    process.terminate(GUARD).await;
}
