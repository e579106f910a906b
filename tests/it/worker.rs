use std::time::Duration;

use roompulse::data_provider::load;
use roompulse::data_provider::store;
use roompulse::data_provider::worker::{self, parse_message, WorkerSettings};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::common::db::TestDb;
use crate::common::fixtures::{event_json, generated_rows};
use crate::common::redis::{queued, TestKeys, REDIS_URL};
use crate::common::wait::{drained, eventually};
use crate::helpers::{generated_csv, temp_dir, test_config, TestApp};

const LIMIT: Duration = Duration::from_secs(60);

#[tokio::test]
async fn workers_drain_the_queue_and_loading_twice_stores_once() {
    let app = TestApp::spawn_with_workers(2).await;
    let dir = temp_dir();
    let csv = generated_csv(dir.path(), 3000, 11);
    let rejects = dir.path().join("r.csv");
    for _ in 0..2 {
        let report = load::load_events(&csv, &rejects, app.queue(), false)
            .await
            .unwrap();
        assert_eq!(report.queued, 3000);
    }
    app.drained_to(3000).await;
    assert_eq!(app.queue().dead_depth().await.unwrap(), 0);
    // What was stored is what the file says.
    let page: Vec<Value> = app.get_json("/events?limit=10000").await;
    let mut want: Vec<_> = generated_rows(3000, 11)
        .map(|r| (r.event_timestamp, r.id))
        .collect();
    want.sort();
    let got: Vec<i64> = page.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert_eq!(got, want.iter().map(|w| w.1).collect::<Vec<_>>());
    let queue = app.queue().clone();
    app.stop().await;
    assert_eq!(
        queue.in_flight().await.unwrap(),
        0,
        "stopped workers hold nothing"
    );
}

/// After a bulk load the workers refresh the table's statistics, so the planner sees the new
/// rows even where autovacuum does not run (turned off here for the table): without them the
/// night filters were planned on the hotel index, 29 s instead of 24 ms at 334k events.
#[tokio::test]
async fn after_a_bulk_load_the_table_has_statistics() {
    let app = TestApp::spawn_with_workers(2).await;
    let sql = app.events_db_client().await;
    // Autovacuum never analyses a partitioned table itself, only its partitions: off for those.
    for partition in sql
        .query(
            "SELECT partition_name FROM roompulse_event_partitions()",
            &[],
        )
        .await
        .expect("the partitions")
    {
        let name: String = partition.get(0);
        sql.batch_execute(&format!(
            "ALTER TABLE \"{name}\" SET (autovacuum_enabled = false)"
        ))
        .await
        .expect("autovacuum off for a partition");
    }
    let statistics = || async {
        sql.query_one(
            "SELECT count(*) FROM pg_stats WHERE schemaname = 'public' AND tablename = 'events'",
            &[],
        )
        .await
        .expect("pg_stats")
        .get::<_, i64>(0)
    };
    assert_eq!(statistics().await, 0, "a new table has none");
    let rows = worker::ANALYZE_AFTER as i64 + 2000;
    let dir = temp_dir();
    let csv = generated_csv(dir.path(), rows as u64, 23);
    let report = load::load_events(&csv, &dir.path().join("r.csv"), app.queue(), false)
        .await
        .unwrap();
    assert_eq!(report.queued as i64, rows);
    app.drained_to(rows).await;
    eventually("the events table has statistics", LIMIT, || async {
        statistics().await > 0
    })
    .await;
    app.stop().await;
}

#[tokio::test]
async fn bad_messages_become_dead_letters_and_never_block_the_queue() {
    let app = TestApp::spawn_with_workers(1).await;
    let mut good = event_json(1, 1, "2022-01-01 00:00:00", 1, "2022-01-02");
    good["source"] = "pms".into(); // a field the service does not know
    let good = good.to_string();
    let as_strings = r#"{"id":"2","hotel_id":"1","timestamp":"2022-01-01T00:00:00Z","rpg_status":"2","room_id":"0013E338-0158-4D5C-8698-AEBE00CBA360","night_of_stay":"2022-01-02"}"#;
    let conflict = event_json(1, 2, "2022-01-01 00:00:00", 1, "2022-01-02").to_string();
    let messages: Vec<&str> = vec![
        &good,
        "not json",
        "[1]",
        r#"{"id":3,"hotel_id":1}"#,
        as_strings,
        &good,
    ];
    app.queue().push(&messages).await.unwrap();
    app.drained_to(2).await;
    // The conflicting event arrives later, once the first is stored.
    app.queue().push(&[&conflict]).await.unwrap();
    eventually("the conflict is dead-lettered", LIMIT, || async {
        app.queue().dead_depth().await.unwrap() == 4
    })
    .await;
    app.drained_to(2).await;

    let dead: Vec<Value> = app
        .queue()
        .dead_letters(0, -1)
        .await
        .unwrap()
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let reasons: Vec<&str> = dead.iter().map(|d| d["reason"].as_str().unwrap()).collect();
    assert!(reasons[0].contains("JSON object"), "{reasons:?}");
    assert!(reasons[1].contains("JSON object"), "{reasons:?}");
    assert!(
        reasons[2].contains("event_timestamp: is required"),
        "{reasons:?}"
    );
    assert!(reasons[3].starts_with("conflict: id 1"), "{reasons:?}");
    assert_eq!(dead[0]["message"], "not json");
    assert_eq!(dead[3]["message"], conflict);
    // The stored event is the first one, untouched.
    let stored = store::list(app.events_db(), &Default::default(), None, 10)
        .await
        .unwrap();
    assert_eq!(stored[0].hotel_id, 1);
    assert_eq!(stored[1].status, 2);
}

