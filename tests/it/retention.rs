//! `roompulse retention`: old events deleted in batches, the dashboard's figures unchanged
//! (checked against the brute-force oracle before, after, and after the same events are loaded
//! again through the queue and the API), the archive read back by the loader, the guard on the
//! dashboard's sync cursor, and retired ids refused on every insert path.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use roompulse::data_provider::event::Event;
use roompulse::data_provider::feed::StoredCursor;
use roompulse::data_provider::generate::Row;
use roompulse::data_provider::retention::{self, Guard, Options, RetentionError};
use roompulse::data_provider::{load, store};
use serde_json::{json, Value};

use crate::common::fixtures::generated_rows;
use crate::common::oracle::{assert_api_matches, counted, fold, PaceOracle};
use crate::helpers::{generated_csv, temp_dir, TestApp};
use crate::pace::{check_pace, Compared};

const ROWS: u64 = 3000;
const SEED: u64 = 23;

fn d(s: &str) -> NaiveDate {
    s.parse().expect("a date")
}

/// The generated events span 2022–2023: this cutoff splits them.
fn cutoff() -> DateTime<Utc> {
    retention::start_of(d("2023-01-01")).expect("midnight")
}

fn options(guard: Guard) -> Options {
    Options {
        before: cutoff(),
        guard,
        archive: None,
        dry_run: false,
        // Small batches: the run takes several, and its keyset walk must not skip or repeat.
        batch_size: 250,
    }
}

/// The app with the generated export loaded through the queue, drained and synced.
async fn loaded_and_synced() -> (TestApp, tempfile::TempDir, std::path::PathBuf) {
    let app = TestApp::spawn_with_workers(2).await;
    let dir = temp_dir();
    let csv = generated_csv(dir.path(), ROWS, SEED);
    let report = load::load_events(&csv, &dir.path().join("rejects.csv"), app.queue(), false)
        .await
        .expect("load");
    assert_eq!((report.queued, report.rejected), (ROWS, 0));
    app.drained_to(ROWS as i64).await;
    app.synced(ROWS as i64, 700).await;
    (app, dir, csv)
}

/// The dashboard's sync cursor, as `roompulse retention` reads it by default.
async fn synced_up_to(app: &TestApp) -> Guard {
    Guard::SyncedUpTo(
        app.dashboard_api()
            .cursor()
            .await
            .expect("the dashboard's cursor"),
    )
}

