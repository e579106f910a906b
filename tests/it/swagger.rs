//! What Swagger UI does with the OpenAPI documents, done here on the real hotel's export: "Try it
//! out" fills every parameter and body from its example, "Execute" sends that; and each
//! documented error shows an example of its own status.

use std::collections::BTreeSet;
use std::time::Duration;

use roompulse::dashboard::sync;
use serde_json::Value;

use crate::common::redis::REDIS_URL;
use crate::common::wait::eventually;
use crate::helpers::{temp_dir, TestApp};

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/sample_events.csv");
const REAL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/city_hotel_events.csv.gz");

/// The app with the real hotel's export loaded as the README's walkthrough loads it (the
/// command line, the queue, the workers) and counted by the dashboard: Swagger UI's examples
/// are that hotel's.
async fn app_with_the_real_hotel() -> TestApp {
    let app = TestApp::spawn_with_workers(2).await;
    let dir = temp_dir();
    let csv = dir.path().join("city_hotel_events.csv");
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(std::fs::File::open(REAL).expect("data/ export")),
        &mut text,
    )
    .expect("a gzip CSV");
    let rows = text
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .count() as i64;
    std::fs::write(&csv, &text).expect("write the CSV");
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_roompulse"))
        .arg("load-events")
        .arg(&csv)
        .arg("--rejects")
        .arg(dir.path().join("rejects.csv"))
        .env("REDIS_URL", REDIS_URL)
        .env("EVENTS_QUEUE_KEY", &app.queue().keys().queue)
        .env_remove("RUST_LOG")
        .output()
        .await
        .expect("run load-events");
    assert!(out.status.success(), "{out:?}");
    eventually(
        "the workers stored the real hotel",
        Duration::from_secs(600),
        || async { app.stored_count().await == rows },
    )
    .await;
    app.synced(rows, sync::PAGE_SIZE).await;
    app
}

/// Follows a local `$ref` (`#/components/schemas/X`).
fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v["$ref"].as_str() {
        Some(r) => {
            let mut at = doc;
            for part in r.trim_start_matches("#/").split('/') {
                at = &at[part];
            }
            at
        }
        None => v,
    }
}

/// The value Swagger UI pre-fills for a parameter or a body: its example, else its schema's
/// example, else its schema's default.
fn prefilled(doc: &Value, v: &Value) -> Option<Value> {
    let schema = resolve(doc, &v["schema"]);
    let first_of_examples = v["examples"]
        .as_object()
        .and_then(|m| m.values().next())
        .map(|e| resolve(doc, e)["value"].clone());
    [
        Some(v["example"].clone()),
        first_of_examples,
        Some(schema["example"].clone()),
        Some(schema["default"].clone()),
    ]
    .into_iter()
    .flatten()
    .find(|x| !x.is_null())
}

fn as_param(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Every operation of `doc`, sent as Swagger UI sends it after "Try it out" with nothing
/// changed: `(method, path, url sent, status, body)`.
async fn execute_prefilled(app: &TestApp, doc: &Value) -> Vec<(String, String, u16, Value)> {
    let mut answers = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let mut url_path = path.clone();
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            for p in params
                .iter()
                .chain(item["parameters"].as_array().into_iter().flatten())
            {
                let name = p["name"].as_str().unwrap();
                let value = prefilled(doc, p);
                if p["required"] == true {
                    assert!(
                        value.is_some(),
                        "{method} {path}: the required parameter {name} has no example, so \
                         Try it out sends an incomplete request"
                    );
                }
                let Some(value) = value else { continue };
                match p["in"].as_str() {
                    Some("path") => {
                        url_path = url_path.replace(&format!("{{{name}}}"), &as_param(&value))
                    }
                    Some("query") => {
                        query.append_pair(name, &as_param(&value));
                    }
                    other => panic!("{method} {path}: parameter {name} in {other:?}"),
                }
            }
            let query = query.finish();
            let url = if query.is_empty() {
                url_path.clone()
            } else {
                format!("{url_path}?{query}")
            };
            let mut request = app
                .client
                .request(method.to_uppercase().parse().unwrap(), app.url(&url));
            let body = &op["requestBody"];
            if body.is_object() {
                let json = &body["content"]["application/json"];
                let example = prefilled(doc, json);
                if body["required"] == true {
                    assert!(
                        example.is_some(),
                        "{method} {path}: the body has no example"
                    );
                }
                if let Some(example) = example {
                    request = request.json(&example);
                }
            }
            let r = request.send().await.unwrap();
            let status = r.status().as_u16();
            let text = r.text().await.unwrap();
            let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
            answers.push((method.to_uppercase(), url, status, body));
        }
    }
    answers
}

