//! `GET /events?order=stored`: the Data Provider's change feed, which the dashboard's sync
//! follows. Every stored event must come out exactly once, however late it is stored.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use diesel_async::RunQueryDsl;
use reqwest::StatusCode;
use roompulse::data_provider::store;
use serde_json::{json, Value};
use tokio::sync::Mutex;

use crate::common::db::PG_SERVER;
use crate::common::fixtures::event_json;
use crate::common::wait::eventually;
use crate::helpers::TestApp;

fn event(id: i64, hotel: i32, ts: &str) -> Value {
    event_json(id, hotel, ts, 1, "2022-06-26")
}

/// One page of the feed: its ids and the path of the next page (always there).
async fn page(app: &TestApp, path: &str) -> (Vec<i64>, String) {
    let r = app.client.get(app.url(path)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{path}");
    let link = r
        .headers()
        .get("link")
        .expect("the feed always has a next link")
        .to_str()
        .unwrap()
        .to_string();
    let next = link
        .strip_prefix('<')
        .and_then(|l| l.split_once(">; rel=\"next\""))
        .unwrap()
        .0
        .to_string();
    let ids = r
        .json::<Vec<Value>>()
        .await
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    (ids, next)
}

/// The `(tx_id, id)` position a feed link's cursor names (`s` and two 16-digit hex numbers).
fn position(path: &str) -> (u64, u64) {
    let cursor = path
        .split_once("cursor=s")
        .map(|(_, c)| c.split('&').next().unwrap_or(c))
        .unwrap_or_else(|| panic!("no cursor in {path}"));
    assert_eq!(cursor.len(), 32, "{path}");
    let hex = |s: &str| u64::from_str_radix(s, 16).unwrap();
    (hex(&cursor[..16]), hex(&cursor[16..]))
}

/// Follows the feed from `path` to its current end; returns every id seen and where to go on.
async fn drain(app: &TestApp, mut path: String, seen: &mut Vec<i64>) -> String {
    loop {
        let (ids, next) = page(app, &path).await;
        let empty = ids.is_empty();
        if empty && path.contains("cursor=") {
            if path.contains("hotel_id=") {
                // A filtered page moves past what it looked at: for a few hotels, every row
                // below the horizon, which any transaction on the server moves on.
                assert!(
                    position(&next) >= position(&path),
                    "{next} is behind {path}"
                );
            } else {
                assert_eq!(next, path, "an empty page's link repeats its own cursor");
            }
        }
        seen.extend(ids);
        path = next;
        if empty {
            return path;
        }
    }
}

/// Follows the feed until `count` events have come in all. The app's own transactions may hold
/// the feed back for a moment, hence the retries.
async fn follow_until(app: &TestApp, path: String, seen: &mut Vec<i64>, count: usize) -> String {
    let state = Arc::new(Mutex::new((path, std::mem::take(seen))));
    eventually(
        &format!("the feed has delivered {count} events"),
        Duration::from_secs(60),
        || {
            let state = state.clone();
            async move {
                let mut s = state.lock().await;
                let (path, seen) = &mut *s;
                *path = drain(app, path.clone(), seen).await;
                seen.len() >= count
            }
        },
    )
    .await;
    let (path, got) = Arc::try_unwrap(state).unwrap().into_inner();
    *seen = got;
    path
}

fn assert_once(seen: &[i64], want: &BTreeSet<i64>) {
    let unique: BTreeSet<i64> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "an event came twice: {seen:?}");
    assert_eq!(&unique, want);
}

#[tokio::test]
async fn the_feed_returns_every_event_once_including_those_stored_after_a_page() {
    let app = TestApp::spawn().await;
    for (id, ts) in [
        (10, "2022-06-24T13:00:00Z"),
        (3, "2022-06-24T13:00:00Z"),
        (7, "2021-01-01T00:00:00Z"),
        (5, "2023-01-01T00:00:00Z"),
        (1, "2022-06-24T13:00:00Z"),
    ] {
        app.post_new(&event(id, 1, ts)).await;
    }
    let mut seen = Vec::new();
    let start = "/events?order=stored&limit=2".to_string();
    let mut want: BTreeSet<i64> = [1, 3, 5, 7, 10].into();
    let path = follow_until(&app, start.clone(), &mut seen, 5).await;
    assert_once(&seen, &want);
    // In the order they were stored: one transaction each, so in posting order.
    assert_eq!(seen, [10, 3, 7, 5, 1]);

    // Stored later, with timestamps before everything seen: still delivered, after the cursor.
    for (id, ts) in [
        (2, "2020-01-01T00:00:00Z"),
        (4, "2022-06-24T13:00:00Z"),
        (99, "2030-01-01T00:00:00Z"),
    ] {
        app.post_new(&event(id, 2, ts)).await;
        want.insert(id);
    }
    follow_until(&app, path, &mut seen, 8).await;
    assert_once(&seen, &want);

    // The whole feed again from the start, with a filter: the same events, once each.
    let mut hotel_2 = Vec::new();
    follow_until(&app, format!("{start}&hotel_id=2"), &mut hotel_2, 3).await;
    assert_eq!(hotel_2, [2, 4, 99]);
}