async fn ids(app: &TestApp, table: &str) -> BTreeSet<i64> {
    app.events_db_client()
        .await
        .query(&format!("SELECT id FROM {table}"), &[])
        .await
        .expect("ids")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

fn old(row: &Row) -> bool {
    row.event_timestamp < cutoff()
}

#[tokio::test]
async fn retention_deletes_exactly_the_old_events_and_keeps_their_ids() {
    let (app, _dir, _csv) = loaded_and_synced().await;
    let rows: Vec<Row> = generated_rows(ROWS, SEED).collect();
    let want_gone: BTreeSet<i64> = rows.iter().filter(|r| old(r)).map(|r| r.id).collect();
    let want_kept: BTreeSet<i64> = rows.iter().filter(|r| !old(r)).map(|r| r.id).collect();
    assert!(want_gone.len() > 1000 && want_kept.len() > 1000);

    let guard = synced_up_to(&app).await;
    let dry = retention::run(
        &app.events_db_url(),
        &Options {
            dry_run: true,
            ..options(guard)
        },
    )
    .await
    .expect("dry run");
    assert_eq!(
        (dry.retired, dry.kept_unsynced),
        (want_gone.len() as u64, 0)
    );
    assert_eq!(
        app.stored_count().await,
        ROWS as i64,
        "a dry run deletes nothing"
    );

    let report = retention::run(&app.events_db_url(), &options(guard))
        .await
        .expect("retention");
    assert_eq!(
        report.retired,
        want_gone.len() as u64,
        "{}",
        report.summary()
    );
    assert_eq!(ids(&app, "events").await, want_kept);
    assert_eq!(ids(&app, "retired_event_ids").await, want_gone);
    // A second run finds nothing more to do.
    let again = retention::run(&app.events_db_url(), &options(guard))
        .await
        .expect("retention again");
    assert_eq!(again.retired, 0);
    assert_eq!(ids(&app, "events").await, want_kept);
    app.stop().await;
}

/// `GET /dashboard` and `GET /dashboard/pace` for every hotel against the oracle.
async fn figures_match(app: &TestApp, rows: &[Row]) -> Compared {
    let days = fold(rows.iter().cloned().map(counted));
    assert_api_matches(&app.client, &app.base_url, &days).await;
    let oracle = PaceOracle::new(rows.iter().cloned().map(counted));
    let mut seen = Compared::default();
    for hotel in oracle.hotels() {
        for (span, windows) in [
            (
                (d("2022-01-01"), d("2024-01-01"), d("2023-06-15")),
                &[1, 7, 30][..],
            ),
            (
                (d("2022-03-01"), d("2022-12-31"), d("2022-08-01")),
                &[365, 2][..],
            ),
            (
                (d("2022-06-01"), d("2024-03-01"), d("2026-01-01")),
                &[90][..],
            ),
        ] {
            check_pace(app, &oracle, hotel, span, windows, &mut seen).await;
        }
    }
    assert!(seen.non_zero > 1000, "{seen:?}");
    seen
}

#[tokio::test]
async fn figures_are_the_same_after_retention_and_after_loading_the_events_again() {
    let (app, dir, csv) = loaded_and_synced().await;
    let mut rows: Vec<Row> = generated_rows(ROWS, SEED).collect();
    // One old event posted through the API too, with microseconds.
    let posted = json!({
        "id": 77_000_001, "hotel_id": 3, "event_timestamp": "2022-05-01T10:11:12.345678Z",
        "status": 1, "room_reservation_id": "0013e338-0158-4d5c-8698-aebe00cba360",
        "night_of_stay": "2022-05-03",
    });
    let r = app
        .client
        .post(app.url("/events"))
        .json(&posted)
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 201);
    rows.push(Row {
        room_reservation_id: "0013e338-0158-4d5c-8698-aebe00cba360"
            .parse()
            .expect("uuid"),
        night_of_stay: d("2022-05-03"),
        id: 77_000_001,
        status: 1,
        event_timestamp: "2022-05-01T10:11:12.345678Z".parse().expect("ts"),
        hotel_id: 3,
    });
    let total = rows.len() as i64;
    app.synced(total, 700).await;
    let before = figures_match(&app, &rows).await;

    let archive = dir.path().join("archive.csv");
    let report = retention::run(
        &app.events_db_url(),
        &Options {
            archive: Some(archive.clone()),
            ..options(synced_up_to(&app).await)
        },
    )
    .await
    .expect("retention");
    let kept = rows.iter().filter(|r| !old(r)).count() as i64;
    assert_eq!(report.retired, (total - kept) as u64);
    assert_eq!(app.stored_count().await, kept);
    let after = figures_match(&app, &rows).await;
    assert_eq!(
        (after.figures, after.non_zero),
        (before.figures, before.non_zero)
    );

    // The same export through the queue again (batches of stored and retired ids), the archive
    // (batches of retired ids only: the workers' COPY path), and old events posted again.
    for file in [&csv, &archive] {
        let report = load::load_events(file, &dir.path().join("rejects.csv"), app.queue(), false)
            .await
            .expect("load again");
        assert_eq!(report.rejected, 0);
    }
    app.drained_to(kept).await;
    assert_eq!(app.queue().dead_depth().await.expect("dead"), 0);
    let r = app
        .client
        .post(app.url("/events"))
        .json(&posted)
        .send()
        .await
        .expect("POST again");
    assert_eq!(r.status(), 200, "a retired id answers as a replay");
    let body: Value = r.json().await.expect("the event");
    assert_eq!(body["id"], 77_000_001);
    let first_old = rows.iter().find(|r| old(r)).expect("an old row");
    let again = json!({
        "id": first_old.id, "hotel_id": first_old.hotel_id,
        "event_timestamp": first_old.event_timestamp.to_rfc3339(), "status": first_old.status,
        "room_reservation_id": first_old.room_reservation_id.to_string(),
        "night_of_stay": first_old.night_of_stay.to_string(),
    });
    let r = app
        .client
        .post(app.url("/events"))
        .json(&again)
        .send()
        .await
        .expect("POST again");
    assert_eq!(r.status(), 200);
    assert_eq!(app.stored_count().await, kept);
    // A pass after the loads counts nothing (`synced` fails on a count above `total`).
    app.synced(total, 700).await;
    figures_match(&app, &rows).await;
    app.stop().await;
}

