//! Ids as a JavaScript client reads them: JSON numbers are doubles there, so every id the
//! service hands out must be at most 2^53 − 1, and larger ones must be refused on the way in.
//! Read back here with Node's `JSON.parse` (`NODE`, default `node` on the PATH).

use std::time::Duration;

use reqwest::StatusCode;
use roompulse::data_provider::event::{ASSIGNED_ID_FLOOR, MAX_ID};
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

use crate::common::fixtures::{booking, event_json};
use crate::common::wait::eventually;
use crate::helpers::TestApp;

/// The `id` of every element of the JSON array `body`, as `JSON.parse` in Node reads them.
async fn ids_read_by_javascript(body: &str) -> Vec<String> {
    let node = std::env::var("NODE").unwrap_or_else(|_| "node".to_string());
    let mut child = tokio::process::Command::new(&node)
        .args([
            "-e",
            "let s = ''; process.stdin.on('data', d => s += d).on('end', () => \
             console.log(JSON.stringify(JSON.parse(s).map(e => String(e.id)))))",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {node} (Node.js; .ci/run installs it): {e}"));
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(body.as_bytes())
        .await
        .expect("write to node");
    drop(stdin);
    let out = child.wait_with_output().await.expect("node ends");
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).expect("node's answer")
}

/// The ids of the JSON array `body` as Rust reads them: exactly.
fn ids_read_exactly(body: &str) -> Vec<String> {
    let events: Vec<Value> = serde_json::from_str(body).expect("a JSON array");
    events
        .iter()
        .map(|e| e["id"].as_i64().expect("an integer id").to_string())
        .collect()
}

#[tokio::test]
async fn every_id_reads_the_same_in_javascript_and_larger_ids_are_refused() {
    let app = TestApp::spawn().await;
    let post = |body: Value| {
        let request = app.client.post(app.url("/events")).json(&body);
        async move { request.send().await.unwrap() }
    };

    // Ids the service assigns, and the largest a client may send.
    let mut posted = Vec::new();
    for night in ["2022-06-26", "2022-06-27", "2022-06-28"] {
        let mut body = event_json(0, 2607, "2022-06-24T13:00:56Z", 1, night);
        body.as_object_mut().unwrap().remove("id");
        let r = post(body).await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
        assert!((ASSIGNED_ID_FLOOR..=MAX_ID).contains(&id), "{id}");
        posted.push(id);
    }
    let largest_client_id = ASSIGNED_ID_FLOOR - 1;
    let r = post(event_json(
        largest_client_id,
        2607,
        "2022-06-24T13:00:56Z",
        2,
        "2022-06-26",
    ))
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    posted.push(largest_client_id);

    // Larger ids, as numbers or strings: 422 naming the field and the limit.
    for too_large in [json!(MAX_ID + 1), json!("4611686018427387905")] {
        let mut body = booking(1, 2607);
        body["id"] = too_large.clone();
        let r = post(body).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{too_large}");
        let error: Value = r.json().await.unwrap();
        assert_eq!(error["field"], "id", "{error}");
        assert!(
            error["error"]
                .as_str()
                .unwrap()
                .contains("9007199254740991"),
            "{error}"
        );
    }

    // The listing and the change feed, read by JavaScript as by Rust. The feed shows a commit
    // once no older transaction runs on the server, which other sessions may delay.
    let mut want: Vec<String> = posted.iter().map(i64::to_string).collect();
    want.sort();
    for path in ["/events?hotel_id=2607", "/events?order=stored"] {
        let body = std::sync::Mutex::new(String::new());
        eventually(
            &format!("{path} lists every posted event"),
            Duration::from_secs(60),
            || async {
                let text = app
                    .client
                    .get(app.url(path))
                    .send()
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap();
                let mut got = ids_read_exactly(&text);
                got.sort();
                *body.lock().unwrap() = text;
                got == want
            },
        )
        .await;
        let body = body.into_inner().unwrap();
        assert_eq!(
            ids_read_by_javascript(&body).await,
            ids_read_exactly(&body),
            "{path}"
        );
    }
    app.stop().await;
}
