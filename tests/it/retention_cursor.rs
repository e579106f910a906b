//! How far the dashboard has counted, stated by the Dashboard (`GET /dashboard/sync`) and asked
//! for by `roompulse retention` over HTTP: retention runs without the Dashboard's database, and
//! a Dashboard that is down or answers anything but its position stops it before it deletes.

use std::process::Output;

use axum::http::StatusCode as AxumStatus;
use reqwest::StatusCode;
use roompulse::auth::Scope;
use roompulse::data_provider::retention::{DashboardApi, RetentionError};
use serde_json::Value;

use crate::common::fixtures::event_json;
use crate::helpers::{temp_dir, TestApp};
use crate::keys::{create, get, until_accepted};

/// Old events (2022): `--before 2023-01-01` takes them all once counted.
async fn post_old_events(app: &TestApp, ids: std::ops::RangeInclusive<i64>) {
    for id in ids {
        app.post_new(&event_json(id, 1, "2022-03-03T03:03:03Z", 1, "2022-03-04"))
            .await;
    }
}

/// The cursor as the Dashboard's own table holds it, read here with SQL: the oracle.
async fn cursor_in_the_dashboard_table(app: &TestApp) -> Option<String> {
    let (client, conn) = tokio_postgres::connect(&app.dashboard_db_url(), tokio_postgres::NoTls)
        .await
        .expect("connect to the dashboard database");
    tokio::spawn(conn);
    client
        .query_one("SELECT cursor FROM sync_state WHERE id = 1", &[])
        .await
        .expect("sync_state")
        .get(0)
}