async fn stored_events(app: &TestApp) -> BTreeMap<i64, Event> {
    let client = app.events_db_client().await;
    client
        .query(
            "SELECT id, hotel_id, event_timestamp, status, room_reservation_id, night_of_stay FROM events",
            &[],
        )
        .await
        .expect("events")
        .iter()
        .map(|r| {
            let e = Event {
                id: r.get(0),
                hotel_id: r.get(1),
                event_timestamp: r.get(2),
                status: r.get(3),
                room_reservation_id: r.get(4),
                night_of_stay: r.get(5),
            };
            (e.id, e)
        })
        .collect()
}

#[tokio::test]
async fn the_archive_loads_back_through_the_loader_and_a_rerun_appends() {
    let (app, dir, _csv) = loaded_and_synced().await;
    // Microseconds, which the export's format does not carry, survive too.
    let r = app
        .client
        .post(app.url("/events"))
        .json(&json!({
            "id": 77_000_002, "hotel_id": 2, "event_timestamp": "2022-02-01T23:59:59.000001+02:00",
            "status": 2, "room_reservation_id": "0013E338-0158-4D5C-8698-AEBE00CBA360",
            "night_of_stay": "2022-02-01",
        }))
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 201);
    app.synced(ROWS as i64 + 1, 700).await;
    let everything = stored_events(&app).await;

    let archive = dir.path().join("archive.csv");
    std::fs::write(dir.path().join("other.csv"), "id,name\r\n1,x\r\n").expect("write");
    let guard = synced_up_to(&app).await;
    let refused = retention::run(
        &app.events_db_url(),
        &Options {
            archive: Some(dir.path().join("other.csv")),
            ..options(guard)
        },
    )
    .await;
    assert!(
        matches!(refused, Err(RetentionError::NotAnArchive { .. })),
        "{refused:?}"
    );
    assert_eq!(app.stored_count().await, ROWS as i64 + 1, "nothing deleted");

    // Two runs into one archive: up to mid-2022, then up to 2023.
    let first = retention::run(
        &app.events_db_url(),
        &Options {
            before: retention::start_of(d("2022-07-01")).expect("midnight"),
            archive: Some(archive.clone()),
            ..options(guard)
        },
    )
    .await
    .expect("first run");
    assert!(!first.appended && first.retired > 100);
    let second = retention::run(
        &app.events_db_url(),
        &Options {
            archive: Some(archive.clone()),
            ..options(guard)
        },
    )
    .await
    .expect("second run");
    assert!(second.appended && second.retired > 100);
    let text = std::fs::read_to_string(&archive).expect("the archive");
    assert_eq!(
        text.matches("room_reservation_id,night_of_stay").count(),
        1,
        "one header"
    );
    let retired: BTreeMap<i64, Event> = everything
        .into_iter()
        .filter(|(_, e)| e.event_timestamp < cutoff())
        .collect();
    assert_eq!(first.retired + second.retired, retired.len() as u64);
    assert!(retired.contains_key(&77_000_002));

    // Loaded elsewhere, the archive gives back exactly the deleted events.
    let elsewhere = TestApp::spawn_with_workers(1).await;
    let report = load::load_events(
        &archive,
        &dir.path().join("archive.rejects.csv"),
        elsewhere.queue(),
        false,
    )
    .await
    .expect("load the archive");
    assert_eq!((report.queued, report.rejected), (retired.len() as u64, 0));
    elsewhere.drained_to(retired.len() as i64).await;
    assert_eq!(stored_events(&elsewhere).await, retired);
    elsewhere.stop().await;
    app.stop().await;
}

