//! The events database moved between servers with `pg_dump`/`pg_restore`, as the README's
//! "a server of its own" advice leads to: first to a server whose transaction counter is far
//! higher, then back to a database on the first server, whose counter is far lower. Feed
//! positions came from the server's transaction ids, so after the second move new events sorted
//! behind the dashboard's cursor: the feed answered `[]` forever and the lag gauge said 0.

use std::path::{Path, PathBuf};

use crate::common::free_port;
use crate::common::oracle::Expected;
use crate::common::wait::eventually;
use crate::harness::{PrivatePostgres, Roompulse, Stack};
use crate::scenarios::{assert_dashboard_exact, drained, http_ok, serve, GUARD, SERIAL};

const DB: &str = "roompulse_data_provider";
const CHUNK: usize = 3_000;

/// The export of `3 * CHUNK` rows split into three files (header repeated).
fn three_chunks(stack: &Stack, csv: &Path) -> Vec<PathBuf> {
    let text = std::fs::read_to_string(csv).expect("export");
    let mut lines = text.split_inclusive('\n').filter(|l| !l.trim().is_empty());
    let header = lines.next().expect("header").to_string();
    let rows: Vec<&str> = lines.collect();
    rows.chunks(CHUNK)
        .enumerate()
        .map(|(i, part)| {
            let path = stack.dir.path().join(format!("chunk{i}.csv"));
            std::fs::write(&path, format!("{header}{}", part.concat())).expect("write chunk");
            path
        })
        .collect()
}

async fn metric(base: &str, name: &str) -> Option<f64> {
    let body = reqwest::get(format!("{base}/metrics"))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

async fn stored(pg: &PrivatePostgres, db: &str) -> (i64, i64) {
    let row = pg
        .sql(db)
        .await
        .query_one("SELECT count(*), count(DISTINCT id) FROM events", &[])
        .await
        .expect("count events");
    (row.get(0), row.get(1))
}

/// One phase on the events database at `events_url`: load `chunk`, drain it with the API's
/// workers, see the lag gauge count exactly the events the dashboard has not counted, sync,
/// and see the gauge at 0.
async fn phase(stack: &mut Stack, events_url: &str, chunk: &Path, not_counted: i64) -> Roompulse {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = serve(
        stack,
        &format!("serve-{port}"),
        &["--workers", "2", "--no-schedule"],
        &[
            ("BIND_ADDR", format!("127.0.0.1:{port}")),
            ("DATA_PROVIDER_DATABASE_URL", events_url.to_string()),
        ],
    );
    eventually("serve answers", GUARD, || http_ok(format!("{base}/health"))).await;
    stack.load(chunk).succeeds(GUARD).await;
    drained(stack).await;
    eventually(
        &format!("the lag gauge counts the {not_counted} events not yet counted"),
        GUARD,
        || async { metric(&base, "roompulse_sync_lag_events").await == Some(not_counted as f64) },
    )
    .await;
    let mut sync = stack.run(
        "sync",
        &["sync-dashboard"],
        &[("DATA_PROVIDER_URL", base.clone())],
    );
    sync.succeeds(GUARD).await;
    eventually("the lag gauge reads 0 after the sync", GUARD, || async {
        metric(&base, "roompulse_sync_lag_events").await == Some(0.0)
    })
    .await;
    server.terminate(GUARD).await;
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_database_moved_to_a_higher_and_a_lower_transaction_counter() {
    let _serial = SERIAL.lock().await;
    let mut stack = Stack::start().await;
    let csv = stack.write_csv(3 * CHUNK as u64, 11);
    let chunks = three_chunks(&stack, &csv);
    let all = Expected::of(3 * CHUNK as u64, 11);
    let per_chunk = |n: usize| -> i64 { (n * CHUNK) as i64 };

    // On the stack's own (fresh, low-counter) server.
    let low_url = stack.pg.url(DB);
    phase(&mut stack, &low_url, &chunks[0], per_chunk(1)).await;

    // To a server whose counter is 16,777,216 transactions ahead.
    let high = PrivatePostgres::start_new_at_xid(Some(16 * 1_048_576)).await;
    let dump = stack.pg.dump(DB).await;
    high.restore(&dump, DB).await;
    phase(&mut stack, &high.url(DB), &chunks[1], per_chunk(1)).await;
    assert_eq!(stored(&high, DB).await, (per_chunk(2), per_chunk(2)));

    // And back, into a new database on the first server: its counter is far behind the
    // positions the dashboard's cursor has reached.
    let dump = high.dump(DB).await;
    let back = "roompulse_data_provider_back";
    stack.pg.restore(&dump, back).await;
    let back_url = stack.pg.url(back);
    phase(&mut stack, &back_url, &chunks[2], per_chunk(1)).await;
    assert_eq!(stored(&stack.pg, back).await, (per_chunk(3), per_chunk(3)));

    // Every event counted exactly once, bucket by bucket, against the generator's figures.
    assert_dashboard_exact(&stack, &all).await;
}

/// An insert that does not name `tx_id` (psql, a script) gets a position after every stored
/// event too, right after a move to a lower counter, before any service process ran.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_insert_after_a_move_sorts_after_every_restored_event() {
    let _serial = SERIAL.lock().await;
    let high = PrivatePostgres::start_new_at_xid(Some(16 * 1_048_576)).await;
    let low = PrivatePostgres::start_new().await;
    roompulse::db::migrate(&high.url(DB), roompulse::db::DATA_PROVIDER_MIGRATIONS)
        .await
        .expect("migrate");
    let insert = "INSERT INTO events (id, hotel_id, event_timestamp, status, room_reservation_id, night_of_stay) \
                  VALUES ($1, 1, now(), 1, gen_random_uuid(), '2024-01-01') RETURNING tx_id";
    let before: i64 = high
        .sql(DB)
        .await
        .query_one(insert, &[&1i64])
        .await
        .expect("insert on the high server")
        .get(0);
    let dump = high.dump(DB).await;
    low.restore(&dump, DB).await;
    let after: i64 = low
        .sql(DB)
        .await
        .query_one(insert, &[&2i64])
        .await
        .expect("insert on the low server")
        .get(0);
    assert!(
        after > before,
        "a new event's feed position {after} sorts after the restored one's {before}"
    );
}
