//! The read URLs' fallback on the shared PostgreSQL (which is no standby): reads stay on the
//! primary and answer, `/ready` and `/metrics` say why. Reads on a real streaming standby, and
//! a standby stopped under load, are in `tests/faults/replica.rs`.

use serde_json::Value;

use crate::common::wait::eventually;
use crate::helpers::TestApp;

async fn ready(app: &TestApp) -> (u16, Value) {
    let r = app
        .client
        .get(app.url("/ready"))
        .send()
        .await
        .expect("ready");
    (r.status().as_u16(), r.json().await.expect("json"))
}

#[tokio::test]
async fn a_read_url_that_is_no_standby_or_does_not_answer_leaves_reads_on_the_primary() {
    let app = TestApp::spawn_configured(0, |c| {
        // The dashboard's own primary: in no recovery, so not a standby whose lag can be told.
        c.replicas.dashboard_read_database_url =
            Some(c.dashboard_db.dashboard_database_url.clone());
        // Nothing listens on port 1.
        c.replicas.data_provider_read_database_url =
            Some("postgres://postgres@127.0.0.1:1/roompulse_data_provider".to_string());
    })
    .await;
    let app_ref = &app;
    eventually(
        "/ready reports both fallbacks",
        std::time::Duration::from_secs(30),
        || async move {
            let (_, r) = ready(app_ref).await;
            let dashboard = r["read_replicas"]["dashboard_database"]
                .as_str()
                .unwrap_or("");
            let events = r["read_replicas"]["data_provider_database"]
                .as_str()
                .unwrap_or("");
            dashboard.starts_with("fallback to the primary: standby: not a standby")
                && events.starts_with("fallback to the primary: standby:")
        },
    )
    .await;
    let (status, r) = ready(&app).await;
    assert_eq!(status, 200, "a fallback leaves the process ready: {r}");
    assert_eq!(r["status"], "ready", "{r}");
    for path in [
        "/dashboard?hotel_id=2600&period=month&year=2022",
        "/dashboard/lead-time?hotel_id=2600&from=2022-01-01&to=2022-12-31",
        "/events?hotel_id=2600",
        "/",
    ] {
        let r = app.client.get(app.url(path)).send().await.expect("GET");
        assert_eq!(r.status(), 200, "{path}");
    }
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    for db in ["dashboard_database", "data_provider_database"] {
        assert!(
            metrics.contains(&format!(
                "roompulse_read_replica_in_use{{database=\"{db}\"}} 0"
            )),
            "{metrics}"
        );
    }
}

#[tokio::test]
async fn without_read_urls_nothing_is_reported() {
    let app = TestApp::spawn().await;
    let (status, r) = ready(&app).await;
    assert_eq!(status, 200);
    assert!(r.get("read_replicas").is_none(), "{r}");
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(!metrics.contains("roompulse_read_replica"), "{metrics}");
}
