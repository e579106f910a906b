//! What the HTTP API no longer lets slide: dates not exactly `YYYY-MM-DD`, an empty Dashboard
//! parameter standing for its default, a `POST /events` body declared as something else than
//! JSON, and two `Authorization` headers of which one would silently win.

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::fixtures::{booking, event_json};
use crate::helpers::TestApp;

#[tokio::test]
async fn api_dates_are_exactly_four_two_and_two_digits() {
    let app = TestApp::spawn().await;
    for bad in [
        "2023-1-1",
        "+2023-01-01",
        "2023-01-1",
        "02023-01-01",
        "2023/01/01",
    ] {
        let q = |s: &str| s.replace("X", &urlencode(bad));
        for (path, field) in [
            ("/dashboard/pace?hotel_id=1&as_of=X", "as_of"),
            ("/dashboard/pace?hotel_id=1&as_of=2023-01-01&from=X", "from"),
            ("/dashboard/pace?hotel_id=1&as_of=2023-01-01&to=X", "to"),
            ("/dashboard/booking-curve?hotel_id=1&night=X", "night"),
            (
                "/dashboard/lead-time?hotel_id=1&from=X&to=2023-01-02",
                "from",
            ),
            ("/dashboard/lead-time?hotel_id=1&from=2023-01-01&to=X", "to"),
            ("/events?night_of_stay__gte=X", "night_of_stay__gte"),
            ("/events?night_of_stay__lte=X", "night_of_stay__lte"),
        ] {
            app.assert_rejects_param(&q(path), field).await;
        }
        let r = app
            .client
            .post(app.url("/events"))
            .json(&event_json(1, 1, "2023-01-01T00:00:00Z", 1, bad))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["field"], "night_of_stay", "{bad}: {body}");
    }
    for ok in [
        "/dashboard/pace?hotel_id=1&as_of=2023-01-01",
        "/dashboard/booking-curve?hotel_id=1&night=2023-01-01",
        "/dashboard/lead-time?hotel_id=1&from=2023-01-01&to=2023-01-02",
        "/events?night_of_stay__gte=2023-01-01",
    ] {
        let r = app.client.get(app.url(ok)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{ok}");
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn an_empty_dashboard_parameter_is_refused_naming_it() {
    let app = TestApp::spawn().await;
    for (path, field) in [
        ("/dashboard/pace?hotel_id=1&pickup=", "pickup"),
        ("/dashboard/pace?hotel_id=1&as_of=", "as_of"),
        ("/dashboard/pace?hotel_id=1&from=", "from"),
        ("/dashboard/pace?hotel_id=1&to=%20", "to"),
        ("/dashboard/pace?hotel_id=", "hotel_id"),
        (
            "/dashboard/booking-curve?hotel_id=1&night=2023-01-01&days=",
            "days",
        ),
        (
            "/dashboard/lead-time?hotel_id=1&from=&to=2023-01-02",
            "from",
        ),
        (
            "/dashboard?hotel_id=1&period=month&year=2022&month=",
            "month",
        ),
        (
            "/dashboard?hotel_id=1&period=day&year=2022&month=1&day=",
            "day",
        ),
        (
            "/dashboard?hotel_id=1&period=month&year=2022&basis=",
            "basis",
        ),
    ] {
        app.assert_rejects_param(path, field).await;
        let err: Value = app.get_json(path).await;
        assert!(
            err["error"].as_str().unwrap().contains("is empty"),
            "{path}: {err}"
        );
    }
    // Unknown parameters are still ignored, empty or not; GET /events keeps its documented
    // "empty values count as absent"; the chart page's form sends its blank fields empty.
    for ok in [
        "/dashboard/pace?hotel_id=1&as_of=2023-01-01&utm=",
        "/events?hotel_id=&rpg_status=",
        "/?view=pace&hotel_id=1&as_of=",
        "/?hotel_id=1&year=2022&basis=event&month=",
    ] {
        let r = app.client.get(app.url(ok)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{ok}");
    }
}

#[tokio::test]
async fn post_events_takes_json_only() {
    let app = TestApp::spawn().await;
    let body = booking(1, 7).to_string();
    for content_type in [
        "text/plain",
        "text/plain; charset=utf-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/jsonp",
        "application/+json",
    ] {
        let r = app
            .client
            .post(app.url("/events"))
            .header("content-type", content_type)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type}"
        );
        let err: Value = r.json().await.unwrap();
        assert_eq!(err["field"], "Content-Type", "{content_type}: {err}");
        assert!(err["error"].as_str().unwrap().contains("application/json"));
    }
    assert_eq!(app.stored_count().await, 0);
    // JSON in any spelling, and (as always) no Content-Type at all, is read.
    for (id, content_type) in [
        (1, Some("application/json")),
        (2, Some("Application/JSON; charset=utf-8")),
        (3, Some("application/vnd.roompulse+json")),
        (4, None),
    ] {
        let body = booking(id, 7).to_string();
        let mut r = app.client.post(app.url("/events")).body(body);
        if let Some(content_type) = content_type {
            r = r.header("content-type", content_type);
        }
        let r = r.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::CREATED, "{content_type:?}");
    }
}

#[tokio::test]
async fn two_authorization_headers_are_refused_on_every_authorized_route() {
    let app = TestApp::spawn().await;
    let event = booking(1, 7);
    for (method, path) in [
        ("GET", "/events"),
        ("POST", "/events"),
        ("GET", "/dashboard?hotel_id=1&period=month&year=2022"),
        ("GET", "/dashboard/pace?hotel_id=1"),
        (
            "GET",
            "/dashboard/booking-curve?hotel_id=1&night=2023-01-01",
        ),
        (
            "GET",
            "/dashboard/lead-time?hotel_id=1&from=2023-01-01&to=2023-01-02",
        ),
        ("GET", "/"),
    ] {
        let r = match method {
            "POST" => app.client.post(app.url(path)).json(&event),
            _ => app.client.get(app.url(path)),
        };
        let r = r
            .header("authorization", "Bearer first")
            .header("authorization", "Bearer second")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{method} {path}");
        if path == "/" {
            // The chart page answers in HTML, as its other errors.
            let body = r.text().await.unwrap();
            assert!(
                body.contains("the `Authorization` header is given more than once"),
                "{body}"
            );
        } else {
            let err: Value = r.json().await.unwrap();
            assert_eq!(err["field"], "Authorization", "{method} {path}: {err}");
        }
    }
    assert_eq!(app.stored_count().await, 0);
}
