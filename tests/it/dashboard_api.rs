//! `GET /dashboard`: parameter checks, the shape of the answer, and its OpenAPI document.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::TestApp;

async fn get(app: &TestApp, query: &str) -> (StatusCode, Value) {
    let r = app
        .client
        .get(app.url(&format!("/dashboard?{query}")))
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap())
}

#[tokio::test]
async fn every_bad_query_answers_400_naming_the_parameter() {
    let app = TestApp::spawn().await;
    let ok = "hotel_id=1&period=month&year=2022";
    let cases: &[(&str, &str)] = &[
        ("period=month&year=2022", "hotel_id"),
        ("hotel_id=&period=month&year=2022", "hotel_id"),
        ("hotel_id=0&period=month&year=2022", "hotel_id"),
        ("hotel_id=-3&period=month&year=2022", "hotel_id"),
        ("hotel_id=abc&period=month&year=2022", "hotel_id"),
        ("hotel_id=2147483648&period=month&year=2022", "hotel_id"),
        ("hotel_id=1&hotel_id=2&period=month&year=2022", "hotel_id"),
        ("hotel_id=1&year=2022", "period"),
        ("hotel_id=1&period=week&year=2022", "period"),
        ("hotel_id=1&period=Month&year=2022", "period"),
        ("hotel_id=1&period=month", "year"),
        ("hotel_id=1&period=month&year=1899", "year"),
        ("hotel_id=1&period=month&year=2101", "year"),
        ("hotel_id=1&period=month&year=22.5", "year"),
        ("hotel_id=1&period=month&year=2022&month=0", "month"),
        ("hotel_id=1&period=month&year=2022&month=13", "month"),
        ("hotel_id=1&period=day&year=2022&month=June", "month"),
        ("hotel_id=1&period=day&year=2022&day=5", "day"),
        ("hotel_id=1&period=day&year=2022&month=2&day=30", "day"),
        ("hotel_id=1&period=day&year=2023&month=2&day=29", "day"),
        ("hotel_id=1&period=day&year=2022&month=4&day=31", "day"),
        ("hotel_id=1&period=day&year=2022&month=1&day=0", "day"),
        ("hotel_id=1&period=day&year=2022&month=1&day=32", "day"),
        ("hotel_id=1&period=month&year=2022&month=1&day=5", "day"),
        ("hotel_id=1&period=month&year=2022&basis=booking", "basis"),
        ("hotel_id=1&period=month&year=2022&basis=EVENT", "basis"),
    ];
    for (query, field) in cases {
        let (status, body) = get(&app, query).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["field"], *field, "{query}: {body}");
        let message = body["error"].as_str().unwrap();
        assert!(
            message.contains(&format!("`{field}`")),
            "{query}: {message}"
        );
    }
    let (status, _) = get(&app, ok).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_hotel_without_data_gets_every_bucket_with_zeros() {
    let app = TestApp::spawn().await;
    let (status, body) = get(&app, "hotel_id=42&period=month&year=2022").await;
    assert_eq!(status, StatusCode::OK);
    let rows = body.as_array().unwrap();
    assert_eq!(rows.len(), 12);
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(
            *row,
            serde_json::json!({"hotel_id": 42, "period": "month", "year": 2022, "month": i + 1,
                               "day": null, "bookings": 0, "cancellations": 0, "booking_count": 0})
        );
    }
    for (query, len) in [
        ("hotel_id=42&period=day&year=2023", 365),
        ("hotel_id=42&period=day&year=2024&basis=stay", 366),
        ("hotel_id=42&period=day&year=2024&month=2", 29),
        ("hotel_id=42&period=day&year=2100&month=2", 28),
        ("hotel_id=42&period=day&year=2024&month=2&day=29", 1),
        ("hotel_id=42&period=month&year=1900&month=12", 1),
        (
            // Unknown parameters are ignored, empty or not (an empty known one is refused).
            "hotel_id=42&period=month&year=2022&basis=event&unknown=1&other=",
            12,
        ),
    ] {
        let (status, body) = get(&app, query).await;
        assert_eq!(status, StatusCode::OK, "{query}");
        let rows = body.as_array().unwrap();
        assert_eq!(rows.len(), len, "{query}");
        let dates: Vec<(i64, i64, i64)> = rows
            .iter()
            .map(|r| {
                (
                    r["year"].as_i64().unwrap(),
                    r["month"].as_i64().unwrap(),
                    r["day"].as_i64().unwrap_or(0),
                )
            })
            .collect();
        let mut sorted = dates.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(dates, sorted, "{query}: sorted by date, each bucket once");
    }
    let r = app
        .client
        .get(app.url("/dashboard/?hotel_id=42&period=day&year=2022&month=6&day=24"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body[0]["day"], 24);
    assert_eq!(body[0]["period"], "day");
}

