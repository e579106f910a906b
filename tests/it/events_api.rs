use chrono::{DateTime, Duration, NaiveDate, Utc};
use reqwest::StatusCode;
use roompulse::data_provider::event::{Event, ASSIGNED_ID_FLOOR};
use roompulse::data_provider::store;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::common::fixtures::{booking, event_json, RESERVATION};
use crate::helpers::{serve_router, TestApp};

/// An event with its id left for the service to assign when `None`, and its reservation in
/// capitals (which the service stores in lower case).
fn body(id: Option<i64>, hotel: i32, ts: &str, status: i16, night: &str) -> Value {
    let mut v = event_json(id.unwrap_or_default(), hotel, ts, status, night);
    v["room_reservation_id"] = json!(RESERVATION.to_uppercase());
    if id.is_none() {
        v.as_object_mut().expect("an object").remove("id");
    }
    v
}

#[tokio::test]
async fn a_posted_event_is_stored_once_and_listed() {
    let app = TestApp::spawn().await;
    let sent = body(Some(19291943), 2607, "2022-06-24 13:00:56", 1, "2022-06-26");
    let r = app
        .client
        .post(app.url("/events"))
        .json(&sent)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let created: Value = r.json().await.unwrap();
    assert_eq!(created, booking(19291943, 2607));

    // The same event again (with a trailing slash, and the original system's names) changes nothing.
    let again = json!({"id": "19291943", "hotel_id": "2607", "timestamp": "2022-06-24T15:00:56+02:00",
                       "rpg_status": "1", "room_id": RESERVATION, "night_of_stay": "2022-06-26"});
    let r = app
        .client
        .post(app.url("/events/"))
        .json(&again)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap(), created);

    // A different event under the same id is refused and the stored one kept.
    let other = body(Some(19291943), 2607, "2022-06-24 13:00:56", 2, "2022-06-26");
    let r = app
        .client
        .post(app.url("/events"))
        .json(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let err: Value = r.json().await.unwrap();
    assert_eq!(err["field"], "id");
    assert_eq!(err["stored"], created);

    let listed: Value = app.get_json("/events/").await;
    assert_eq!(listed, json!([created]));
    assert_eq!(app.stored_count().await, 1);
}