async fn post_old(app: &TestApp, id: i64) {
    assert_eq!(post_old_status(app, id).await, 201);
}

async fn post_old_status(app: &TestApp, id: i64) -> u16 {
    let r = app
        .client
        .post(app.url("/events"))
        .json(&json!({
            "id": id, "hotel_id": 1, "event_timestamp": "2022-03-03T03:03:03Z", "status": 1,
            "room_reservation_id": "0013e338-0158-4d5c-8698-aebe00cba360",
            "night_of_stay": "2022-03-04",
        }))
        .send()
        .await
        .expect("POST");
    r.status().as_u16()
}

#[tokio::test]
async fn the_guard_keeps_old_events_the_dashboard_has_not_counted() {
    let app = TestApp::spawn().await;
    // Nothing counted yet: nothing may go.
    let none = app.dashboard_api().cursor().await;
    assert!(
        matches!(none, Err(RetentionError::NothingSynced)),
        "{none:?}"
    );

    for id in 1..=5 {
        post_old(&app, id).await;
    }
    app.synced(5, 100).await;
    let guard = synced_up_to(&app).await;
    // Stored after the dashboard's last pass, with old timestamps.
    for id in 6..=8 {
        post_old(&app, id).await;
    }
    let dry = retention::run(
        &app.events_db_url(),
        &Options {
            dry_run: true,
            ..options(guard)
        },
    )
    .await
    .expect("dry run");
    assert_eq!((dry.retired, dry.kept_unsynced), (5, 3));
    let report = retention::run(&app.events_db_url(), &options(guard))
        .await
        .expect("retention");
    assert_eq!((report.retired, report.kept_unsynced), (5, 3));
    assert!(
        report.summary().contains("3 older events are kept"),
        "{}",
        report.summary()
    );
    assert_eq!(ids(&app, "events").await, (6..=8).collect());

    // Once counted, they go too; and the figures never lost them.
    app.synced(8, 100).await;
    let report = retention::run(&app.events_db_url(), &options(synced_up_to(&app).await))
        .await
        .expect("retention");
    assert_eq!((report.retired, report.kept_unsynced), (3, 0));
    let days: Vec<Value> = app
        .get_json("/dashboard?hotel_id=1&period=month&year=2022&basis=event")
        .await;
    assert_eq!(days[2]["bookings"], 8);

    // A cursor past this Data Provider's feed is another's: refused before anything is done.
    let Guard::SyncedUpTo(StoredCursor { tx_id, .. }) = guard else {
        panic!("a cursor")
    };
    let foreign = StoredCursor {
        tx_id: tx_id + 1_000_000_000,
        id: 1,
    };
    let refused = retention::run(&app.events_db_url(), &options(Guard::SyncedUpTo(foreign))).await;
    assert!(
        matches!(refused, Err(RetentionError::CursorBeyondFeed { .. })),
        "{refused:?}"
    );
    assert!(matches!(
        retention::parse_cursor("not-a-cursor"),
        Err(RetentionError::BadCursor(_))
    ));
    app.stop().await;
}

