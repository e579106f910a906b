//! The dashboard within a second of an event: the change feed's long poll (`wait`), the
//! follower that reads through it, and answer caches that never outlive a committed page.

use std::time::{Duration, Instant};

use chrono::Utc;
use reqwest::StatusCode;
use roompulse::config::SyncMode;
use roompulse::data_provider::feed_wait::CHANNEL;
use roompulse::db::listen::Listener;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::common::fixtures::{event_json, RESERVATION};
use crate::common::wait::eventually;
use crate::helpers::{next_cursor, TestApp};

const GUARD: Duration = Duration::from_secs(60);

/// The feed's cursor after the `stored` events stored so far, once the feed shows them all (a
/// commit is held back while an older transaction on the server runs).
async fn cursor_after(app: &TestApp, stored: usize) -> String {
    let cursor = std::sync::Mutex::new(String::new());
    eventually("the feed shows every stored event", GUARD, || {
        let cursor = &cursor;
        async move {
            let r = app
                .client
                .get(app.url("/events?order=stored&limit=10000"))
                .send()
                .await
                .expect("GET /events");
            assert_eq!(r.status(), StatusCode::OK);
            *cursor.lock().expect("lock") = next_cursor(&r);
            r.json::<Vec<Value>>().await.expect("JSON").len() == stored
        }
    })
    .await;
    cursor.into_inner().expect("lock")
}

/// Inserts one event the way a script would: a connection of its own, plain SQL, no service.
/// A feed request after `cursor` with `wait=30`, sent in a task, once the service holds it.
async fn held_feed_request(
    app: &TestApp,
    cursor: &str,
) -> tokio::task::JoinHandle<reqwest::Response> {
    let held = tokio::spawn({
        let (client, url) = (
            app.client.clone(),
            app.url(&format!("/events?order=stored&cursor={cursor}&wait=30")),
        );
        async move { client.get(url).send().await.expect("GET with wait") }
    });
    eventually("the request is held", GUARD, || async {
        app.feed_requests_held() == 1
    })
    .await;
    held
}

async fn insert_elsewhere(app: &TestApp, id: i64, hotel: i32) {
    let sql = app.events_db_client().await;
    sql.execute(
        "INSERT INTO events (id, hotel_id, event_timestamp, status, room_reservation_id, night_of_stay) \
         VALUES ($1, $2, now(), 1, $3::text::uuid, current_date)",
        &[&id, &hotel, &RESERVATION],
    )
    .await
    .expect("insert an event from another connection");
}

/// Today's event for `hotel`, in the API's field names.
fn event_now(id: i64, hotel: i32) -> Value {
    let now = Utc::now();
    event_json(
        id,
        hotel,
        &now.to_rfc3339(),
        1,
        &now.date_naive().to_string(),
    )
}

#[tokio::test]
async fn an_insert_by_any_writer_is_heard_by_the_listener() {
    let app = TestApp::spawn().await;
    let stop = CancellationToken::new();
    let url = app.events_db_url();
    let listener = Listener::start(&url, CHANNEL, stop.clone());
    eventually("the listener is connected", GUARD, || async {
        listener.now().connected
    })
    .await;
    let before = listener.now().generation;
    insert_elsewhere(&app, 7, 3).await;
    eventually("the insert's commit is heard", GUARD, || async {
        listener.now().generation > before
    })
    .await;
    stop.cancel();
}

#[tokio::test]
async fn a_held_page_answers_with_a_commit_from_another_connection() {
    let app = TestApp::spawn().await;
    let cursor = cursor_after(&app, 0).await;
    let held = held_feed_request(&app, &cursor).await;
    insert_elsewhere(&app, 11, 4).await;
    let r = held.await.expect("join");
    assert_eq!(r.status(), StatusCode::OK);
    let after = next_cursor(&r);
    let events: Vec<Value> = r.json().await.expect("JSON");
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["id"], 11);
    assert_ne!(after, cursor, "the next link moves past the event");
    assert_eq!(app.feed_requests_held(), 0);
}

