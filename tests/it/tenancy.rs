//! One hotel's key sees only that hotel through every door, and no tenant starves the others:
//! the 409 of a taken id, every route of both OpenAPI documents walked with each kind of key,
//! the filtered change feed's bounded walk and its wake-ups, and the allowance kept for the
//! process's own sync.

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::StatusCode;
use roompulse::auth::Scope;
use roompulse::config::SyncMode;
use roompulse::data_provider::feed::FILTERED_WINDOW;
use serde_json::{json, Value};

use crate::common::wait::eventually;
use crate::helpers::{next_cursor, TestApp};
use crate::keys::{create, until_accepted};

const GUARD: Duration = Duration::from_secs(60);

/// Hotel A's, the caller's. Hotel B's number is one that no date, count or cursor of these
/// tests contains, so that finding it in a body means B was shown.
const A: i32 = 2607;
const B: i32 = 60013;
const A_RESERVATION: &str = "aaaaaaaa-0158-4d5c-8698-aebe00cba360";
const B_RESERVATION: &str = "bbbbbbbb-9e1f-4c1a-b5d2-7c3e0f4a9d17";
/// B's events that carry their own ids.
const B_IDS: [i64; 3] = [880_000_001, 880_000_002, 880_000_003];

fn event(id: Option<i64>, hotel: i32, reservation: &str, night: &str, status: i16) -> Value {
    let mut e = json!({
        "hotel_id": hotel,
        "event_timestamp": "2022-06-24T13:00:56Z",
        "status": status,
        "room_reservation_id": reservation,
        "night_of_stay": night,
    });
    if let Some(id) = id {
        e["id"] = json!(id);
    }
    e
}

async fn post(app: &TestApp, body: &Value, key: &str) -> (StatusCode, String) {
    let r = crate::keys::post(app, body, Some(&format!("Bearer {key}"))).await;
    let status = r.status();
    (status, r.text().await.expect("body"))
}