/// `--unsafe-ignore-sync` on old events the dashboard has not counted: the dry run says how
/// many, the run refuses them unless asked twice (`--yes-lose-uncounted`), the summary says how
/// many went, and they are flagged so that un-retiring them and loading them again (README,
/// "Retention") brings them into the figures, counted once.
#[tokio::test]
async fn ignoring_the_sync_loses_uncounted_events_only_when_asked_twice_and_says_how_many() {
    let app = TestApp::spawn().await;
    for id in 1..=5 {
        post_old(&app, id).await;
    }
    app.synced(5, 100).await;
    let Guard::SyncedUpTo(cursor) = synced_up_to(&app).await else {
        panic!("a cursor")
    };
    for id in 6..=8 {
        post_old(&app, id).await;
    }
    let ignore = |lose_uncounted| Guard::Ignore {
        counted: Some(cursor),
        lose_uncounted,
    };
    let dry = retention::run(
        &app.events_db_url(),
        &Options {
            dry_run: true,
            ..options(ignore(false))
        },
    )
    .await
    .expect("dry run");
    assert_eq!((dry.retired, dry.uncounted), (8, 3));
    assert!(
        dry.summary()
            .contains("3 of them not counted by the dashboard"),
        "{}",
        dry.summary()
    );

    let refused = retention::run(&app.events_db_url(), &options(ignore(false))).await;
    assert!(
        matches!(
            refused,
            Err(RetentionError::WouldLoseUncounted { uncounted: 3, .. })
        ),
        "{refused:?}"
    );
    assert_eq!(ids(&app, "events").await, (1..=8).collect());

    let report = retention::run(&app.events_db_url(), &options(ignore(true)))
        .await
        .expect("retention");
    assert_eq!((report.retired, report.uncounted), (8, 3));
    assert!(
        report
            .summary()
            .contains("3 of them not counted by the dashboard: lost from its figures for good"),
        "{}",
        report.summary()
    );
    assert!(ids(&app, "events").await.is_empty());

    // The recovery the README gives: un-retire the flagged ids, load the events again (here
    // posted, as the archive's rows would be loaded): the lost ones are counted, once; the
    // counted ones stay retired.
    let client = app.events_db_client().await;
    let unretired = client
        .execute("DELETE FROM retired_event_ids WHERE uncounted", &[])
        .await
        .expect("un-retire");
    assert_eq!(unretired, 3);
    for id in 1..=8 {
        let expected = if id <= 5 { 200 } else { 201 };
        assert_eq!(post_old_status(&app, id).await, expected, "event {id}");
    }
    assert_eq!(ids(&app, "events").await, (6..=8).collect());
    app.synced(8, 100).await;
    let days: Vec<Value> = app
        .get_json("/dashboard?hotel_id=1&period=month&year=2022&basis=event")
        .await;
    assert_eq!(days[2]["bookings"], 8);
    app.stop().await;
}

fn event(id: i64) -> Event {
    Event {
        id,
        hotel_id: 4,
        event_timestamp: "2022-04-04T04:04:04Z".parse().expect("ts"),
        status: 1,
        room_reservation_id: uuid::Uuid::from_u128(id as u128),
        night_of_stay: d("2022-04-05"),
    }
}

#[tokio::test]
async fn a_retired_id_in_a_batch_is_not_stored_again_and_the_new_ones_are() {
    let app = TestApp::spawn_with_workers(1).await;
    let url = app.events_db_url();
    let mut copy = store::CopyConnection::new(&url);
    assert!(copy.copy_batch(&[event(1), event(2)]).await.expect("copy"));
    retention::run(
        &url,
        &options(Guard::Ignore {
            counted: None,
            lose_uncounted: true,
        }),
    )
    .await
    .expect("retention");
    assert!(ids(&app, "events").await.is_empty());

    // The COPY fast path refuses the batch as a whole, as for an id still stored…
    let mixed = [event(3), event(1), event(4)];
    assert!(!copy.copy_batch(&mixed).await.expect("copy"));
    assert!(ids(&app, "events").await.is_empty());
    // …and the careful path stores the new ones only.
    let mut conn = store::connection(app.events_db()).await.expect("conn");
    let inserted = store::insert_batch(&mut conn, &mixed)
        .await
        .expect("insert");
    assert_eq!(
        inserted,
        store::Inserted {
            rows: 2,
            conflicts: vec![]
        }
    );
    assert_eq!(ids(&app, "events").await, BTreeSet::from([3, 4]));

    // Through the queue, as the workers do it: one batch of new and retired ids.
    let messages: Vec<String> = [event(5), event(2), event(6)]
        .iter()
        .map(|e| serde_json::to_string(e).expect("an event serialises"))
        .collect();
    let messages: Vec<&str> = messages.iter().map(String::as_str).collect();
    app.queue().push(&messages).await.expect("push");
    app.drained_to(4).await;
    assert_eq!(app.queue().dead_depth().await.expect("dead"), 0);
    assert_eq!(ids(&app, "events").await, BTreeSet::from([3, 4, 5, 6]));

    // Any other writer too: psql's plain INSERT is refused by the table itself.
    let refused = app
        .events_db_client()
        .await
        .execute(
            "INSERT INTO events (id, hotel_id, event_timestamp, status, room_reservation_id, night_of_stay) \
             VALUES (2, 1, now(), 1, gen_random_uuid(), '2024-01-01')",
            &[],
        )
        .await
        .expect_err("a retired id");
    assert_eq!(
        refused.code(),
        Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION)
    );
    app.stop().await;
}

