//! Write (and read) authentication, and load shedding.

use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::fixtures::booking;
use crate::common::wait::eventually;
use crate::helpers::TestApp;

#[tokio::test]
async fn with_an_ingest_token_writes_need_it_and_reads_stay_open() {
    let app = TestApp::spawn_configured(0, |c| c.ingest_api_token = Some("w-s3cret".into())).await;
    let post = |auth: Option<&str>| {
        let mut r = app.client.post(app.url("/events")).json(&booking(1, 1));
        if let Some(a) = auth {
            r = r.header("authorization", a);
        }
        r.send()
    };
    for auth in [
        None,
        Some("Bearer wrong"),
        Some("Basic dzpzM2NyZXQ="),
        Some("Bearer w-s3cret2"),
    ] {
        let r = post(auth).await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{auth:?}");
        assert_eq!(r.headers()["www-authenticate"], "Bearer");
        assert!(r.json::<Value>().await.unwrap()["error"]
            .as_str()
            .unwrap()
            .contains("token"));
    }
    assert_eq!(app.stored_count().await, 0);
    assert_eq!(
        post(Some("Bearer w-s3cret")).await.unwrap().status(),
        StatusCode::CREATED
    );
    assert_eq!(
        post(Some("bearer w-s3cret")).await.unwrap().status(),
        StatusCode::OK
    );
    for path in [
        "/events",
        "/dashboard?hotel_id=1&period=month&year=2022",
        "/health",
        "/ready",
    ] {
        assert_eq!(
            app.client.get(app.url(path)).send().await.unwrap().status(),
            StatusCode::OK,
            "{path}"
        );
    }
    let doc: Value = app.get_json("/api-docs/data-provider.json").await;
    assert_eq!(
        doc["components"]["securitySchemes"]["api_key"]["scheme"],
        "bearer"
    );
    assert_eq!(
        doc["paths"]["/events"]["post"]["security"][1]["api_key"],
        json!(["ingest"])
    );
    assert_eq!(
        doc["paths"]["/events"]["get"]["security"][1]["api_key"],
        json!(["read"])
    );
    // 401 and 403 are told apart, each with its own example.
    for method in ["get", "post"] {
        let responses = &doc["paths"]["/events"][method]["responses"];
        let example = |status: &str| {
            responses[status]["content"]["application/json"]["example"]["error"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        };
        assert!(example("401").contains("Authorization"), "{method}");
        assert!(example("403").contains("hotel 2608"), "{method}");
    }
    let doc: Value = app.get_json("/api-docs/dashboard.json").await;
    for path in [
        "/dashboard",
        "/dashboard/pace",
        "/dashboard/booking-curve",
        "/dashboard/lead-time",
    ] {
        let op = &doc["paths"][path]["get"];
        assert_eq!(op["security"][1]["api_key"], json!(["read"]), "{path}");
        assert!(op["responses"]["403"]["description"]
            .as_str()
            .unwrap()
            .contains("hotel"));
    }
}

#[tokio::test]
async fn with_a_read_token_reads_need_it_and_probes_and_docs_stay_open() {
    let app = TestApp::spawn_configured(0, |c| {
        c.read_api_token = Some("r-token".into());
        c.ingest_api_token = Some("w-token".into());
    })
    .await;
    for path in [
        "/events",
        "/events/?hotel_id=1",
        "/dashboard?hotel_id=1&period=month&year=2022",
    ] {
        let get = |auth: Option<&'static str>| {
            let mut r = app.client.get(app.url(path));
            if let Some(a) = auth {
                r = r.bearer_auth(a);
            }
            r.send()
        };
        assert_eq!(
            get(None).await.unwrap().status(),
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
        assert_eq!(
            get(Some("nope")).await.unwrap().status(),
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
        assert_eq!(
            get(Some("r-token")).await.unwrap().status(),
            StatusCode::OK,
            "{path}"
        );
        assert_eq!(
            get(Some("w-token")).await.unwrap().status(),
            StatusCode::OK,
            "the writer reads too: {path}"
        );
    }
    // The read token does not write: it is known, so the answer is about its scope.
    let r = app
        .client
        .post(app.url("/events"))
        .bearer_auth("r-token")
        .json(&booking(2, 1))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.stored_count().await, 0);
    for path in [
        "/health",
        "/ready",
        "/api-docs/dashboard.json",
        "/swagger-ui/",
    ] {
        assert_eq!(
            app.client.get(app.url(path)).send().await.unwrap().status(),
            StatusCode::OK,
            "{path}"
        );
    }
    // The dashboard sync authenticates to the Data Provider with the read token.
    let client = roompulse::dashboard::client::DataProviderClient::new(&app.base_url).unwrap();
    assert!(client.clone().changes(None, 10).await.is_err());
    assert!(client
        .with_token(Some("r-token"))
        .changes(None, 10)
        .await
        .is_ok());
}

#[tokio::test]
async fn past_the_concurrency_limit_requests_are_shed_with_retry_after() {
    let app = TestApp::spawn_configured(0, |c| c.max_concurrent_requests = 1).await;
    // A POST whose body has not finished holds the one slot for as long as we like.
    let mut slow = unfinished_post(&app, 3).await;

    // Once the slow request holds the slot (when exactly is the server's business), every other
    // event or dashboard request is shed until it finishes.
    eventually(
        "a second request is shed",
        std::time::Duration::from_secs(30),
        || async {
            let r = app.client.get(app.url("/events")).send().await.unwrap();
            r.status() == StatusCode::SERVICE_UNAVAILABLE
        },
    )
    .await;
    let r = app
        .client
        .get(app.url("/dashboard?hotel_id=1&period=month&year=2022"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.headers()["retry-after"], "1");
    assert!(r.json::<Value>().await.unwrap()["error"]
        .as_str()
        .unwrap()
        .contains("limit"));
    // Probes are never shed.
    assert_eq!(
        app.client
            .get(app.url("/health"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );

    let body = booking(3, 1).to_string();
    slow.write_all(&body.as_bytes()[5..]).await.unwrap();
    let mut answer = String::new();
    slow.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    assert_eq!(
        app.client
            .get(app.url("/events"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}

/// Reads until the server closes the connection; `None` if it is still open after a minute
/// (the deadlock guard, far above any timeout configured here).
async fn read_until_closed(stream: &mut tokio::net::TcpStream) -> Option<String> {
    let mut received = Vec::new();
    let read = stream.read_to_end(&mut received);
    match tokio::time::timeout(std::time::Duration::from_secs(60), read).await {
        Ok(_) => Some(String::from_utf8_lossy(&received).into_owned()),
        Err(_) => None,
    }
}

/// A connection that sent nothing stayed open for over a minute: anyone could hold sockets and
/// tasks at no cost.
#[tokio::test]
async fn silent_and_idle_connections_are_closed() {
    let app = TestApp::spawn_configured(0, |c| c.http_idle_timeout_secs = 1).await;
    let addr = app.base_url.trim_start_matches("http://").to_string();

    let mut silent = tokio::net::TcpStream::connect(&addr).await.unwrap();
    assert_eq!(read_until_closed(&mut silent).await.as_deref(), Some(""));

    let mut partial = tokio::net::TcpStream::connect(&addr).await.unwrap();
    partial
        .write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    let answer = read_until_closed(&mut partial)
        .await
        .expect("a connection with half a header is closed");
    assert!(!answer.contains("200 OK"), "{answer}");

    // Kept alive after a request, then idle.
    let mut idle = tokio::net::TcpStream::connect(&addr).await.unwrap();
    idle.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let answer = read_until_closed(&mut idle)
        .await
        .expect("an idle kept-alive connection is closed");
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
}

/// The router's 405 and the request timeout's 503 had empty bodies; `/metrics/` answered 404.
#[tokio::test]
async fn every_error_has_a_json_body_and_every_endpoint_a_trailing_slash() {
    let app = TestApp::spawn_configured(0, |c| c.request_timeout_secs = 1).await;
    for path in [
        "/metrics/",
        "/health/",
        "/ready/",
        "/events/",
        "/dashboard/?hotel_id=1&period=month&year=2022",
    ] {
        let r = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
    }

    let r = app.client.delete(app.url("/events")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(r.headers()["allow"].to_str().unwrap().contains("POST"));
    let body: Value = r.json().await.unwrap();
    let error = body["error"].as_str().unwrap();
    assert!(
        error.contains("DELETE") && error.contains("/events"),
        "{body}"
    );
    // Regression: the message listed no method ("allowed: "), the header was set after it.
    assert!(
        error.contains("GET") && error.contains("POST"),
        "the 405 names the allowed methods: {body}"
    );

    let r = app
        .client
        .get(app.url("/no/such/page"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(r.json::<Value>().await.unwrap()["error"].is_string());

    // A body that never finishes keeps the request going past its time limit.
    let mut slow = unfinished_post(&app, 4).await;
    let answer = read_until_closed(&mut slow)
        .await
        .expect("the timed-out request is answered");
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{answer}"
    );
    let json = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    let json: Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {answer}"));
    assert!(
        json["error"].as_str().unwrap().contains("time limit"),
        "{json}"
    );
    assert_eq!(app.stored_count().await, 0);
}

/// A `POST /events` of event `id` whose body stops after five bytes: the request stays open
/// for as long as the connection does.
async fn unfinished_post(app: &TestApp, id: i64) -> tokio::net::TcpStream {
    let body = booking(id, 1).to_string();
    let addr = app.base_url.trim_start_matches("http://").to_string();
    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /events HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    slow.write_all(&body.as_bytes()[..5]).await.unwrap();
    slow
}