#[tokio::test]
async fn try_it_out_as_prefilled_succeeds_for_every_operation_and_the_readme_queries_have_data() {
    let app = app_with_the_real_hotel().await;
    let mut sent = BTreeSet::new();
    for doc_url in ["/api-docs/data-provider.json", "/api-docs/dashboard.json"] {
        let doc: Value = app.get_json(doc_url).await;
        for (method, url, status, body) in execute_prefilled(&app, &doc).await {
            assert!(
                (200..300).contains(&status),
                "{doc_url}: {method} {url} answered {status}: {body}"
            );
            let path = url.split('?').next().unwrap().to_string();
            match (method.as_str(), path.as_str()) {
                ("POST", "/events") => assert!([200, 201].contains(&status), "{body}"),
                ("GET", "/events") => {
                    assert!(!body.as_array().unwrap().is_empty(), "{url}: no events")
                }
                ("GET", "/dashboard" | "/dashboard/booking-curve" | "/dashboard/lead-time") => {
                    assert!(
                        figures(&path, &body) > 0,
                        "{url}: all zeros on the real hotel: {body}"
                    );
                }
                // `as_of` is optional: without it the figures are as of the hotel's latest
                // event day, so Try it out shows the hotel's figures, not zeros after it.
                ("GET", "/dashboard/pace") => {
                    let nights = body.as_array().unwrap();
                    assert_eq!(nights.len(), 90, "{url}");
                    assert!(nights
                        .iter()
                        .all(|n| n["pickup"].as_array().unwrap().len() == 3));
                    assert!(
                        figures(&path, &body) > 0,
                        "{url}: all zeros on the real hotel: {body}"
                    );
                }
                ("GET", "/dashboard/forecast") => {
                    let nights = body.as_array().unwrap();
                    assert_eq!(nights.len(), 90, "{url}");
                    assert!(
                        nights
                            .iter()
                            .any(|n| n["forecast"]["final"].as_f64() > Some(0.0)),
                        "{url}: no forecast on the real hotel: {body}"
                    );
                }
                ("GET", "/dashboard/forecast/accuracy") => {
                    assert!(
                        body["leads"][0]["nights"].as_u64() > Some(0),
                        "{url}: no night scored on the real hotel: {body}"
                    );
                }
                _ => {}
            }
            sent.insert(format!("{method} {path}"));
        }
    }
    for op in [
        "GET /events",
        "POST /events",
        "GET /dashboard",
        "GET /dashboard/pace",
        "GET /dashboard/booking-curve",
        "GET /dashboard/lead-time",
        "GET /dashboard/forecast",
        "GET /dashboard/forecast/accuracy",
        "GET /dashboard/alerts",
        "GET /ready",
    ] {
        assert!(sent.contains(op), "{op} was tried: {sent:?}");
    }

    // The README's own queries, on the real hotel, are run by `readme.rs`.
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    // The walkthrough's Swagger step names the values Try it out fills in.
    let doc: Value = app.get_json("/api-docs/dashboard.json").await;
    let example = |name: &str| {
        let params = doc["paths"]["/dashboard"]["get"]["parameters"]
            .as_array()
            .unwrap();
        as_param(&params.iter().find(|p| p["name"] == name).unwrap()["example"])
    };
    let said = format!(
        "fills in `hotel_id` {}, `period` {}, `year` {}",
        example("hotel_id"),
        example("period"),
        example("year")
    );
    let flat = readme.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains(&said), "the walkthrough should say: {said}");
}

