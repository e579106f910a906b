//! The upgrade from the single events table to the table partitioned by arrival (migration
//! `partition_events_by_arrival` and the two before it), on a database holding events while a
//! writer keeps inserting: no event lost or stored twice, each with its content and feed
//! position, no stored row rewritten (the table becomes the first partition), and the stored and
//! retired ids still refused afterwards, by any writer.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::common::db::TestDb;
use roompulse::data_provider::event::Event;
use roompulse::data_provider::store;

/// The migrations before the partitioning, as an older version ran them.
const OLDER: [(&str, &str); 9] = [
    (
        "20261122000001",
        include_str!("../../migrations_data_provider/2026-11-22-000001_create_events/up.sql"),
    ),
    (
        "20261122000003",
        include_str!(
            "../../migrations_data_provider/2026-11-22-000003_index_events_by_storage/up.sql"
        ),
    ),
    (
        "20261201000004",
        include_str!(
            "../../migrations_data_provider/2026-12-01-000004_feed_position_survives_a_move/up.sql"
        ),
    ),
    (
        "20261208000005",
        include_str!("../../migrations_data_provider/2026-12-08-000005_notify_feed_readers/up.sql"),
    ),
    (
        "20261209000006",
        include_str!("../../migrations_data_provider/2026-12-09-000006_api_keys/up.sql"),
    ),
    (
        "20261210000007",
        include_str!(
            "../../migrations_data_provider/2026-12-10-000007_index_events_for_filters/up.sql"
        ),
    ),
    (
        "20261210000008",
        include_str!("../../migrations_data_provider/2026-12-10-000008_retired_event_ids/up.sql"),
    ),
    (
        "20261211000009",
        include_str!("../../migrations_data_provider/2026-12-11-000009_retired_uncounted/up.sql"),
    ),
    (
        "20261212000010",
        include_str!(
            "../../migrations_data_provider/2026-12-12-000010_assigned_ids_below_2_53/up.sql"
        ),
    ),
];

fn event(id: i64) -> Event {
    Event {
        id,
        hotel_id: 1 + (id % 7) as i32,
        event_timestamp: Utc
            .timestamp_opt(1_650_000_000 + id * 37 % 90_000_000, 0)
            .unwrap(),
        status: 1 + (id % 5 == 0) as i16,
        room_reservation_id: Uuid::from_u128(id as u128 * 7919),
        night_of_stay: NaiveDate::from_ymd_opt(2022, 1, 1).unwrap()
            + chrono::Days::new((id % 700) as u64),
    }
}

const INSERT: &str = "INSERT INTO events (id, hotel_id, event_timestamp, status, room_reservation_id, night_of_stay) \
     SELECT * FROM unnest($1::int8[], $2::int4[], $3::timestamptz[], $4::int2[], $5::uuid[], $6::date[])";

/// Inserts `ids` as one statement, as any writer other than the service would.
async fn insert(c: &tokio_postgres::Client, ids: &[i64]) -> Result<u64, tokio_postgres::Error> {
    let events: Vec<Event> = ids.iter().map(|&id| event(id)).collect();
    let col = |f: fn(&Event) -> i64| events.iter().map(f).collect::<Vec<i64>>();
    let hotels: Vec<i32> = events.iter().map(|e| e.hotel_id).collect();
    let times: Vec<DateTime<Utc>> = events.iter().map(|e| e.event_timestamp).collect();
    let statuses: Vec<i16> = events.iter().map(|e| e.status).collect();
    let rooms: Vec<Uuid> = events.iter().map(|e| e.room_reservation_id).collect();
    let nights: Vec<NaiveDate> = events.iter().map(|e| e.night_of_stay).collect();
    c.execute(
        INSERT,
        &[&col(|e| e.id), &hotels, &times, &statuses, &rooms, &nights],
    )
    .await
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (c, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    c
}

fn is_unique_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION)
}