#[tokio::test]
async fn an_event_of_a_transaction_still_open_is_held_back_then_delivered() {
    let app = TestApp::spawn().await;
    app.post_new(&event(50, 1, "2022-06-24T13:00:00Z")).await;

    // A batch that takes its time: its transaction is open while the feed is read.
    let mut open = store::connection(app.events_db()).await.unwrap();
    diesel::sql_query("BEGIN").execute(&mut open).await.unwrap();
    diesel::sql_query(
        "INSERT INTO events (id, hotel_id, event_timestamp, status, room_reservation_id, night_of_stay) \
         VALUES (60, 1, '2019-01-01T00:00:00Z', 1, '0013e338-0158-4d5c-8698-aebe00cba360', '2019-01-02')",
    )
    .execute(&mut open)
    .await
    .unwrap();
    // Stored after the open transaction began, committed before it.
    app.post_new(&event(70, 1, "2022-06-25T13:00:00Z")).await;

    let mut seen = Vec::new();
    let path = follow_until(&app, "/events?order=stored&limit=100".into(), &mut seen, 1).await;
    // 70 committed, but behind the open transaction: a cursor past it would skip event 60.
    assert_eq!(seen, [50]);
    let (ids, next) = page(&app, &path).await;
    assert!(ids.is_empty());
    assert_eq!(next, path);

    diesel::sql_query("COMMIT")
        .execute(&mut open)
        .await
        .unwrap();
    drop(open);
    follow_until(&app, path, &mut seen, 3).await;
    assert_once(&seen, &[50, 60, 70].into());
    assert_eq!(seen, [50, 60, 70], "in the order the transactions began");
}

/// Only this database's transactions can store events behind a cursor: one open in another
/// database on the same server (another application's, the dashboard's) used to hold the feed
/// back until it ended.
#[tokio::test]
async fn a_transaction_open_in_another_database_does_not_hold_the_feed_back() {
    let app = TestApp::spawn().await;
    let (other, conn) =
        tokio_postgres::connect(&format!("{PG_SERVER}/postgres"), tokio_postgres::NoTls)
            .await
            .unwrap();
    tokio::spawn(conn);
    other.batch_execute("BEGIN").await.unwrap();
    let xid: String = other
        .query_one("SELECT pg_current_xact_id()::text", &[])
        .await
        .unwrap()
        .get(0);
    app.post_new(&event(80, 1, "2022-06-24T13:00:00Z")).await;

    let mut seen = Vec::new();
    follow_until(&app, "/events?order=stored&limit=100".into(), &mut seen, 1).await;
    assert_eq!(seen, [80]);
    let still_open: String = other
        .query_one("SELECT pg_current_xact_id()::text", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(still_open, xid, "the other transaction was open throughout");
    other.batch_execute("ROLLBACK").await.unwrap();
}

#[tokio::test]
async fn feed_parameters_are_checked() {
    let app = TestApp::spawn().await;
    let ts_cursor = "0005e22ca2c8f6000000000000000001";
    let stored_cursor = "s00000000000000010000000000000001";
    for (query, field) in [
        ("order=newest", "order"),
        (
            &format!("order=stored&cursor={ts_cursor}") as &str,
            "cursor",
        ),
        (&format!("cursor={stored_cursor}"), "cursor"),
        ("order=stored&cursor=s123", "cursor"),
        ("order=stored&limit=0", "limit"),
        ("order=stored&order=timestamp", "order"),
    ] {
        app.assert_rejects_param(&format!("/events?{query}"), field)
            .await;
    }
    // The default order is unchanged: no link when nothing more matches.
    let r = app.client.get(app.url("/events")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().get("link").is_none());
    let r = app
        .client
        .get(app.url("/events?order=timestamp"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let doc: Value = app.get_json("/api-docs/data-provider.json").await;
    let params = doc["paths"]["/events"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let order = params.iter().find(|p| p["name"] == "order").unwrap();
    assert!(order["description"].as_str().unwrap().contains("stored"));
    // No example: Swagger UI's Try it out would send it with every other filter.
    assert!(order["example"].is_null());
    assert_eq!(order["schema"]["enum"], json!(["timestamp", "stored"]));
}