/// The sum of the magnitudes of every figure in a Dashboard answer to `path`: zero only when
/// the answer is all zeros.
pub(crate) fn figures(path: &str, body: &Value) -> i64 {
    let n = |v: &Value| v.as_i64().unwrap().abs();
    body.as_array()
        .unwrap()
        .iter()
        .map(|r| match path.trim_end_matches('/') {
            "/dashboard" | "/dashboard/lead-time" => n(&r["bookings"]) + n(&r["cancellations"]),
            "/dashboard/pace" => {
                n(&r["on_the_books"])
                    + n(&r["stly"]["on_the_books"])
                    + r["pickup"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|p| n(&p["bookings"]) + n(&p["cancellations"]))
                        .sum::<i64>()
            }
            "/dashboard/booking-curve" => n(&r["on_the_books"]) + n(&r["stly_on_the_books"]),
            other => panic!("no figures known for {other}"),
        })
        .sum()
}

/// The sample's real range, as the data's README states it.
#[test]
fn the_data_readme_states_the_sample_s_date_range() {
    let text = std::fs::read_to_string(SAMPLE).unwrap();
    let mut rows = csv::Reader::from_reader(text.as_bytes());
    let headers = rows.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (ts, night) = (col("event_timestamp"), col("night_of_stay"));
    let (mut first, mut last, mut last_night) = (String::from("~"), String::new(), String::new());
    for row in rows.records() {
        let row = row.unwrap();
        if row.len() <= ts {
            continue;
        }
        let day = row[ts][..10].to_string();
        first = first.min(day.clone());
        last = last.max(day);
        last_night = last_night.max(row[night].to_string());
    }
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/data/README.md")).unwrap();
    let want = format!("events from {first} to {last}, nights of stay to {last_night}");
    assert!(readme.contains(&want), "data/README.md should say: {want}");
}

/// The example of each documented error, per operation and status.
#[tokio::test]
async fn each_documented_error_shows_an_example_of_its_own_status() {
    let app = TestApp::spawn().await;
    let mut seen = BTreeSet::new();
    for doc_url in ["/api-docs/data-provider.json", "/api-docs/dashboard.json"] {
        let doc: Value = app.get_json(doc_url).await;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let params: Vec<&str> = op["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| p["name"].as_str().unwrap())
                    .collect();
                let mut errors = BTreeSet::new();
                for (status, response) in op["responses"].as_object().unwrap() {
                    let content = &response["content"]["application/json"];
                    if content["schema"]["$ref"] != "#/components/schemas/ErrorBody" {
                        continue;
                    }
                    let at = format!("{doc_url} {method} {path} {status}");
                    let example = &content["example"];
                    let error = example["error"]
                        .as_str()
                        .unwrap_or_else(|| panic!("{at}: no example: {response}"));
                    assert!(
                        errors.insert(error.to_string()),
                        "{at}: the same example twice"
                    );
                    let appropriate = match status.as_str() {
                        "400" if method == "get" => {
                            let field = example["field"].as_str().unwrap_or_default();
                            params.contains(&field)
                                && error.contains(&format!("query parameter `{field}`"))
                        }
                        "400" => error.contains("JSON object"),
                        "401" => error.contains("needs an API key or token"),
                        "403" => {
                            error.contains("does not give access to hotel")
                                && example["field"] == "hotel_id"
                        }
                        "409" => error.contains("already stored") && example["stored"].is_object(),
                        "413" => error.contains("larger than"),
                        "415" => {
                            error.contains("application/json") && example["field"] == "Content-Type"
                        }
                        "422" => error.starts_with("invalid event") && example["fields"].is_array(),
                        "503" => error.contains("unavailable"),
                        other => panic!("{at}: status {other} has no expectation here"),
                    };
                    assert!(appropriate, "{at}: the example does not fit: {example}");
                    if status != "422" {
                        assert!(!error.contains("invalid event"), "{at}: {example}");
                    }
                    seen.insert(status.clone());
                }
            }
        }
        // No schema-wide example left for Swagger UI to show under every status.
        assert!(
            doc["components"]["schemas"]["ErrorBody"]["example"].is_null(),
            "{doc_url}"
        );
    }
    let want: BTreeSet<String> = ["400", "401", "403", "409", "413", "415", "422", "503"]
        .map(String::from)
        .into();
    assert_eq!(seen, want);
}
