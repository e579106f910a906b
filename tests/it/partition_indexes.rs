//! An index added to the partitioned events table once it holds rows (migration
//! `index_hotel_nights`): declared on the parent, built on each large partition by the service
//! with `CREATE INDEX CONCURRENTLY` while writers go on, and attached.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use roompulse::data_provider::partition_indexes::build_missing;
use tokio_util::sync::CancellationToken;

use crate::common::db::TestDb;

const INDEX: &str = "events_hotel_night_timestamp_id";

/// `n` events with ids from `first`, written as any writer other than the service would.
fn insert(first: i64, n: i64) -> String {
    format!(
        "INSERT INTO events (id, hotel_id, event_timestamp, status, room_reservation_id, night_of_stay) \
         SELECT i, 1 + i % 5, timestamptz '2024-01-01' + i * interval '1 minute', 1, \
                gen_random_uuid(), date '2024-03-01' + (i % 90)::int \
           FROM generate_series({first}, {}) AS i",
        first + n - 1
    )
}

async fn valid(c: &tokio_postgres::Client) -> bool {
    c.query_one(
        "SELECT indisvalid FROM pg_index WHERE indexrelid = $1::text::regclass",
        &[&INDEX],
    )
    .await
    .expect("the index")
    .get(0)
}

/// Partitions of `events` without an index attached to `INDEX`.
async fn without_index(c: &tokio_postgres::Client) -> i64 {
    c.query_one(
        "SELECT count(*) FROM pg_inherits p WHERE p.inhparent = 'events'::regclass \
            AND NOT EXISTS (SELECT 1 FROM pg_inherits ci JOIN pg_index x ON x.indexrelid = ci.inhrelid \
                             WHERE ci.inhparent = $1::text::regclass AND x.indrelid = p.inhrelid)",
        &[&INDEX],
    )
    .await
    .expect("count")
    .get(0)
}

#[tokio::test]
async fn a_new_partition_index_is_built_and_attached_while_a_writer_goes_on() {
    let db = TestDb::data_provider().await;
    let c = db.client().await;
    // A fresh database has it built already: its partitions were small.
    assert!(
        valid(&c).await,
        "the migration builds it on small partitions"
    );

    // As the migration leaves a database whose partitions are large: declared on the parent
    // only, none of the partitions indexed (the first holding rows, more created ahead).
    c.batch_execute(&format!(
        "UPDATE event_partitioning SET rows_per_partition = 1000; \
         SELECT roompulse_add_event_partitions(3000); \
         DROP INDEX {INDEX}; \
         CREATE INDEX {INDEX} ON ONLY events (hotel_id, night_of_stay, event_timestamp, id) \
             INCLUDE (status); \
         {};",
        insert(1, 2500)
    ))
    .await
    .expect("partitions with rows");
    let missing = without_index(&c).await;
    assert!(missing >= 3, "{missing} partitions without the index");
    assert!(!valid(&c).await);
    // A build stopped half way left an invalid index of the name the builder gives it.
    let stopped = c
        .batch_execute(
            "CREATE UNIQUE INDEX CONCURRENTLY events_from_1_hotel_night_timestamp_id \
             ON events_from_1 (hotel_id)",
        )
        .await;
    assert!(stopped.is_err(), "duplicate hotels: the build fails");

    // A writer stores batch after batch throughout the build.
    let stop = CancellationToken::new();
    let written = Arc::new(AtomicI64::new(0));
    let writer = {
        let (stop, written, w) = (stop.clone(), written.clone(), db.client().await);
        tokio::spawn(async move {
            let mut next = 10_000;
            while !stop.is_cancelled() {
                w.batch_execute(&insert(next, 100)).await.expect("a batch");
                next += 100;
                written.fetch_add(100, Ordering::SeqCst);
            }
        })
    };
    let built = build_missing(&db.url, &CancellationToken::new())
        .await
        .expect("build");
    stop.cancel();
    writer.await.expect("the writer never failed");

    assert!(built as i64 >= missing, "built {built} of {missing}");
    assert!(
        valid(&c).await,
        "every partition has it: the parent's is valid"
    );
    assert_eq!(without_index(&c).await, 0);
    let invalid: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_index WHERE NOT indisvalid AND indrelid IN \
               (SELECT inhrelid FROM pg_inherits WHERE inhparent = 'events'::regclass)",
            &[],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(invalid, 0, "the half-built index was dropped");
    let stored: i64 = c
        .query_one("SELECT count(*) FROM events", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(stored, 2500 + written.load(Ordering::SeqCst));
    // Nothing is left to build.
    let again = build_missing(&db.url, &CancellationToken::new())
        .await
        .expect("build");
    assert_eq!(again, 0);
}

/// `roompulse migrate` builds what the migration left to build before it returns.
#[tokio::test]
async fn migrate_builds_the_partition_indexes_left_to_build() {
    let (db, dash) = tokio::join!(TestDb::data_provider(), TestDb::dashboard());
    let c = db.client().await;
    c.batch_execute(&format!(
        "{}; DROP INDEX {INDEX}; \
         CREATE INDEX {INDEX} ON ONLY events (hotel_id, night_of_stay, event_timestamp, id) \
             INCLUDE (status);",
        insert(1, 100)
    ))
    .await
    .expect("declared on the parent only");
    assert!(!valid(&c).await);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_roompulse"))
        .arg("migrate")
        .env_clear()
        .env("DATA_PROVIDER_DATABASE_URL", &db.url)
        .env("DASHBOARD_DATABASE_URL", &dash.url)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run roompulse migrate");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("partition indexes"), "{stdout}");
    assert!(valid(&c).await, "every partition has it");
}