/// With the newest-stored events retired, a copy of the database on another server (whose
/// transaction counter may be lower) still starts its feed positions after them: otherwise new
/// events would land behind the dashboard's cursor, never to be seen.
#[tokio::test]
async fn feed_positions_after_a_move_stay_after_retired_events() {
    let app = TestApp::spawn().await;
    let client = app.events_db_client().await;
    let far: i64 = client
        .query_one("SELECT roompulse_feed_position() + 1000000000", &[])
        .await
        .expect("position")
        .get(0);
    client
        .execute(
            "INSERT INTO events (id, hotel_id, event_timestamp, status, room_reservation_id, night_of_stay, tx_id) \
             VALUES (9, 1, '2022-01-01', 1, gen_random_uuid(), '2022-01-02', $1)",
            &[&far],
        )
        .await
        .expect("insert");
    let report = retention::run(
        &app.events_db_url(),
        &options(Guard::Ignore {
            counted: None,
            lose_uncounted: true,
        }),
    )
    .await
    .expect("retention");
    assert_eq!(report.retired, 1);
    // What a restore on another server amounts to: no epoch for this (server, database) yet.
    client
        .batch_execute("DELETE FROM feed_epochs")
        .await
        .expect("forget the epoch");
    let next: i64 = client
        .query_one("SELECT roompulse_feed_position()", &[])
        .await
        .expect("position")
        .get(0);
    assert!(next > far, "{next} must be after the retired {far}");
    app.stop().await;
}