/// The stored events of A and B (B's with their own ids and one the service assigned), posted
/// with an all-hotel key; the ids of B's events.
async fn store_both_hotels(app: &TestApp, admin: &str) -> Vec<i64> {
    let mut b_ids = B_IDS.to_vec();
    for (i, id) in B_IDS.iter().enumerate() {
        let night = format!("2022-06-{}", 26 + i);
        let (status, _) = post(app, &event(Some(*id), B, B_RESERVATION, &night, 1), admin).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let (status, body) = post(app, &event(None, B, B_RESERVATION, "2022-06-26", 2), admin).await;
    assert_eq!(status, StatusCode::CREATED);
    let assigned: Value = serde_json::from_str(&body).expect("JSON");
    b_ids.push(assigned["id"].as_i64().expect("an assigned id"));
    for (id, night) in [(Some(770_000_001), "2022-06-26"), (None, "2022-06-27")] {
        let (status, _) = post(app, &event(id, A, A_RESERVATION, night, 1), admin).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    b_ids
}

/// What of B's a text must never contain when the caller is A's: B's reservation, B's event
/// ids (in decimal and as a cursor writes them), B's hotel number.
fn b_secrets(b_ids: &[i64]) -> Vec<String> {
    let mut s = vec![B_RESERVATION.to_string(), B.to_string()];
    for id in b_ids {
        s.push(id.to_string());
        s.push(format!("{:016x}", *id as u64));
    }
    s
}

fn assert_shows_nothing_of_b(what: &str, text: &str, secrets: &[String]) {
    for s in secrets {
        assert!(
            !text.contains(s.as_str()),
            "{what} shows {s} of hotel B: {text}"
        );
    }
}

#[tokio::test]
async fn a_taken_id_tells_a_caller_nothing_of_another_hotels_event() {
    let app = TestApp::spawn().await;
    let admin = create(&app, "admin", &[Scope::Read, Scope::Ingest], None).await;
    let writer = create(&app, "a-writer", &[Scope::Ingest], Some(&[A])).await;
    let both = create(&app, "a-both", &[Scope::Read, Scope::Ingest], Some(&[A])).await;
    until_accepted(&app, &admin).await;
    let b_ids = store_both_hotels(&app, &admin).await;
    let secrets = b_secrets(&b_ids);

    for key in [&writer, &both] {
        for id in &b_ids {
            // A's own event under an id B's event holds (one B chose, one the service gave).
            let (status, body) = post(
                &app,
                &event(Some(*id), A, A_RESERVATION, "2022-07-01", 1),
                key,
            )
            .await;
            assert_eq!(status, StatusCode::CONFLICT, "{body}");
            let err: Value = serde_json::from_str(&body).expect("JSON");
            assert_eq!(err["field"], "id", "{body}");
            assert!(err.get("stored").is_none(), "{body}");
            assert_shows_nothing_of_b("the 409", &body, &secrets);
        }
    }
    // A caller that may read the event under the id still sees it: a replay with a typo is
    // worth diagnosing.
    let (status, _) = post(
        &app,
        &event(Some(770_000_009), A, A_RESERVATION, "2022-07-02", 1),
        &both,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = post(
        &app,
        &event(Some(770_000_009), A, A_RESERVATION, "2022-07-03", 1),
        &both,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let err: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(err["stored"]["night_of_stay"], "2022-07-02", "{body}");
    // A key that may only write does not, even for its own hotel.
    let (status, body) = post(
        &app,
        &event(Some(770_000_009), A, A_RESERVATION, "2022-07-03", 1),
        &writer,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(!body.contains("2022-07-02"), "{body}");
}

/// The value a route's parameter gets in the walk; `None` for a parameter left out.
fn fill(name: &str, hotel: Option<i32>) -> Option<String> {
    Some(match name {
        "hotel_id" => return hotel.map(|h| h.to_string()),
        "period" => "month".into(),
        "year" => "2022".into(),
        "as_of" => "2022-06-24".into(),
        "night" => "2022-06-26".into(),
        "from" => "2022-06-01".into(),
        "to" => "2022-06-30".into(),
        "days" | "nights" | "pickup" | "limit" => return None,
        other => panic!(
            "the walk does not know the parameter `{other}`: give it a value here, so that the new door is walked too"
        ),
    })
}

/// The requests of one route for one hotel choice: its required parameters and `hotel_id`
/// filled (a variant per `order` for the listing); with the hotel the request names.
fn requests(path: &str, op: &Value, hotel: Option<i32>) -> (Vec<String>, Option<i32>) {
    let mut query = Vec::new();
    let mut named = None;
    for p in op["parameters"].as_array().into_iter().flatten() {
        let name = p["name"].as_str().expect("a parameter name");
        if p["in"] != "query" {
            continue;
        }
        if name == "hotel_id" || p["required"] == true {
            if let Some(v) = fill(name, hotel) {
                query.push(format!("{name}={v}"));
                if name == "hotel_id" {
                    named = hotel;
                }
            }
        }
    }
    let base = format!("{path}?{}", query.join("&"));
    let urls = if path == "/events" {
        vec![base.clone(), format!("{base}&order=stored")]
    } else {
        vec![base]
    };
    (urls, named)
}

/// Sends `request` and checks what comes back (headers and body).
async fn walk_one(
    what: String,
    request: reqwest::RequestBuilder,
    named: Option<i32>,
    secrets: &[String],
    secrets_but_the_number: &[String],
) {
    let r = request.send().await.expect("request");
    let status = r.status();
    let headers = format!("{:?}", r.headers());
    let body = r.text().await.expect("body");
    check(
        &what,
        status,
        named,
        &format!("{headers}\n{body}"),
        secrets,
        secrets_but_the_number,
    );
}

#[tokio::test]
async fn every_door_shows_a_hotels_key_nothing_of_another_hotel() {
    let app = TestApp::spawn().await;
    let admin = create(&app, "admin", &[Scope::Read, Scope::Ingest], None).await;
    let keys = [
        create(&app, "a-read", &[Scope::Read], Some(&[A])).await,
        create(&app, "a-ingest", &[Scope::Ingest], Some(&[A])).await,
        create(&app, "a-both", &[Scope::Read, Scope::Ingest], Some(&[A])).await,
    ];
    until_accepted(&app, &admin).await;
    let b_ids = store_both_hotels(&app, &admin).await;
    let _sync = app.start_sync(SyncMode::Follow).await;
    eventually("the dashboard counted every event", GUARD, || async {
        app.events_synced().await == b_ids.len() as i64 + 2
    })
    .await;
    let secrets = b_secrets(&b_ids);
    // B's number is said back to a caller that named it (the 403 names the hotel refused).
    let but_the_number: Vec<String> = secrets
        .iter()
        .filter(|s| **s != B.to_string())
        .cloned()
        .collect();

    let mut walked = BTreeSet::new();
    for doc in ["/api-docs/data-provider.json", "/api-docs/dashboard.json"] {
        let doc: Value = app.get_json(doc).await;
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("operations") {
                for hotel in [None, Some(A), Some(B)] {
                    for key in &keys {
                        let auth = format!("Bearer {key}");
                        match method.as_str() {
                            "get" => {
                                let (urls, named) = requests(path, op, hotel);
                                for url in urls {
                                    let request = app
                                        .client
                                        .get(app.url(&url))
                                        .header("authorization", &auth);
                                    walk_one(
                                        format!("GET {url}"),
                                        request,
                                        named,
                                        &secrets,
                                        &but_the_number,
                                    )
                                    .await;
                                }
                            }
                            "post" => {
                                // The named hotel's event (A's without one) under each of B's ids.
                                for id in &b_ids {
                                    let target = hotel.unwrap_or(A);
                                    let body =
                                        event(Some(*id), target, A_RESERVATION, "2022-07-01", 1);
                                    let request = app
                                        .client
                                        .post(app.url(path))
                                        .header("authorization", &auth)
                                        .json(&body);
                                    let what = format!("POST {path} id {id} hotel {target}");
                                    walk_one(what, request, hotel, &secrets, &but_the_number).await;
                                }
                            }
                            other => panic!("the walk does not know the method {other} of {path}"),
                        }
                    }
                }
                walked.insert(format!("{method} {path}"));
            }
        }
    }
    // The chart page is not in the documents: its views, walked the same way.
    for hotel in [None, Some(A), Some(B)] {
        for key in &keys {
            let h = hotel.map(|h| format!("hotel_id={h}&")).unwrap_or_default();
            for url in [
                format!("/?{h}year=2022"),
                format!("/?{h}view=pace&as_of=2022-06-24"),
                format!("/?{h}view=pace&as_of=2022-06-24&night=2022-06-26"),
            ] {
                let request = app
                    .client
                    .get(app.url(&url))
                    .header("authorization", format!("Bearer {key}"));
                walk_one(
                    format!("GET {url}"),
                    request,
                    hotel,
                    &secrets,
                    &but_the_number,
                )
                .await;
            }
        }
    }
    for door in [
        "get /events",
        "post /events",
        "get /dashboard",
        "get /dashboard/pace",
    ] {
        assert!(walked.contains(door), "the walk missed {door}: {walked:?}");
    }
}

/// A response to A's key: nothing of B, and no success for a request naming B.
fn check(
    what: &str,
    status: StatusCode,
    hotel: Option<i32>,
    text: &str,
    secrets: &[String],
    secrets_but_the_number: &[String],
) {
    assert!(!status.is_server_error(), "{what}: {status} {text}");
    if hotel == Some(B) {
        assert!(
            !status.is_success(),
            "{what} answered {status} for hotel B: {text}"
        );
        assert_shows_nothing_of_b(what, text, secrets_but_the_number);
    } else {
        assert_shows_nothing_of_b(what, text, secrets);
    }
}

/// The events the unfiltered feed shows now, page after page.
async fn feed_count(app: &TestApp) -> i64 {
    let mut cursor = "s00000000000000000000000000000000".to_string();
    let mut n = 0;
    loop {
        let r = app
            .client
            .get(app.url(&format!("/events?order=stored&limit=10000&cursor={cursor}")))
            .send()
            .await
            .expect("GET");
        cursor = next_cursor(&r);
        let page: Vec<Value> = r.json().await.expect("JSON");
        if page.is_empty() {
            return n;
        }
        n += page.len() as i64;
    }
}

/// Runs `sql` on the app's events database, outside the service (as a script would).
async fn events_sql(app: &TestApp, sql: &str) {
    let (client, conn) = tokio_postgres::connect(&app.events_db_url(), tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    client.batch_execute(sql).await.expect("SQL");
}

/// `n` events of `hotel` with `status` inserted in one transaction, ids from `first`.
async fn insert_events(app: &TestApp, hotel: i32, first: i64, n: i64, status: i16) {
    events_sql(
        app,
        &format!(
            "INSERT INTO events (id, hotel_id, event_timestamp, status, room_reservation_id, night_of_stay) \
             SELECT i, {hotel}, '2022-06-24T13:00:56Z', {status}, '{B_RESERVATION}', '2022-06-26' \
               FROM generate_series({first}::bigint, {}::bigint) AS i",
            first + n - 1
        ),
    )
    .await;
}

#[tokio::test]
async fn a_filtered_feed_walks_a_bounded_window_and_moves_past_it_without_naming_an_event() {
    let app = TestApp::spawn().await;
    // More of B's bookings than one look walks, in three transactions, then one cancellation
    // of A's and one booking of A's.
    let per_tx = FILTERED_WINDOW * 2 / 5;
    for t in 0..3 {
        insert_events(&app, B, 1_000_000 + t * per_tx, per_tx, 1).await;
    }
    insert_events(&app, A, 5_000_000, 1, 2).await;
    insert_events(&app, A, 5_000_001, 1, 1).await;
    let stored = 3 * per_tx + 2;
    eventually("the feed shows every event", GUARD, || async {
        feed_count(&app).await == stored
    })
    .await;
    let get = |query: String| {
        let (client, url) = (app.client.clone(), app.url(&query));
        async move {
            let r = client.get(url).send().await.expect("GET");
            assert_eq!(r.status(), StatusCode::OK);
            let cursor = next_cursor(&r);
            (r.json::<Vec<Value>>().await.expect("JSON"), cursor)
        }
    };

    // A filter that only the rows can answer walks one window, and moves past it to the end
    // of a whole transaction: the cursor names no event.
    let (first, cursor) = get("/events?order=stored&rpg_status=2".into()).await;
    assert!(
        first.is_empty(),
        "one look walked past its window: {first:?}"
    );
    assert!(cursor.ends_with("7fffffffffffffff"), "{cursor}");
    let (second, _) = get(format!("/events?order=stored&rpg_status=2&cursor={cursor}")).await;
    assert_eq!(second.len(), 1, "{second:?}");
    assert_eq!(second[0]["id"], 5_000_000);

    // A hotel with few events is read on its own index: its events at once, then the end of
    // the feed, the cursor past everything stored and naming no event.
    let (mine, c1) = get(format!("/events?order=stored&hotel_id={A}")).await;
    let ids: Vec<&Value> = mine.iter().map(|e| &e["id"]).collect();
    assert_eq!(ids, [5_000_000, 5_000_001]);
    assert!(c1.ends_with("7fffffffffffffff"), "{c1}");
    let (none, c2) = get(format!("/events?order=stored&hotel_id={A}&cursor={c1}")).await;
    assert!(none.is_empty());
    // At the end the cursor names no event and never goes back; it may move on, since the
    // feed's horizon is the server's oldest running transaction, which other databases' work
    // moves.
    assert!(c2.ends_with("7fffffffffffffff"), "{c2}");
    assert!(c2 >= c1, "{c2} is behind {c1}");

    // A hotel with no events: one empty page, already at the end.
    let (empty, c3) = get("/events?order=stored&hotel_id=4242".into()).await;
    assert!(empty.is_empty());
    assert!(c3.ends_with("7fffffffffffffff"), "{c3}");
    assert!(c3 >= c1, "{c3} is behind {c1}");
}

#[tokio::test]
async fn a_held_request_looks_again_only_when_its_hotels_events_come() {
    let app = TestApp::spawn().await;
    // The head reader starts with the first long poll and wakes every held request once.
    let r = app
        .client
        .get(app.url("/events?order=stored&wait=1"))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), StatusCode::OK);
    eventually("the head reader follows the feed", GUARD, || async {
        app.feed_following_head()
    })
    .await;
    let before = app.feed_relooks();

    let held = |hotel: i32, wait: u64| {
        let (client, url) = (
            app.client.clone(),
            app.url(&format!(
                "/events?order=stored&hotel_id={hotel}&wait={wait}"
            )),
        );
        tokio::spawn(async move { client.get(url).send().await.expect("GET with wait") })
    };
    let quiet = held(4242, 3);
    let busy = held(A, 25);
    eventually("both requests are held", GUARD, || async {
        app.feed_requests_held() == 2
    })
    .await;
    // Others' events: the quiet hotel's request must not look for them.
    insert_events(&app, B, 1, 50, 1).await;
    insert_events(&app, A, 100, 1, 1).await;
    let r = busy.await.expect("join");
    let got: Vec<Value> = r.json().await.expect("JSON");
    assert_eq!(got.len(), 1);
    let r = quiet.await.expect("join");
    assert!(r.json::<Vec<Value>>().await.expect("JSON").is_empty());
    // The busy request looked again once (B's rows do not concern it), the quiet one never:
    // its wait ran out on the answer of its first look.
    assert_eq!(app.feed_relooks() - before, 1);
}

#[tokio::test]
async fn the_own_sync_and_other_requests_keep_their_share_while_long_polls_fill_theirs() {
    // One long poll may be held (half of 2); other requests and the process's own sync have
    // allowances of their own.
    let app = TestApp::spawn_configured(0, |c| c.limits.max_concurrent_requests = 2).await;
    let filler = {
        let (client, url) = (
            app.client.clone(),
            app.url("/events?order=stored&hotel_id=4242&wait=30"),
        );
        tokio::spawn(async move { client.get(url).send().await.expect("GET with wait") })
    };
    eventually("the long poll is held", GUARD, || async {
        app.feed_requests_held() == 1
    })
    .await;
    let r = app
        .client
        .get(app.url("/events?order=stored&wait=30"))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.headers()["retry-after"], "1");

    let _sync = app.start_sync(SyncMode::Follow).await;
    eventually("the follower holds its own long poll", GUARD, || async {
        app.feed_requests_held() == 2
    })
    .await;
    let r = app
        .client
        .post(app.url("/events"))
        .json(&event(Some(42), A, A_RESERVATION, "2022-06-26", 1))
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::CREATED);
    eventually("the follower counted it", GUARD, || async {
        app.events_synced().await == 1
    })
    .await;
    drop(filler);
}