/// `/metrics` reports how many long polls this process holds.
#[tokio::test]
async fn metrics_count_the_held_long_polls() {
    let app = TestApp::spawn().await;
    let held_gauge = || async {
        let body = app
            .client
            .get(app.url("/metrics"))
            .send()
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("body");
        body.lines()
            .find_map(|l| l.strip_prefix("roompulse_feed_waits_held "))
            .map(str::to_string)
    };
    assert_eq!(held_gauge().await.as_deref(), Some("0"));
    let cursor = cursor_after(&app, 0).await;
    let held = held_feed_request(&app, &cursor).await;
    assert_eq!(held_gauge().await.as_deref(), Some("1"));
    insert_elsewhere(&app, 12, 4).await;
    assert_eq!(held.await.expect("join").status(), StatusCode::OK);
    assert_eq!(held_gauge().await.as_deref(), Some("0"));
}

#[tokio::test]
async fn an_empty_page_is_answered_when_the_wait_runs_out() {
    let app = TestApp::spawn().await;
    app.post_new(&event_now(1, 2)).await;
    let cursor = cursor_after(&app, 1).await;
    let asked = Instant::now();
    let r = app
        .client
        .get(app.url(&format!("/events?order=stored&cursor={cursor}&wait=1")))
        .send()
        .await
        .expect("GET with wait");
    // A lower bound only: nothing can end the wait early here.
    assert!(
        asked.elapsed() >= Duration::from_secs(1),
        "held for the wait: {:?}",
        asked.elapsed()
    );
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(next_cursor(&r), cursor, "the empty page links to itself");
    let events: Vec<Value> = r.json().await.expect("JSON");
    assert!(events.is_empty());
    // With events there, the page is answered at once, as without `wait`.
    let r = app
        .client
        .get(app.url("/events?order=stored&wait=30"))
        .send()
        .await
        .expect("GET with wait");
    let events: Vec<Value> = r.json().await.expect("JSON");
    assert_eq!(events.len(), 1);
}

#[tokio::test]
async fn a_bad_wait_is_refused_naming_it() {
    let app = TestApp::spawn().await;
    for query in [
        "order=stored&wait=0",
        "order=stored&wait=31",
        "order=stored&wait=1.5",
        "order=stored&wait=soon",
        "order=stored&wait=-1",
        "wait=5",
        "order=timestamp&wait=5",
    ] {
        app.assert_rejects_param(&format!("/events?{query}"), "wait")
            .await;
    }
}

#[tokio::test]
async fn long_polls_past_the_bound_are_turned_away() {
    // Half of MAX_CONCURRENT_REQUESTS may be held: one here.
    let app = TestApp::spawn_configured(0, |c| c.max_concurrent_requests = 2).await;
    let cursor = cursor_after(&app, 0).await;
    let held = held_feed_request(&app, &cursor).await;
    let url = app.url(&format!("/events?order=stored&cursor={cursor}&wait=30"));
    let r = app.client.get(&url).send().await.expect("GET with wait");
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let err: Value = r.json().await.expect("JSON error");
    assert!(
        err["error"].as_str().unwrap_or("").contains("`wait`"),
        "{err}"
    );
    app.post_new(&event_now(5, 1)).await;
    let r = held.await.expect("join");
    assert_eq!(r.json::<Vec<Value>>().await.expect("JSON").len(), 1);
}

#[tokio::test]
async fn shutting_down_answers_held_requests_at_once() {
    let app = TestApp::spawn().await;
    let cursor = cursor_after(&app, 0).await;
    let held = held_feed_request(&app, &cursor).await;
    let stopped = tokio::spawn(app.stop());
    // A deadlock guard well under the 29 s the request would otherwise be held.
    let r = tokio::time::timeout(Duration::from_secs(20), held)
        .await
        .expect("the held request was answered before its wait ran out")
        .expect("join");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.json::<Vec<Value>>().await.expect("JSON").is_empty());
    stopped.await.expect("the server stopped");
}