#[tokio::test]
async fn ids_the_service_assigns_cannot_collide_with_hotel_ids() {
    let app = TestApp::spawn().await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let r = app
            .client
            .post(app.url("/events"))
            .json(&body(None, 1, "2022-06-24T13:00:56Z", 1, "2022-06-26"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        ids.push(r.json::<Value>().await.unwrap()["id"].as_i64().unwrap());
    }
    assert!(ids.iter().all(|&id| id >= ASSIGNED_ID_FLOOR), "{ids:?}");
    assert_ne!(ids[0], ids[1]);

    // Replaying an assigned id with the same content is idempotent…
    let r = app
        .client
        .post(app.url("/events"))
        .json(&body(
            Some(ids[0]),
            1,
            "2022-06-24T13:00:56Z",
            1,
            "2022-06-26",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // …but an id in the service's range that it never assigned is refused, naming the field.
    let r = app
        .client
        .post(app.url("/events"))
        .json(&body(
            Some(ids[1] + 1000),
            1,
            "2022-06-24T13:00:56Z",
            1,
            "2022-06-26",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json::<Value>().await.unwrap()["field"], "id");
    assert_eq!(app.stored_count().await, 2);
}

/// A varied set: 4 hotels, shared timestamps, both statuses, nights spread over months.
fn fixture() -> Vec<Event> {
    let base = DateTime::parse_from_rfc3339("2022-03-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let night0 = NaiveDate::from_ymd_opt(2022, 3, 1).unwrap();
    let reservations: Vec<Uuid> = (0..7u128).map(|i| Uuid::from_u128(0xabc0 + i)).collect();
    (0..240i64)
        .map(|i| Event {
            id: 1000 + (i * 7919) % 240, // ids not in timestamp order
            hotel_id: 1 + (i % 4) as i32,
            event_timestamp: base + Duration::hours(i / 5), // five events share each timestamp
            status: if i % 6 == 0 { 2 } else { 1 },
            room_reservation_id: reservations[(i % 7) as usize],
            night_of_stay: night0 + Duration::days(i % 90),
        })
        .collect()
}

async fn seed(app: &TestApp, events: &[Event]) {
    let mut conn = store::connection(app.events_db()).await.unwrap();
    let inserted = store::insert_batch(&mut conn, events).await.unwrap();
    assert!(inserted.conflicts.is_empty());
}

fn sorted(mut events: Vec<Event>) -> Vec<Event> {
    events.sort_by_key(|e| (e.event_timestamp, e.id));
    events
}

async fn get_all(app: &TestApp, query: &str) -> Vec<Value> {
    let r = app
        .client
        .get(app.url(&format!("/events?limit=10000&{query}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{query}");
    assert!(r.headers().get("link").is_none());
    r.json().await.unwrap()
}

#[tokio::test]
async fn every_filter_and_alias_selects_exactly_the_matching_events() {
    let app = TestApp::spawn().await;
    let events = fixture();
    seed(&app, &events).await;
    let ts = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
    let date = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    let rid = Uuid::from_u128(0xabc3);
    type Pred = Box<dyn Fn(&Event) -> bool>;
    let cases: Vec<(&str, Pred)> = vec![
        ("hotel_id=2", Box::new(|e| e.hotel_id == 2)),
        ("updated__gte=2022-03-02T00:00:00Z", Box::new(move |e| e.event_timestamp >= ts("2022-03-02T00:00:00Z"))),
        ("updated_gte=2022-03-02%2000:00:00", Box::new(move |e| e.event_timestamp >= ts("2022-03-02T00:00:00Z"))),
        ("updated__gt=2022-03-02T00:00:00Z", Box::new(move |e| e.event_timestamp > ts("2022-03-02T00:00:00Z"))),
        ("updated_gt=2022-03-02T01:00:00%2B01:00", Box::new(move |e| e.event_timestamp > ts("2022-03-02T00:00:00Z"))),
        ("updated__lte=2022-03-02T00:00:00Z", Box::new(move |e| e.event_timestamp <= ts("2022-03-02T00:00:00Z"))),
        ("updated_lte=2022-03-02T00:00:00Z", Box::new(move |e| e.event_timestamp <= ts("2022-03-02T00:00:00Z"))),
        ("updated__lt=2022-03-02T00:00:00Z", Box::new(move |e| e.event_timestamp < ts("2022-03-02T00:00:00Z"))),
        ("updated_lt=2022-03-02T00:00:00Z", Box::new(move |e| e.event_timestamp < ts("2022-03-02T00:00:00Z"))),
        ("rpg_status=2", Box::new(|e| e.status == 2)),
        ("status=1", Box::new(|e| e.status == 1)),
        ("room_id=00000000-0000-0000-0000-00000000abc3", Box::new(move |e| e.room_reservation_id == rid)),
        ("room_reservation_id=00000000-0000-0000-0000-00000000ABC3", Box::new(move |e| e.room_reservation_id == rid)),
        ("night_of_stay__gte=2022-05-01", Box::new(move |e| e.night_of_stay >= date("2022-05-01"))),
        ("night_of_stay_gte=2022-05-01", Box::new(move |e| e.night_of_stay >= date("2022-05-01"))),
        ("night_of_stay__lte=2022-03-10", Box::new(move |e| e.night_of_stay <= date("2022-03-10"))),
        ("night_of_stay_lte=2022-03-10", Box::new(move |e| e.night_of_stay <= date("2022-03-10"))),
        (
            "hotel_id=3&rpg_status=1&updated__gte=2022-03-01T10:00:00Z&updated__lt=2022-03-03T00:00:00Z&night_of_stay__lte=2022-04-15",
            Box::new(move |e| {
                e.hotel_id == 3
                    && e.status == 1
                    && e.event_timestamp >= ts("2022-03-01T10:00:00Z")
                    && e.event_timestamp < ts("2022-03-03T00:00:00Z")
                    && e.night_of_stay <= date("2022-04-15")
            }),
        ),
        ("unknown_parameter=1&hotel_id=", Box::new(|_| true)),
    ];
    for (query, pred) in cases {
        let expected: Vec<Value> = sorted(events.iter().filter(|e| pred(e)).cloned().collect())
            .iter()
            .map(|e| serde_json::to_value(e).unwrap())
            .collect();
        assert!(
            !expected.is_empty(),
            "fixture gives {query} something to find"
        );
        assert_eq!(get_all(&app, query).await, expected, "{query}");
    }
}

#[tokio::test]
async fn pages_follow_link_headers_without_gap_or_repeat() {
    let app = TestApp::spawn().await;
    let events = fixture();
    seed(&app, &events).await;
    let from = DateTime::parse_from_rfc3339("2022-03-02T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    for (query, expected) in [
        ("limit=7", sorted(events.clone())),
        (
            "limit=1&hotel_id=4",
            sorted(events.iter().filter(|e| e.hotel_id == 4).cloned().collect()),
        ),
        (
            "limit=10&updated__gte=2022-03-02T00:00:00Z",
            sorted(
                events
                    .iter()
                    .filter(|e| e.event_timestamp >= from)
                    .cloned()
                    .collect(),
            ),
        ),
    ] {
        let mut url = app.url(&format!("/events?{query}"));
        let mut seen: Vec<i64> = Vec::new();
        let mut pages = 0;
        loop {
            let r = app.client.get(&url).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            let link = r
                .headers()
                .get("link")
                .map(|v| v.to_str().unwrap().to_string());
            let page: Vec<Value> = r.json().await.unwrap();
            pages += 1;
            seen.extend(page.iter().map(|e| e["id"].as_i64().unwrap()));
            let Some(link) = link else { break };
            assert!(!page.is_empty());
            let next = link
                .strip_prefix('<')
                .and_then(|l| l.split_once(">; rel=\"next\""))
                .unwrap()
                .0;
            url = app.url(next);
        }
        let want: Vec<i64> = expected.iter().map(|e| e.id).collect();
        assert_eq!(seen, want, "{query}");
        let limit: usize = query.split('&').next().unwrap()[6..].parse().unwrap();
        assert_eq!(pages, want.len().div_ceil(limit).max(1), "{query}");
    }
}

#[tokio::test]
async fn health_ready_docs_and_swagger_are_served() {
    let app = TestApp::spawn().await;
    for path in ["/health", "/health/", "/ready", "/ready/"] {
        let r = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
    }
    let ready: Value = app.get_json("/ready").await;
    assert_eq!(ready["checks"]["redis"], "up");
    assert_eq!(ready["checks"]["data_provider_database"], "up");

    let doc: Value = app.get_json("/api-docs/data-provider.json").await;
    assert!(
        doc["paths"]["/events"]["get"]["parameters"]
            .as_array()
            .unwrap()
            .len()
            >= 11
    );
    assert!(doc["paths"]["/events"]["post"].is_object());
    assert!(doc["components"]["schemas"]["Event"].is_object());

    let ui = app
        .client
        .get(app.url("/swagger-ui/"))
        .send()
        .await
        .unwrap();
    assert_eq!(ui.status(), StatusCode::OK);
    assert!(ui.text().await.unwrap().contains("swagger"));
    let no_follow = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = no_follow.get(app.url("/swagger/")).send().await.unwrap();
    assert!(r.status().is_redirection());
    assert_eq!(r.headers()["location"], "/swagger-ui/");
}

#[tokio::test]
async fn ready_names_what_is_down() {
    let app = TestApp::spawn().await;
    // A state whose Redis is a closed port: the same router, one dependency missing.
    let base = serve_router(
        app.router_with_queue(
            roompulse::data_provider::queue::Queue::new(
                "redis://127.0.0.1:1",
                roompulse::data_provider::queue::QueueKeys::new("x"),
                1,
            )
            .unwrap(),
        ),
    )
    .await;
    let r = app
        .client
        .get(format!("{base}/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["checks"]["redis"]
            .as_str()
            .unwrap()
            .starts_with("down"),
        "{body}"
    );
    assert_eq!(body["checks"]["data_provider_database"], "up");
    assert!(body["status"].as_str().unwrap().contains("redis"));
}