#[tokio::test]
async fn the_upgrade_to_partitions_keeps_every_event_once_while_a_writer_goes_on() {
    let db = TestDb::empty().await;
    let sql = connect(&db.url).await;
    for (_, migration) in OLDER {
        sql.batch_execute(migration)
            .await
            .expect("an older migration");
    }
    let versions: Vec<String> = OLDER.iter().map(|(v, _)| format!("('{v}')")).collect();
    sql.batch_execute(&format!(
        "CREATE TABLE __diesel_schema_migrations (version VARCHAR(50) PRIMARY KEY NOT NULL, \
             run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP); \
         INSERT INTO __diesel_schema_migrations (version) VALUES {}",
        versions.join(", ")
    ))
    .await
    .expect("diesel's bookkeeping");

    // Stored by the older version, in batches of their own transactions; and a few retired ids.
    let old: Vec<i64> = (1..=6_000).map(|i| i * 3).collect();
    for chunk in old.chunks(1_000) {
        insert(&sql, chunk).await.expect("an older batch");
    }
    let retired: Vec<i64> = (1..=50).map(|i| i * 3 + 1).collect();
    sql.execute(
        "INSERT INTO retired_event_ids (id) SELECT unnest($1::int8[])",
        &[&retired],
    )
    .await
    .expect("retired ids");
    let positions_before: BTreeMap<i64, i64> = sql
        .query("SELECT id, tx_id FROM events", &[])
        .await
        .expect("positions")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();

    // A writer inserting new events, and an old one again, batch after batch, throughout.
    let committed = Arc::new(Mutex::new(Vec::<i64>::new()));
    let upgraded = CancellationToken::new();
    let (batches, mut written_batches) = tokio::sync::mpsc::unbounded_channel::<()>();
    let writer = {
        let (committed, upgraded) = (committed.clone(), upgraded.clone());
        let writer = connect(&db.url).await;
        tokio::spawn(async move {
            let mut next = 100_000i64;
            let mut after_upgrade = 0;
            while after_upgrade < 5 {
                let ids: Vec<i64> = (next..next + 200).collect();
                next += 200;
                insert(&writer, &ids).await.expect("a new batch");
                committed.lock().unwrap().extend(&ids);
                let _ = batches.send(());
                let again = insert(&writer, &[3]).await;
                assert!(
                    again.as_ref().is_err_and(is_unique_violation),
                    "a stored id again: {again:?}"
                );
                if upgraded.is_cancelled() {
                    after_upgrade += 1;
                }
            }
        })
    };
    // The writer has stored a few batches on the single table before the upgrade starts.
    for _ in 0..5 {
        written_batches.recv().await.expect("a batch written");
    }
    let file_before: u32 = sql
        .query_one("SELECT pg_relation_filenode('events')::oid", &[])
        .await
        .expect("filenode")
        .get(0);
    roompulse::db::migrate(&db.url, roompulse::db::DATA_PROVIDER_MIGRATIONS)
        .await
        .expect("the upgrade");
    upgraded.cancel();
    writer.await.expect("the writer");

    let partitioned: bool = sql
        .query_one(
            "SELECT relkind = 'p' FROM pg_class WHERE oid = 'events'::regclass",
            &[],
        )
        .await
        .expect("relkind")
        .get(0);
    assert!(partitioned, "the events table is partitioned");

    let mut expected: BTreeMap<i64, Event> = old.iter().map(|&id| (id, event(id))).collect();
    let written = committed.lock().unwrap().clone();
    expected.extend(written.iter().map(|&id| (id, event(id))));
    let rows = sql
        .query(
            "SELECT id, hotel_id, event_timestamp, status, room_reservation_id, night_of_stay, tx_id FROM events",
            &[],
        )
        .await
        .expect("stored");
    let mut stored: BTreeMap<i64, Event> = BTreeMap::new();
    for r in &rows {
        let e = Event {
            id: r.get(0),
            hotel_id: r.get(1),
            event_timestamp: r.get(2),
            status: r.get(3),
            room_reservation_id: r.get(4),
            night_of_stay: r.get(5),
        };
        if let Some(&tx_id) = positions_before.get(&e.id) {
            assert_eq!(
                tx_id,
                r.get::<_, i64>(6),
                "event {} keeps its feed position",
                e.id
            );
        }
        assert!(
            stored.insert(e.id, e).is_none(),
            "stored twice: {}",
            r.get::<_, i64>(0)
        );
    }
    assert_eq!(stored.len(), expected.len());
    assert!(stored == expected, "the stored events are the ones written");
    let claimed: Vec<i64> = sql
        .query("SELECT id FROM event_ids ORDER BY id", &[])
        .await
        .expect("event_ids")
        .iter()
        .map(|r| r.get(0))
        .collect();
    let in_new_partitions: Vec<i64> = sql
        .query("SELECT id FROM events WHERE arrival >= 1 ORDER BY id", &[])
        .await
        .expect("ids in the new partitions")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        claimed, in_new_partitions,
        "event_ids holds the ids stored since the upgrade; the legacy partition keeps its own"
    );
    let file_after: u32 = sql
        .query_one("SELECT pg_relation_filenode('events_legacy')::oid", &[])
        .await
        .expect("filenode")
        .get(0);
    assert_eq!(
        file_before, file_after,
        "the upgrade neither copied nor rewrote the stored rows: the table became a partition"
    );

    // After the upgrade every writer still finds stored and retired ids taken.
    for id in [old[17], written[3], retired[4]] {
        let again = insert(&sql, &[id]).await;
        assert!(
            again.as_ref().is_err_and(is_unique_violation),
            "{id}: {again:?}"
        );
    }
    let pool = roompulse::db::pool(&db.url, 2).expect("pool");
    let mut conn = store::connection(&pool).await.expect("connection");
    let batch: Vec<Event> = [old[5], retired[9], 7_000_001, written[40], 7_000_002]
        .into_iter()
        .map(event)
        .collect();
    let inserted = store::insert_batch(&mut conn, &batch)
        .await
        .expect("a batch");
    assert_eq!(
        inserted,
        store::Inserted {
            rows: 2,
            conflicts: Vec::new()
        }
    );
    let count: i64 = sql
        .query_one("SELECT count(*) FROM events", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(count, expected.len() as i64 + 2);
}

