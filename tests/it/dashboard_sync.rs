//! The dashboard's sync against a mock Data Provider (wiremock) serving the change feed page by
//! page: exact figures after every step, whatever the feed or the passes do.

use std::time::Duration;

use roompulse::config::SyncMode;
use roompulse::dashboard::client::DataProviderClient;
use roompulse::dashboard::schedule;
use roompulse::dashboard::store::{self, Applied};
use roompulse::dashboard::sync::{self, PassOutcome, SyncError};
use roompulse::db::{self, PgPool};
use serde_json::{json, Value};
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::db::TestDb;
use crate::common::fixtures::event_json as ev;
use crate::common::oracle::{of_json, Days};
use crate::common::wait::eventually;

const PAGE: i64 = 3;

/// The feed's page after `cursor` (the first page when `None`), linking to `next`.
fn page(cursor: Option<&str>, events: &[Value], next: &str) -> Mock {
    slow_page(cursor, events, next, Duration::ZERO)
}

fn slow_page(cursor: Option<&str>, events: &[Value], next: &str, delay: Duration) -> Mock {
    let m = Mock::given(method("GET"))
        .and(path("/events"))
        .and(query_param("order", "stored"))
        .and(query_param("limit", PAGE.to_string()));
    let m = match cursor {
        Some(c) => m.and(query_param("cursor", c)),
        None => m.and(query_param_is_missing("cursor")),
    };
    m.respond_with(
        ResponseTemplate::new(200)
            .insert_header(
                "link",
                format!("</events?order=stored&limit={PAGE}&cursor={next}>; rel=\"next\""),
            )
            .set_body_json(events)
            .set_delay(delay),
    )
}

struct Dash {
    db: TestDb,
    pool: PgPool,
}

impl Dash {
    async fn new() -> Self {
        let db = TestDb::dashboard().await;
        let pool = db::pool(&db.url, 4).unwrap();
        Self { db, pool }
    }