/// With partitions of 1,000 arrivals and the old events stored before the new ones, the
/// partitions holding only old, counted events are archived and dropped whole, the one holding
/// both is thinned row by row, and nothing else changes: the figures (against the oracle), the
/// archive (every old event once), the ids (refused on every path, stored or retired).
#[tokio::test]
async fn partitions_of_old_counted_events_are_archived_and_dropped_whole() {
    let app = TestApp::spawn().await;
    let sql = app.events_db_client().await;
    sql.batch_execute(
        "UPDATE event_partitioning SET rows_per_partition = 1000; \
         ALTER TABLE events DETACH PARTITION events_from_1; DROP TABLE events_from_1; \
         ALTER TABLE events DETACH PARTITION events_from_2000001; DROP TABLE events_from_2000001; \
         SELECT roompulse_add_event_partitions();",
    )
    .await
    .expect("partitions of 1,000 arrivals");
    let rows: Vec<Row> = generated_rows(ROWS, SEED).collect();
    let (old_rows, new_rows): (Vec<&Row>, Vec<&Row>) = rows.iter().partition(|r| old(r));
    let pool = roompulse::db::pool(&app.events_db_url(), 2).expect("pool");
    let mut conn = store::connection(&pool).await.expect("connection");
    for part in [&old_rows, &new_rows] {
        for chunk in part.chunks(400) {
            let batch: Vec<Event> = chunk.iter().map(|r| Event::from((*r).clone())).collect();
            store::insert_batch(&mut conn, &batch)
                .await
                .expect("a batch");
        }
    }
    app.synced(ROWS as i64, 700).await;
    let before = figures_match(&app, &rows).await;
    let partitions_before = ids_of_partitions(&sql).await;
    let whole_old: Vec<&String> = partitions_before
        .iter()
        .filter(|(_, ids)| {
            !ids.is_empty() && ids.iter().all(|id| old_rows.iter().any(|r| r.id == *id))
        })
        .map(|(name, _)| name)
        .collect();
    assert!(
        !whole_old.is_empty() && whole_old.len() < partitions_before.len(),
        "{partitions_before:?}"
    );

    let dir = temp_dir();
    let archive = dir.path().join("archive.csv");
    let report = retention::run(
        &app.events_db_url(),
        &Options {
            archive: Some(archive.clone()),
            ..options(synced_up_to(&app).await)
        },
    )
    .await
    .expect("retention");
    let want_gone: BTreeSet<i64> = old_rows.iter().map(|r| r.id).collect();
    let want_kept: BTreeSet<i64> = new_rows.iter().map(|r| r.id).collect();
    assert_eq!(
        report.retired,
        want_gone.len() as u64,
        "{}",
        report.summary()
    );
    assert_eq!(ids(&app, "events").await, want_kept);
    let partitions_after = ids_of_partitions(&sql).await;
    for name in &whole_old {
        assert!(
            !partitions_after.contains_key(*name),
            "{name} is dropped, not emptied"
        );
    }
    let dropped: BTreeSet<i64> = whole_old
        .iter()
        .flat_map(|name| partitions_before[*name].iter().copied())
        .collect();
    let row_by_row: BTreeSet<i64> = want_gone.difference(&dropped).copied().collect();
    assert!(
        !row_by_row.is_empty(),
        "the mixed partition is thinned row by row"
    );
    assert_eq!(ids(&app, "retired_event_ids").await, row_by_row);
    let mut archived: Vec<i64> = std::fs::read_to_string(&archive)
        .expect("the archive")
        .lines()
        .skip(1)
        .map(|l| {
            l.split(',')
                .nth(2)
                .and_then(|id| id.parse().ok())
                .expect("an id")
        })
        .collect();
    archived.sort_unstable();
    assert_eq!(archived, want_gone.iter().copied().collect::<Vec<i64>>());

    // Loaded again, as a batch and posted: nothing is stored, nothing counted twice.
    let again: Vec<Event> = old_rows.iter().map(|r| Event::from((*r).clone())).collect();
    let inserted = store::insert_batch(&mut conn, &again)
        .await
        .expect("the old events again");
    assert_eq!(inserted, store::Inserted::default());
    let dropped_one = *dropped.iter().next().expect("a dropped id");
    let posted = app
        .client
        .post(app.url("/events"))
        .json(&Event::from(
            rows.iter()
                .find(|r| r.id == dropped_one)
                .expect("its row")
                .clone(),
        ))
        .send()
        .await
        .expect("POST");
    assert_eq!(
        posted.status(),
        200,
        "a retired event is answered as stored"
    );
    let new_one = Event {
        id: 90_000_001,
        ..Event::from(new_rows[0].clone())
    };
    assert_eq!(
        store::insert_batch(&mut conn, std::slice::from_ref(&new_one))
            .await
            .expect("a new event")
            .rows,
        1
    );
    app.synced(ROWS as i64 + 1, 700).await;
    let mut with_new = rows.clone();
    with_new.push(Row {
        id: new_one.id,
        ..new_rows[0].clone()
    });
    let after = figures_match(&app, &with_new).await;
    assert!(after.non_zero >= before.non_zero, "{before:?} {after:?}");
    app.stop().await;
}

/// Each partition of the events table with the ids it holds.
async fn ids_of_partitions(sql: &tokio_postgres::Client) -> BTreeMap<String, BTreeSet<i64>> {
    let mut out: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
    for r in sql
        .query(
            "SELECT p.partition_name, e.id FROM roompulse_event_partitions() p \
             LEFT JOIN events e ON e.tableoid = quote_ident(p.partition_name)::regclass",
            &[],
        )
        .await
        .expect("partitions")
    {
        let ids = out.entry(r.get(0)).or_default();
        if let Some(id) = r.get::<_, Option<i64>>(1) {
            ids.insert(id);
        }
    }
    out
}