/// Simulates a worker that dies mid-batch: it took a batch into its processing list (and, the
/// second time, even committed it) but never acknowledged. Its lease runs out and a live worker
/// puts the batch back; every event ends up stored once.
#[tokio::test]
async fn a_batch_of_a_worker_that_died_is_recovered_exactly_once() {
    let dir = temp_dir();
    let csv = generated_csv(dir.path(), 2000, 5);
    let (events_db, dashboard_db) = tokio::join!(TestDb::data_provider(), TestDb::dashboard());
    let keys = TestKeys::new();
    let queue = keys.queue();
    load::load_events(&csv, &dir.path().join("r.csv"), &queue, false)
        .await
        .unwrap();

    let lease = Duration::from_secs(1);
    // Ghost one dies before storing; ghost two dies after its commit, before its ack.
    let lost = queue.claim("ghost-1", 300, lease, lease).await.unwrap();
    let committed = queue.claim("ghost-2", 300, lease, lease).await.unwrap();
    assert_eq!((lost.len(), committed.len()), (300, 300));
    let pool = roompulse::db::pool(&events_db.url, 2).unwrap();
    let events: Vec<_> = committed
        .iter()
        .map(|m| parse_message(m).unwrap())
        .collect();
    store::insert_batch(&mut store::connection(&pool).await.unwrap(), &events)
        .await
        .unwrap();
    assert_eq!(queue.depth().await.unwrap(), 1400);
    assert_eq!(queue.in_flight().await.unwrap(), 600);

    let mut config = test_config(&events_db, &dashboard_db, &keys);
    config.batch.worker_lease_secs = 1;
    let shutdown = CancellationToken::new();
    let worker = tokio::spawn(worker::run(
        queue.clone(),
        pool.clone(),
        WorkerSettings::from_config(&config),
        shutdown.clone(),
    ));
    // Both ghosts' batches are recovered and stored.
    drained(&queue, LIMIT).await;
    shutdown.cancel();
    worker.await.unwrap();
    assert_eq!(store::count(&pool).await.unwrap(), 2000);
    assert_eq!(queue.dead_depth().await.unwrap(), 0);
}

/// Graceful shutdown while the database is unreachable: the batch in flight goes back to the
/// queue instead of being lost or dead-lettered.
#[tokio::test]
async fn on_shutdown_a_batch_that_cannot_be_stored_goes_back_to_the_queue() {
    let keys = TestKeys::new();
    let queue = keys.queue();
    let messages: Vec<Vec<u8>> = (1..=50)
        .map(|i| {
            let line = event_json(i, 1, "2022-01-01 00:00:00", 1, "2022-01-02").to_string();
            serde_json::to_vec(&parse_message(line.as_bytes()).unwrap()).unwrap()
        })
        .collect();
    queue.push(&messages).await.unwrap();
    // A database that does not exist: every attempt fails as an outage does.
    let nowhere = "postgres://postgres@127.0.0.1:5432/roompulse_no_such_db";
    let pool = roompulse::db::pool(nowhere, 1).unwrap();
    let settings = WorkerSettings {
        batch_size: 20,
        lease: Duration::from_secs(5),
        idle_wait: Duration::from_secs(1),
        copy_url: Some(nowhere.into()),
        since_analyze: Default::default(),
    };
    let shutdown = CancellationToken::new();
    let worker = tokio::spawn(worker::run(queue.clone(), pool, settings, shutdown.clone()));
    eventually("the worker holds a batch", LIMIT, || async {
        queue.in_flight().await.unwrap() == 20
    })
    .await;
    shutdown.cancel();
    worker.await.unwrap();
    assert_eq!(queue.in_flight().await.unwrap(), 0);
    assert_eq!(queue.dead_depth().await.unwrap(), 0);
    let back: Vec<Vec<u8>> = queued(REDIS_URL, &queue.keys().queue)
        .await
        .into_iter()
        .map(String::into_bytes)
        .collect();
    assert_eq!(
        back, messages,
        "every message is back, in its original order"
    );
}

/// On one Redis the queue's keys keep the names earlier versions used (the hash tag is for a
/// Redis Cluster only): what they queued is found and stored after an upgrade.
#[tokio::test]
async fn on_one_redis_messages_queued_under_the_plain_names_are_stored() {
    let keys = TestKeys::new();
    let client = redis::Client::open(REDIS_URL).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let message = event_json(7, 1, "2022-01-01 00:00:00", 1, "2022-01-02").to_string();
    let _: i64 = redis::cmd("RPUSH")
        .arg(&keys.queue_key)
        .arg(&message)
        .query_async(&mut c)
        .await
        .unwrap();
    let key = keys.queue_key.clone();
    let app = TestApp::spawn_configured(1, |c| c.queue.events_queue_key = key).await;
    assert_eq!(app.queue().keys().queue, keys.queue_key);
    app.drained_to(1).await;
    let stored = store::list(app.events_db(), &Default::default(), None, 10)
        .await
        .unwrap();
    assert_eq!(stored.iter().map(|e| e.id).collect::<Vec<_>>(), vec![7]);
}