    async fn figures(&self) -> Days {
        let (client, conn) = tokio_postgres::connect(&self.db.url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        client
            .query(
                "SELECT hotel_id, basis, day, bookings, cancellations FROM dashboard_daily",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| ((r.get(0), r.get(1), r.get(2)), (r.get(3), r.get(4))))
            .collect()
    }

    async fn state(&self) -> store::SyncState {
        let mut conn = store::connection(&self.pool).await.unwrap();
        store::sync_state(&mut conn).await.unwrap()
    }

    async fn pass(&self, client: &DataProviderClient) -> Result<PassOutcome, SyncError> {
        sync::run_pass(&self.pool, client, PAGE).await
    }
}

fn synced(outcome: PassOutcome) -> sync::PassReport {
    match outcome {
        PassOutcome::Synced(r) => r,
        PassOutcome::Skipped => panic!("the pass was skipped"),
    }
}

#[tokio::test]
async fn pages_with_equal_timestamps_late_and_old_events_are_counted_exactly() {
    let dp = MockServer::start().await;
    let dash = Dash::new().await;
    let client = DataProviderClient::new(&dp.uri()).unwrap();
    let t = "2022-06-24T13:00:56Z";
    // Four events share one timestamp across the first two pages; ids are not in order.
    let p0 = [
        ev(30, 1, t, 1, "2022-06-26"),
        ev(10, 1, t, 1, "2022-06-27"),
        ev(20, 2, t, 1, "2022-06-26"),
    ];
    let p1 = [
        ev(15, 1, t, 2, "2022-06-26"),
        ev(40, 1, "2022-06-24T23:59:59Z", 1, "2022-12-31"),
        ev(41, 1, "2022-06-25T00:00:00Z", 1, "2023-01-01"),
    ];
    let p2 = [ev(50, 2, "2022-07-01T08:00:00+02:00", 1, "2022-07-02")];
    page(None, &p0, "c1").expect(1).mount(&dp).await;
    page(Some("c1"), &p1, "c2").expect(1).mount(&dp).await;
    page(Some("c2"), &p2, "c3").expect(1).mount(&dp).await;

    let r = synced(dash.pass(&client).await.unwrap());
    assert_eq!((r.pages, r.events, r.events_synced), (3, 7, 7));
    let mut all: Vec<&Value> = p0.iter().chain(&p1).chain(&p2).collect();
    assert_eq!(dash.figures().await, of_json(&all));
    let state = dash.state().await;
    assert_eq!(state.cursor.as_deref(), Some("c3"));
    assert_eq!(state.events_synced, 7);
    assert_eq!(
        state.last_event_at,
        Some("2022-07-01T06:00:00Z".parse().unwrap())
    );

    // Stored later with timestamps older than anything synced (a hotel system that was
    // offline, last year's correction): the feed delivers them after the cursor all the same.
    let late = [
        ev(5, 1, "2021-03-01T10:00:00Z", 1, "2021-03-05"),
        ev(6, 1, "2022-06-24T13:00:56Z", 2, "2022-06-27"),
    ];
    page(Some("c3"), &late, "c4").expect(1).mount(&dp).await;
    let r = synced(dash.pass(&client).await.unwrap());
    assert_eq!((r.pages, r.events, r.events_synced), (1, 2, 9));
    all.extend(&late);
    assert_eq!(dash.figures().await, of_json(&all));

    // Nothing new: an empty page whose link repeats the cursor; nothing changes.
    page(Some("c4"), &[], "c4").expect(2).mount(&dp).await;
    for _ in 0..2 {
        let r = synced(dash.pass(&client).await.unwrap());
        assert_eq!((r.pages, r.events, r.events_synced), (1, 0, 9));
        assert_eq!(dash.figures().await, of_json(&all));
    }
    assert_eq!(dash.state().await.cursor.as_deref(), Some("c4"));
    dp.verify().await;
}

#[tokio::test]
async fn a_failing_data_provider_changes_nothing_and_the_next_pass_catches_up() {
    let dp = MockServer::start().await;
    let dash = Dash::new().await;
    let client = DataProviderClient::new(&dp.uri()).unwrap();
    let p0 = [
        ev(1, 7, "2022-01-01T00:00:00Z", 1, "2022-01-02"),
        ev(2, 7, "2022-01-01T00:00:00Z", 1, "2022-01-03"),
        ev(3, 7, "2022-01-02T00:00:00Z", 2, "2022-01-02"),
    ];
    let p1 = [ev(4, 8, "2022-02-01T00:00:00Z", 1, "2022-02-01")];
    page(None, &p0, "c1").mount(&dp).await;
    // The second page fails once, then is served.
    Mock::given(method("GET"))
        .and(path("/events"))
        .and(query_param("cursor", "c1"))
        .respond_with(ResponseTemplate::new(500).set_body_string("database is down"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&dp)
        .await;
    page(Some("c1"), &p1, "c2").mount(&dp).await;

    let e = dash.pass(&client).await.unwrap_err();
    assert!(e.to_string().contains("500"), "{e}");
    // The first page is counted and the cursor stands after it: nothing lost, nothing twice.
    assert_eq!(
        dash.figures().await,
        of_json(&p0.iter().collect::<Vec<_>>())
    );
    assert_eq!(dash.state().await.cursor.as_deref(), Some("c1"));

    let r = synced(dash.pass(&client).await.unwrap());
    assert_eq!((r.pages, r.events, r.events_synced), (1, 1, 4));
    let all: Vec<&Value> = p0.iter().chain(&p1).collect();
    assert_eq!(dash.figures().await, of_json(&all));

    // A Data Provider that is not there at all, and one that serves something else.
    let gone = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let e = dash
        .pass(&DataProviderClient::new(&gone).unwrap())
        .await
        .unwrap_err();
    assert!(matches!(e, SyncError::Client(_)), "{e}");
    Mock::given(path("/events"))
        .and(query_param("cursor", "c2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&dp)
        .await;
    let e = dash.pass(&client).await.unwrap_err();
    assert!(e.to_string().contains("Link"), "{e}");
    assert_eq!(dash.figures().await, of_json(&all));
    assert_eq!(dash.state().await.cursor.as_deref(), Some("c2"));
    assert_eq!(dash.state().await.events_synced, 4);
}

#[tokio::test]
async fn an_event_the_dashboard_cannot_count_stops_the_pass_after_the_pages_before_it() {
    let dp = MockServer::start().await;
    let dash = Dash::new().await;
    let client = DataProviderClient::new(&dp.uri()).unwrap();
    // Pages are committed in batches; the bad page is in the middle of the first batch.
    let p0 = [
        ev(1, 7, "2022-01-01T00:00:00Z", 1, "2022-01-02"),
        ev(2, 7, "2022-01-01T00:00:00Z", 1, "2022-01-03"),
        ev(3, 7, "2022-01-02T00:00:00Z", 2, "2022-01-02"),
    ];
    let p1 = [
        ev(4, 8, "2022-02-01T00:00:00Z", 1, "2022-02-01"),
        ev(5, 8, "2022-02-01T00:00:00Z", 3, "2022-02-01"),
        ev(6, 8, "2022-02-01T00:00:00Z", 1, "2022-02-02"),
    ];
    page(None, &p0, "c1").mount(&dp).await;
    page(Some("c1"), &p1, "c2").mount(&dp).await;
    page(Some("c2"), &[], "c2").mount(&dp).await;

    for _ in 0..2 {
        let e = dash.pass(&client).await.unwrap_err();
        assert!(
            matches!(&e, SyncError::BadEvent { cursor: Some(c), .. } if c == "c1"),
            "{e}"
        );
        assert!(e.to_string().contains("event 5 has status 3"), "{e}");
        // The page before counts, once; nothing of the bad page does.
        assert_eq!(
            dash.figures().await,
            of_json(&p0.iter().collect::<Vec<_>>())
        );
        let state = dash.state().await;
        assert_eq!(
            (state.cursor.as_deref(), state.events_synced),
            (Some("c1"), 3)
        );
    }
}

#[tokio::test]
async fn a_page_served_twice_is_counted_once() {
    let dp = MockServer::start().await;
    let dash = Dash::new().await;
    let client = DataProviderClient::new(&dp.uri()).unwrap();
    let p0 = [
        ev(1, 3, "2022-05-01T00:00:00Z", 1, "2022-05-10"),
        ev(2, 3, "2022-05-01T00:00:00Z", 1, "2022-05-11"),
        ev(3, 3, "2022-05-01T00:00:00Z", 1, "2022-05-12"),
    ];
    let p1 = [ev(4, 3, "2022-05-02T00:00:00Z", 2, "2022-05-10")];
    page(None, &p0, "c1").expect(2).mount(&dp).await;
    page(Some("c1"), &p1, "c2").expect(1).mount(&dp).await;

    // A pass fetched the first page and died before committing it.
    let fetched = client.changes(None, PAGE).await.unwrap();
    assert_eq!(fetched.next_cursor, "c1");
    assert_eq!(dash.figures().await, Days::new());

    // The next pass asks for the same page again and counts it once.
    let r = synced(dash.pass(&client).await.unwrap());
    assert_eq!((r.pages, r.events), (2, 4));
    let all: Vec<&Value> = p0.iter().chain(&p1).collect();
    assert_eq!(dash.figures().await, of_json(&all));

    // The dead pass's copy, applied late (a pass that hung, not died): refused, nothing changes.
    let deltas = sync::fold(&serde_json::from_value::<Vec<_>>(json!(p0)).unwrap()).unwrap();
    assert_eq!(deltas.events, fetched.events.len() as i64);
    let mut conn = store::connection(&dash.pool).await.unwrap();
    let applied = store::apply_page(&mut conn, None, &fetched.next_cursor, &deltas)
        .await
        .unwrap();
    assert_eq!(
        applied,
        Applied::CursorMoved {
            found: Some("c2".into())
        }
    );
    assert_eq!(dash.figures().await, of_json(&all));
    assert_eq!(dash.state().await.events_synced, 4);
    dp.verify().await;
}

#[tokio::test]
async fn passes_running_at_once_count_every_event_once() {
    let dp = MockServer::start().await;
    let dash = Dash::new().await;
    // A second process: its own pool on the same database.
    let other_pool = db::pool(&dash.db.url, 4).unwrap();
    let client = DataProviderClient::new(&dp.uri()).unwrap();
    let pages: Vec<Vec<Value>> = (0..4)
        .map(|p| {
            (0..if p == 3 { 1 } else { PAGE })
                .map(|i| {
                    let id = p * 10 + i + 1;
                    ev(
                        id,
                        1 + (id % 2) as i32,
                        "2022-08-01T12:00:00Z",
                        1 + (id % 3 == 0) as i16,
                        "2022-08-15",
                    )
                })
                .collect()
        })
        .collect();
    let cursors = [None, Some("c1"), Some("c2"), Some("c3")];
    for (i, events) in pages.iter().enumerate() {
        let next = format!("c{}", i + 1);
        // Slow pages keep the passes overlapping.
        slow_page(cursors[i], events, &next, Duration::from_millis(100))
            .mount(&dp)
            .await;
    }
    page(Some("c4"), &[], "c4").mount(&dp).await;

    let (a, b, c) = tokio::join!(
        sync::run_pass(&dash.pool, &client, PAGE),
        sync::run_pass(&other_pool, &client, PAGE),
        sync::run_pass(&dash.pool, &client, PAGE),
    );
    let counted: u64 = [a, b, c]
        .into_iter()
        .map(|r| match r.unwrap() {
            PassOutcome::Skipped => 0,
            PassOutcome::Synced(r) => r.events,
        })
        .sum();
    assert_eq!(counted, 10);
    let all: Vec<&Value> = pages.iter().flatten().collect();
    assert_eq!(dash.figures().await, of_json(&all));
    assert_eq!(dash.state().await.events_synced, 10);
}

#[tokio::test]
async fn the_schedule_runs_passes_until_the_figures_are_complete() {
    let dp = MockServer::start().await;
    let dash = Dash::new().await;
    let client = DataProviderClient::new(&dp.uri()).unwrap();
    let p0 = [
        ev(1, 4, "2022-09-01T00:00:00Z", 1, "2022-09-02"),
        ev(2, 4, "2022-09-01T00:00:00Z", 1, "2022-09-03"),
        ev(3, 4, "2022-09-01T00:00:00Z", 2, "2022-09-02"),
    ];
    let p1 = [ev(4, 4, "2022-09-05T00:00:00Z", 1, "2022-09-06")];
    page(None, &p0, "c1").mount(&dp).await;
    // The first try of the second page fails: the schedule backs off, then catches up.
    Mock::given(method("GET"))
        .and(query_param("cursor", "c1"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&dp)
        .await;
    page(Some("c1"), &p1, "c2").mount(&dp).await;
    page(Some("c2"), &[], "c2").mount(&dp).await;

    let running = schedule::start(
        dash.pool.clone(),
        client,
        "* * * * * *",
        PAGE,
        SyncMode::Schedule,
    )
    .await
    .unwrap();
    let all: Vec<&Value> = p0.iter().chain(&p1).collect();
    let want = of_json(&all);
    eventually(
        "the scheduled sync has counted every event",
        Duration::from_secs(60),
        || {
            let dash = &dash;
            let want = &want;
            async move { dash.figures().await == *want }
        },
    )
    .await;
    running.stop().await;
    assert_eq!(dash.state().await.events_synced, 4);
}