/// Writers other than the workers' COPY (which makes room before each batch) create partitions
/// only when their rows find none: a posted event, one without an id, and a careful-path batch
/// are each stored after every partition but the legacy one was dropped (with what it held).
#[tokio::test]
async fn a_write_that_finds_no_partition_creates_one_and_is_stored() {
    let app = crate::helpers::TestApp::spawn().await;
    let sql = app.events_db_client().await;
    let partitions = || async {
        sql.query_one(
            "SELECT count(*) FROM roompulse_event_partitions() WHERE lower_arrival IS NOT NULL",
            &[],
        )
        .await
        .expect("partitions")
        .get::<_, i64>(0)
    };
    let drop_all = || async {
        sql.batch_execute(
            "DO $$ DECLARE p text; BEGIN \
               FOR p IN SELECT partition_name FROM roompulse_event_partitions() \
                        WHERE lower_arrival IS NOT NULL LOOP \
                 EXECUTE format('ALTER TABLE events DETACH PARTITION %I', p); \
                 EXECUTE format('DROP TABLE %I', p); \
               END LOOP; END $$",
        )
        .await
        .expect("the partitions dropped");
        assert_eq!(partitions().await, 0);
    };

    drop_all().await;
    app.post_new(&crate::common::fixtures::booking(41, 1)).await;
    assert!(partitions().await > 0, "the post made room");
    assert_eq!(app.stored_count().await, 1);

    drop_all().await;
    let mut without_id = crate::common::fixtures::booking(0, 1);
    without_id.as_object_mut().expect("an object").remove("id");
    let r = app
        .client
        .post(app.url("/events"))
        .json(&without_id)
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 201);
    assert_eq!(
        app.stored_count().await,
        1,
        "dropping the partitions dropped the first"
    );

    drop_all().await;
    let pool = roompulse::db::pool(&app.events_db_url(), 2).expect("pool");
    let mut conn = store::connection(&pool).await.expect("connection");
    let inserted = store::insert_batch(&mut conn, &[event(43), event(44)])
        .await
        .expect("a batch");
    assert_eq!(inserted.rows, 2);
    assert_eq!(app.stored_count().await, 2);
    app.stop().await;
}