#[tokio::test]
async fn the_follower_counts_an_event_posted_while_it_waits() {
    let app = TestApp::spawn().await;
    app.post_new(&event_now(1, 8)).await;
    let sync = app.start_sync(SyncMode::Follow).await;
    eventually("the follower counted the first event", GUARD, || async {
        app.events_synced().await == 1
    })
    .await;
    eventually("the follower waits on the feed", GUARD, || async {
        app.feed_requests_held() == 1
    })
    .await;
    app.post_new(&event_now(2, 8)).await;
    // Only the follower can count it: in follow mode the schedule runs no passes.
    eventually("the follower counted the event", GUARD, || async {
        app.events_synced().await == 2
    })
    .await;
    assert!(sync.following().await);
    sync.stop().await;
}

#[tokio::test]
async fn a_follower_killed_mid_wait_is_restarted_and_nothing_is_lost_or_doubled() {
    let app = TestApp::spawn().await;
    let sync = app.start_sync(SyncMode::Follow).await;
    let mut posted = 0;
    for round in 0..3 {
        eventually("the follower waits on the feed", GUARD, || async {
            app.feed_requests_held() >= 1 && sync.following().await
        })
        .await;
        sync.kill_follower().await;
        eventually("the follower is gone", GUARD, || async {
            !sync.following().await
        })
        .await;
        // Stored while no follower runs.
        for i in 0..5 {
            posted += 1;
            app.post_new(&event_now(100 * round + i + 1, 9)).await;
        }
        eventually("a new follower counted every event", GUARD, || async {
            let n = app.events_synced().await;
            assert!(n <= posted, "counted twice: {n} of {posted}");
            n == posted
        })
        .await;
    }
    let rows: Vec<Value> = app
        .get_json(&format!(
            "/dashboard?hotel_id=9&period=day&year={}&month={}&day={}",
            Utc::now().format("%Y"),
            Utc::now().format("%-m"),
            Utc::now().format("%-d"),
        ))
        .await;
    assert_eq!(rows[0]["bookings"], posted);
    sync.stop().await;
}

/// Today's bookings of GET /dashboard's first row and the pace's on the books.
async fn booked(app: &TestApp, dashboard: &str, pace: &str) -> (Option<i64>, Option<i64>) {
    let d: Vec<Value> = app.get_json(dashboard).await;
    let p: Vec<Value> = app.get_json(pace).await;
    (d[0]["bookings"].as_i64(), p[0]["on_the_books"].as_i64())
}

#[tokio::test]
async fn a_committed_page_shows_at_once_despite_a_long_answer_cache() {
    // A minute of caching: without invalidation the figures below would stay stale that long.
    let app = TestApp::spawn_configured(0, |c| c.dashboard_cache_ms = 60_000).await;
    let today = Utc::now().date_naive();
    let dashboard = format!(
        "/dashboard?hotel_id=6&period=day&year={}&month={}&day={}",
        today.format("%Y"),
        today.format("%-m"),
        today.format("%-d")
    );
    let pace = format!("/dashboard/pace?hotel_id=6&from={today}&to={today}&as_of={today}");
    assert_eq!(booked(&app, &dashboard, &pace).await, (Some(0), Some(0)));
    assert!(
        app.dashboard_cache().held().0 > 0,
        "the answers were cached"
    );
    assert!(app.pace_cache().held().0 > 0, "the answers were cached");
    // Repeated questions between commits are answered from the cache.
    assert_eq!(booked(&app, &dashboard, &pace).await, (Some(0), Some(0)));

    app.post_new(&event_now(1, 6)).await;
    // The pass commits from a pool of its own, as another process's sync would.
    app.synced(1, 1000).await;
    // Well under the cache's minute: the commit's notification ends the cached answers.
    let limit = Duration::from_secs(20);
    eventually("both answers show the committed page", limit, || async {
        booked(&app, &dashboard, &pace).await == (Some(1), Some(1))
    })
    .await;
}