#[tokio::test]
async fn the_dashboard_has_its_own_document_listed_in_swagger_ui() {
    let app = TestApp::spawn().await;
    let doc: Value = app.get_json("/api-docs/dashboard.json").await;
    let params = doc["paths"]["/dashboard"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let names: Vec<&str> = params.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["hotel_id", "period", "year", "month", "day", "basis"]
    );
    for p in params {
        let name = &p["name"];
        assert!(
            !p["description"].as_str().unwrap_or("").is_empty(),
            "{name} has a description"
        );
        // Swagger UI's Try it out fills in every example: the required parameters' make a
        // complete request, and optional ones have none, so that none is sent unasked.
        assert_eq!(
            !p["example"].is_null(),
            p["required"] == true,
            "{name}: an example exactly when required"
        );
        let schema = &p["schema"];
        assert!(
            schema["enum"].is_array() || schema["minimum"].is_number(),
            "{name} states its allowed values: {schema}"
        );
    }
    let required: Vec<&str> = params
        .iter()
        .filter(|p| p["required"] == true)
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(required, ["hotel_id", "period", "year"]);
    let period = params.iter().find(|p| p["name"] == "period").unwrap();
    assert_eq!(
        period["schema"]["enum"],
        serde_json::json!(["month", "day"])
    );
    let basis = params.iter().find(|p| p["name"] == "basis").unwrap();
    assert_eq!(
        basis["schema"]["enum"],
        serde_json::json!(["event", "stay"])
    );
    // Every schema the document refers to is in it.
    let text = doc.to_string();
    for reference in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = reference.split('"').next().unwrap();
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "{name} is defined"
        );
    }

    let init = app
        .client
        .get(app.url("/swagger-ui/swagger-initializer.js"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for url in ["/api-docs/data-provider.json", "/api-docs/dashboard.json"] {
        assert!(init.contains(url), "Swagger UI lists {url}: {init}");
    }
    assert!(init.contains("\"dashboard\""), "{init}");
    assert!(init.contains("\"data-provider\""), "{init}");
}

/// Distinct questions used to stay in the answer cache after their time was up, until 10,000
/// of them had piled up (9,990 took the process from 14 MB to 459 MB).
#[tokio::test]
async fn the_answer_cache_lets_answers_expire() {
    let app = TestApp::spawn_configured(0, |c| c.limits.dashboard_cache_ms = 300).await;
    for hotel in 1..=20 {
        let (status, _) = get(&app, &format!("hotel_id={hotel}&period=day&year=2022")).await;
        assert_eq!(status, StatusCode::OK);
    }
    let cache = app.dashboard_cache();
    assert!(cache.held().0 > 0, "the answers were cached");
    crate::common::wait::eventually(
        "every answer has expired and is gone",
        std::time::Duration::from_secs(60),
        || async { cache.held() == (0, 0) },
    )
    .await;
}

#[tokio::test]
async fn the_answer_cache_holds_a_bounded_number_of_bytes() {
    use roompulse::dashboard::api::{parse_dashboard_query, Answer, DashboardCache};
    const MAX: u64 = 1024 * 1024;
    let cache = DashboardCache::with_capacity(std::time::Duration::from_secs(3600), MAX);
    let answer = std::sync::Arc::new(Answer {
        rows: Vec::new(),
        json: axum::body::Bytes::from(vec![b' '; 10 * 1024]),
    });
    // 20 MB of distinct answers into a 1 MiB cache.
    for hotel in 1..=2000 {
        let q = parse_dashboard_query(&format!("hotel_id={hotel}&period=day&year=2022")).unwrap();
        cache.put(q, 0, answer.clone());
    }
    let (entries, bytes) = cache.held();
    assert!(bytes <= MAX, "{entries} answers weigh {bytes} bytes");
    assert!(entries > 0 && entries < 2000, "{entries} answers held");
}