/// `roompulse retention --before 2023-01-01` with only these variables, as an operator runs
/// it on a machine that reaches the Data Provider's database and the Dashboard's API.
async fn retention(vars: &[(&str, &str)], args: &[&str]) -> Output {
    let dir = temp_dir();
    tokio::process::Command::new(env!("CARGO_BIN_EXE_roompulse"))
        .args(["retention", "--before", "2023-01-01"])
        .args(args)
        .env_clear()
        .envs(vars.iter().copied())
        .current_dir(dir.path())
        .output()
        .await
        .expect("run roompulse retention")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn the_dashboard_states_its_cursor_to_all_hotel_readers() {
    let app = TestApp::spawn().await;
    let sync: Value = app.get_json("/dashboard/sync").await;
    assert_eq!(sync["cursor"], Value::Null, "{sync}");
    assert_eq!(sync["events_synced"], 0, "{sync}");
    assert!(matches!(
        app.dashboard_api().cursor().await,
        Err(RetentionError::NothingSynced)
    ));

    post_old_events(&app, 1..=3).await;
    app.synced(3, 100).await;
    let in_table = cursor_in_the_dashboard_table(&app)
        .await
        .expect("a cursor after a sync");
    let sync: Value = app.get_json("/dashboard/sync/").await;
    assert_eq!(sync["cursor"], in_table.as_str(), "{sync}");
    assert_eq!(sync["events_synced"], 3, "{sync}");
    assert_eq!(sync["last_event_at"], "2022-03-03T03:03:03Z", "{sync}");

    // Authorised like the Dashboard's other reads, and only for every hotel: the position
    // covers every hotel's events.
    let one_hotel = create(&app, "one-hotel", &[Scope::Read], Some(&[1])).await;
    let writer = create(&app, "writer", &[Scope::Ingest], None).await;
    // Created last: once the app accepts it, it knows the others.
    let every_hotel = create(&app, "every-hotel", &[Scope::Read], None).await;
    until_accepted(&app, &every_hotel).await;
    let status = |key: Option<String>| {
        let app = &app;
        async move {
            let auth = key.map(|k| format!("Bearer {k}"));
            get(app, "/dashboard/sync", auth.as_deref()).await.status()
        }
    };
    assert_eq!(status(None).await, StatusCode::UNAUTHORIZED);
    assert_eq!(status(Some(one_hotel)).await, StatusCode::FORBIDDEN);
    assert_eq!(status(Some(writer)).await, StatusCode::FORBIDDEN);
    assert_eq!(status(Some(every_hotel.clone())).await, StatusCode::OK);

    let refused = app.dashboard_api().cursor().await;
    match refused {
        Err(RetentionError::DashboardCursor { reason, .. }) => {
            assert!(reason.contains("401"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    let asked = DashboardApi {
        token: Some(every_hotel.as_str().into()),
        ..app.dashboard_api()
    }
    .cursor()
    .await
    .expect("the cursor, with a key");
    assert_eq!(
        Some(asked),
        roompulse::data_provider::feed::decode_stored_cursor(&in_table)
    );
    app.stop().await;
}

/// The Dashboard's database is out of reach (its URL points nowhere): retention asks the API
/// and deletes exactly the counted old events.
#[tokio::test]
async fn retention_needs_no_dashboard_database() {
    let app = TestApp::spawn().await;
    post_old_events(&app, 1..=5).await;
    app.synced(5, 100).await;
    post_old_events(&app, 6..=7).await;
    let cursor = cursor_in_the_dashboard_table(&app).await.expect("a cursor");
    let events_url = app.events_db_url();
    let out = retention(
        &[
            ("DATA_PROVIDER_DATABASE_URL", &events_url),
            ("DASHBOARD_URL", &app.base_url),
            (
                "DASHBOARD_DATABASE_URL",
                "postgres://postgres@127.0.0.1:1/nowhere",
            ),
        ],
        &[],
    )
    .await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains(&format!(
            "retired 5 events with event_timestamp before 2023-01-01T00:00:00Z and counted by the dashboard (up to its sync cursor {cursor})"
        )),
        "{stdout}"
    );
    assert!(stdout.contains("2 older events are kept"), "{stdout}");
    assert_eq!(app.stored_count().await, 2);
    app.stop().await;
}

/// A tiny stand-in for the Dashboard that answers `GET /dashboard/sync` with `status` and
/// `body`; its URL.
async fn fake_dashboard(status: AxumStatus, body: &'static str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let app = axum::Router::new().route(
        "/dashboard/sync",
        axum::routing::get(move || async move { (status, body) }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// Down, refusing, or answering something other than its position: a clear error naming the
/// Dashboard's URL, and nothing deleted, even with `--unsafe-ignore-sync` (the uncounted events
/// are then all of them, refused without `--yes-lose-uncounted`).
#[tokio::test]
async fn a_dashboard_down_or_answering_garbage_stops_retention_before_it_deletes() {
    let app = TestApp::spawn().await;
    post_old_events(&app, 1..=4).await;
    app.synced(4, 100).await;

    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}", listener.local_addr().expect("addr"))
    };
    let answers = [
        (
            AxumStatus::OK,
            "<html>a proxy's page</html>",
            "not the sync's position",
        ),
        (
            AxumStatus::OK,
            r#"{"cursor": 42}"#,
            "not the sync's position",
        ),
        (
            AxumStatus::OK,
            r#"{"figures": []}"#,
            "not the sync's position",
        ),
        (
            AxumStatus::OK,
            r#"{"cursor": "s12"}"#,
            "is not a change-feed cursor",
        ),
        (
            AxumStatus::SERVICE_UNAVAILABLE,
            r#"{"error": "the dashboard database is unavailable"}"#,
            "503 Service Unavailable: the dashboard database is unavailable",
        ),
        (AxumStatus::NOT_FOUND, "", "404 Not Found"),
    ];
    let mut dashboards = vec![(closed, "no answer")];
    for (status, body, says) in answers {
        dashboards.push((fake_dashboard(status, body).await, says));
    }

    let events_url = app.events_db_url();
    for (url, says) in &dashboards {
        let asked = DashboardApi {
            url: url.clone(),
            token: None,
        }
        .cursor()
        .await;
        let message = asked.expect_err("no cursor").to_string();
        assert!(message.contains(says), "{url}: {message}");

        let vars = [
            ("DATA_PROVIDER_DATABASE_URL", events_url.as_str()),
            ("DASHBOARD_URL", url.as_str()),
        ];
        let out = retention(&vars, &[]).await;
        let stderr = text(&out.stderr);
        assert!(!out.status.success(), "{url}: {}", text(&out.stdout));
        assert!(stderr.contains(says), "{url}: {stderr}");
        let ignoring = retention(&vars, &["--unsafe-ignore-sync"]).await;
        assert!(
            !ignoring.status.success(),
            "{url}: {}",
            text(&ignoring.stdout)
        );
        assert!(
            text(&ignoring.stderr).contains("4 of the events before"),
            "{url}: {}",
            text(&ignoring.stderr)
        );
        assert_eq!(app.stored_count().await, 4, "{url}");
    }
    // Where the Dashboard is, in the message: the URL it was asked at.
    let out = retention(
        &[
            ("DATA_PROVIDER_DATABASE_URL", events_url.as_str()),
            ("DASHBOARD_URL", dashboards[1].0.as_str()),
        ],
        &[],
    )
    .await;
    assert!(
        text(&out.stderr).contains(&format!(
            "cannot read the dashboard's sync cursor from {}",
            dashboards[1].0
        )),
        "{}",
        text(&out.stderr)
    );
    app.stop().await;
}
