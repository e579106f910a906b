//! Bad input is normal input: every case answers 4xx with a JSON error naming the field.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::fixtures::event_json;
use crate::helpers::TestApp;

fn good() -> Value {
    event_json(5, 2607, "2022-06-24 13:00:56", 1, "2022-06-26")
}

fn with(field: &str, value: Value) -> String {
    let mut v = good();
    v[field] = value;
    v.to_string()
}

fn without(field: &str) -> String {
    let mut v = good();
    v.as_object_mut().unwrap().remove(field);
    v.to_string()
}

#[tokio::test]
async fn bad_bodies_name_the_field() {
    let app = TestApp::spawn().await;
    let huge = format!("{{\"pad\":\"{}\"}}", "x".repeat(1 << 20));
    let cases: Vec<(String, StatusCode, Option<&str>)> = vec![
        ("".into(), StatusCode::BAD_REQUEST, None),
        ("not json".into(), StatusCode::BAD_REQUEST, None),
        ("[1,2,3]".into(), StatusCode::BAD_REQUEST, None),
        ("\"a string\"".into(), StatusCode::BAD_REQUEST, None),
        ("null".into(), StatusCode::BAD_REQUEST, None),
        ("{\"hotel_id\": 1".into(), StatusCode::BAD_REQUEST, None),
        (huge, StatusCode::PAYLOAD_TOO_LARGE, None),
        (
            with("id", json!(0)),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("id"),
        ),
        (
            with("id", json!(-5)),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("id"),
        ),
        (
            with("id", json!(1.5)),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("id"),
        ),
        (
            with("id", json!("9223372036854775808")),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("id"),
        ),
        (
            with("id", json!(true)),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("id"),
        ),
        (
            with("hotel_id", json!(0)),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("hotel_id"),
        ),
        (
            with("hotel_id", json!(2147483648i64)),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("hotel_id"),
        ),
        (
            with("hotel_id", json!("abc")),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("hotel_id"),
        ),
        (
            with("hotel_id", json!([1])),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("hotel_id"),
        ),
        (
            with("hotel_id", json!({"a": 1})),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("hotel_id"),
        ),
        (
            without("hotel_id"),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("hotel_id"),
        ),
        (
            with("hotel_id", Value::Null),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("hotel_id"),
        ),
        (
            with("event_timestamp", json!("24/06/2022")),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("event_timestamp"),
        ),
        (
            with("event_timestamp", json!("2022-06-24 25:00:00")),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("event_timestamp"),
        ),
        (
            with("event_timestamp", json!("1492-10-12 00:00:00")),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("event_timestamp"),
        ),
        (
            with("event_timestamp", json!(1656075656)),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("event_timestamp"),
        ),
        (
            without("event_timestamp"),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("event_timestamp"),
        ),
        (
            with("status", json!(0)),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("status"),
        ),
        (
            with("status", json!(3)),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("status"),
        ),
        (
            with("status", json!("booking")),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("status"),
        ),
        (
            without("status"),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("status"),
        ),
        (
            with("room_reservation_id", json!("not-a-uuid")),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("room_reservation_id"),
        ),
        (
            with(
                "room_reservation_id",
                json!("0013e338-0158-4d5c-8698-aebe00cba36"),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("room_reservation_id"),
        ),
        (
            with("room_reservation_id", json!(12)),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("room_reservation_id"),
        ),
        (
            without("room_reservation_id"),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("room_reservation_id"),
        ),
        (
            with("night_of_stay", json!("2022-02-30")),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("night_of_stay"),
        ),
        (
            with("night_of_stay", json!("2022-6-1")),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("night_of_stay"),
        ),
        (
            with("night_of_stay", json!("2200-01-01")),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("night_of_stay"),
        ),
        (
            without("night_of_stay"),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("night_of_stay"),
        ),
        (
            with("rpg_status", json!(2)),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("status"),
        ), // given twice
    ];
    for (body, status, field) in cases {
        let shown: String = body.chars().take(80).collect();
        let r = app
            .client
            .post(app.url("/events"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "{shown}");
        let err: Value = r
            .json()
            .await
            .unwrap_or_else(|e| panic!("{shown}: not JSON: {e}"));
        assert!(
            err["error"].as_str().is_some_and(|m| !m.is_empty()),
            "{shown}: {err}"
        );
        if let Some(field) = field {
            assert_eq!(err["field"], field, "{shown}: {err}");
            assert!(
                err["error"].as_str().unwrap().contains(field),
                "{shown}: {err}"
            );
        }
    }
    assert_eq!(app.stored_count().await, 0);
}

#[tokio::test]
async fn bad_query_parameters_name_the_parameter() {
    let app = TestApp::spawn().await;
    let cases = [
        ("hotel_id=abc", "hotel_id"),
        ("hotel_id=0", "hotel_id"),
        ("hotel_id=99999999999", "hotel_id"),
        ("updated__gte=yesterday", "updated__gte"),
        ("updated_gte=2022-13-01T00:00:00Z", "updated_gte"),
        ("updated__gt=2022-01-01", "updated__gt"),
        ("updated__lte=1", "updated__lte"),
        ("updated_lt=x", "updated_lt"),
        ("rpg_status=3", "rpg_status"),
        ("status=x", "status"),
        ("room_id=123", "room_id"),
        ("room_reservation_id=zz", "room_reservation_id"),
        ("night_of_stay__gte=2022-02-30", "night_of_stay__gte"),
        ("night_of_stay_lte=tomorrow", "night_of_stay_lte"),
        ("limit=0", "limit"),
        ("limit=10001", "limit"),
        ("limit=ten", "limit"),
        ("cursor=abc", "cursor"),
        ("hotel_id=1&hotel_id=2", "hotel_id"),
        ("status=1&rpg_status=1", "rpg_status"),
    ];
    for (query, field) in cases {
        app.assert_rejects_param(&format!("/events?{query}"), field)
            .await;
    }
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_4xx() {
    let app = TestApp::spawn().await;
    let r = app.client.get(app.url("/nope")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(r.json::<Value>().await.unwrap()["error"].is_string());
    let r = app.client.delete(app.url("/events")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
}
