//! `GET /`, the chart page: loaded in a real browser (Debian's chromium, headless) against the
//! running service with known figures, and its answers to bad parameters.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use chrono::NaiveDate;
use diesel::sql_types::{BigInt, Date, Int4, SmallInt};
use diesel_async::RunQueryDsl;
use reqwest::StatusCode;
use serde_json::Value;

use roompulse::dashboard::{store, Basis};

use crate::helpers::TestApp;

fn chromium() -> PathBuf {
    let path = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/usr/bin/chromium".into());
    assert!(
        path.exists(),
        "{} is missing: the chart page's browser test needs Debian's chromium. \
         .ci/run installs it (apt-get update && apt-get install -y chromium); \
         or set CHROMIUM to a chromium binary",
        path.display()
    );
    path
}

/// Runs headless chromium on `url` with `args` and returns what it printed.
async fn browse(args: &[&str], url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut cmd = tokio::process::Command::new(chromium());
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .args(args)
    .arg(url)
    .stdin(Stdio::null())
    .kill_on_drop(true);
    // A hang guard, not a performance assertion.
    let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .expect("chromium did not finish within 60 s")
        .expect("start chromium");
    assert!(
        out.status.success(),
        "chromium failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `(hotel_id, basis code, day, bookings, cancellations)` rows straight into the Dashboard's table.
async fn put_figures(app: &TestApp, figures: &[(i32, i16, &str, i64, i64)]) {
    let mut conn = app.dashboard_db().get().await.unwrap();
    for &(hotel, basis, day, bookings, cancellations) in figures {
        diesel::sql_query(
            "INSERT INTO dashboard_daily (hotel_id, basis, day, bookings, cancellations) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind::<Int4, _>(hotel)
        .bind::<SmallInt, _>(basis)
        .bind::<Date, _>(NaiveDate::parse_from_str(day, "%Y-%m-%d").unwrap())
        .bind::<BigInt, _>(bookings)
        .bind::<BigInt, _>(cancellations)
        .execute(&mut conn)
        .await
        .unwrap();
    }
}

/// The part of the DOM between `<section id="{id}">` and its `</section>`.
fn section<'a>(dom: &'a str, id: &str) -> &'a str {
    let start = dom
        .find(&format!(r#"<section id="{id}">"#))
        .unwrap_or_else(|| panic!("no section {id} in {dom}"));
    let rest = &dom[start..];
    &rest[..rest.find("</section>").unwrap()]
}

/// The `<td>` texts of the table row of `bucket`.
fn cells(dom: &str, bucket: &str) -> Vec<i64> {
    let start = dom
        .find(&format!(r#"<tr data-bucket="{bucket}">"#))
        .unwrap_or_else(|| panic!("no table row for {bucket}"));
    let row = &dom[start..];
    let row = &row[..row.find("</tr>").unwrap()];
    row.split("<td>")
        .skip(1)
        .map(|c| c.split("</td>").next().unwrap().parse().unwrap())
        .collect()
}

async fn dashboard(app: &TestApp, query: &str) -> Vec<Value> {
    let r = app
        .client
        .get(app.url(&format!("/dashboard?{query}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

/// Every row `GET /dashboard` answers for `query` is in the section's table, figure for figure.
async fn assert_table_matches_the_api(app: &TestApp, dom: &str, query: &str) {
    let rows = dashboard(app, query).await;
    assert_eq!(dom.matches("<tr data-bucket=").count(), rows.len());
    for r in rows {
        let key = match r["day"].as_u64() {
            None => format!("{}-{:02}", r["year"], r["month"].as_u64().unwrap()),
            Some(d) => format!("{}-{:02}-{d:02}", r["year"], r["month"].as_u64().unwrap()),
        };
        let want: Vec<i64> = ["bookings", "cancellations", "booking_count"]
            .iter()
            .map(|f| r[*f].as_i64().unwrap())
            .collect();
        assert_eq!(cells(dom, &key), want, "{key}");
    }
}

#[tokio::test]
async fn the_chart_page_draws_the_dashboard_in_a_browser() {
    // Before any setup, so that a missing browser is the first thing the failure says.
    chromium();
    let app = TestApp::spawn().await;
    put_figures(
        &app,
        &[
            (7, 1, "2022-01-15", 4, 1),
            (7, 1, "2022-06-03", 5, 2),
            (7, 1, "2022-06-20", 3, 0),
            (7, 1, "2022-12-31", 2, 0),
            // Other bases, hotels and years, none of which may show.
            (7, 2, "2022-06-10", 9, 9),
            (8, 1, "2022-06-03", 100, 0),
            (7, 1, "2021-12-31", 50, 0),
        ],
    )
    .await;
    let url = app.url("/?hotel_id=7&year=2022&basis=event&month=6");

    let dom = browse(&["--dump-dom"], &url).await;
    for link in [
        "/swagger-ui/",
        "/api-docs/data-provider.json",
        "/api-docs/dashboard.json",
    ] {
        assert!(dom.contains(&format!(r#"href="{link}""#)), "{link}");
    }
    assert!(!dom.contains("<script") && !dom.contains("src="), "{dom}");

    let by_month = section(&dom, "by-month");
    assert_eq!(
        by_month.matches(r#"<rect class="bar"#).count(),
        5,
        "{by_month}"
    );
    assert_eq!(by_month.matches(r#"<rect class="bar bookings""#).count(), 3);
    assert!(by_month.contains("<title>Jun 2022: 8 bookings</title>"));
    // Net bookings drawn too, and the y axis labelled: 0 to 8 in steps of 2.
    assert_eq!(by_month.matches(r#"<polyline class="net""#).count(), 1);
    assert_eq!(by_month.matches(r#"<circle class="net""#).count(), 12);
    assert!(by_month.contains("<title>Jun 2022: 6 net bookings</title>"));
    assert!(by_month.contains("<title>Jul 2022: 0 net bookings</title>"));
    let y_labels: Vec<&str> = by_month
        .split(r#"<text class="tick y""#)
        .skip(1)
        .map(|t| t.split('>').nth(1).unwrap().split('<').next().unwrap())
        .collect();
    assert_eq!(y_labels, ["0", "2", "4", "6", "8"], "{by_month}");
    // The form offers the hotels with figures on this basis, with their years.
    assert!(
        dom.contains(r#"<option value="7" selected="">7 (2021–2022)</option><option value="8">8 (2022)</option>"#),
        "{dom}"
    );
    assert_eq!(cells(by_month, "2022-01"), [4, 1, 3]);
    assert_eq!(cells(by_month, "2022-06"), [8, 2, 6]);
    assert_eq!(cells(by_month, "2022-12"), [2, 0, 2]);
    assert_eq!(cells(by_month, "2022-07"), [0, 0, 0]);
    assert_table_matches_the_api(
        &app,
        by_month,
        "hotel_id=7&period=month&year=2022&basis=event",
    )
    .await;

    let by_day = section(&dom, "by-day");
    assert_eq!(by_day.matches(r#"<rect class="bar"#).count(), 3, "{by_day}");
    assert!(by_day.contains("<title>3 Jun 2022: 2 cancellations</title>"));
    assert_eq!(cells(by_day, "2022-06-03"), [5, 2, 3]);
    assert_eq!(cells(by_day, "2022-06-20"), [3, 0, 3]);
    assert_eq!(cells(by_day, "2022-06-10"), [0, 0, 0]);
    assert_table_matches_the_api(
        &app,
        by_day,
        "hotel_id=7&period=day&year=2022&month=6&basis=event",
    )
    .await;

    // Somewhere a person (or a CI artefact) can look at it.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = dir.join("dashboard.png");
    let _ = std::fs::remove_file(&png);
    browse(
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=1200,1600",
            "--hide-scrollbars",
        ],
        &url,
    )
    .await;
    let bytes = std::fs::read(&png).unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{}", png.display());

    // Nothing chosen: the first hotel, in its latest year with figures.
    let dom = browse(&["--dump-dom"], &app.url("/")).await;
    let by_month = section(&dom, "by-month");
    assert!(
        by_month.contains("<h2>Hotel 7, 2022, per month (event basis)</h2>"),
        "{by_month}"
    );
    assert!(dom.contains(r#"name="year" min="1900" max="2100" required="" value="2022""#));
    // A year without events says so, rather than drawing an empty frame.
    let dom = browse(&["--dump-dom"], &app.url("/?hotel_id=8&year=2021")).await;
    assert!(
        dom.contains("No events for this hotel and year: hotel 8 has none in 2021 on the event basis; its figures are in 2022."),
        "{dom}"
    );
    assert!(!dom.contains("<svg") && !dom.contains("<section"), "{dom}");

    // The error page, as the browser shows it.
    let dom = browse(&["--dump-dom"], &app.url("/?hotel_id=7&year=2022&month=13")).await;
    assert!(
        dom.contains("query parameter `month` must be an integer from 1 to 12"),
        "{dom}"
    );
    assert!(!dom.contains("<section"), "no chart with an error: {dom}");
}

async fn page(app: &TestApp, query: &str) -> (StatusCode, String) {
    let r = app.client.get(app.url(query)).send().await.unwrap();
    let status = r.status();
    if status != StatusCode::METHOD_NOT_ALLOWED {
        assert_eq!(
            r.headers()["content-type"],
            "text/html; charset=utf-8",
            "{query}"
        );
        assert!(r.headers().contains_key("content-security-policy"));
    }
    (status, r.text().await.unwrap())
}

#[tokio::test]
async fn bad_parameters_show_the_message_with_400_and_everything_is_escaped() {
    let app = TestApp::spawn().await;
    let (status, body) = page(&app, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("<form") && !body.contains("<section"));

    let cases = [
        ("/?hotel_id=abc&year=2022", "hotel_id"),
        ("/?hotel_id=1&hotel_id=2&year=2022", "hotel_id"),
        ("/?hotel_id=1&year=1800", "year"),
        ("/?hotel_id=1&year=2022&basis=booking", "basis"),
        ("/?hotel_id=1&year=2022&month=13", "month"),
        ("/?hotel_id=1&year=2022&month=June", "month"),
    ];
    for (query, field) in cases {
        let (status, body) = page(&app, query).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert!(
            body.contains(&format!("query parameter `{field}`")),
            "{query}: {body}"
        );
        assert!(body.contains("<form"), "the form stays, to fix the value");
    }

    let (status, body) = page(
        &app,
        "/?hotel_id=%22%3E%3Cscript%3Ealert(1)%3C/script%3E&year=2022",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(!body.contains("<script"), "{body}");
    assert!(body.contains("&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"));

    let (status, body) = page(&app, "/?hotel_id=3&year=2022&basis=stay").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains(
            "No events for this hotel and year: hotel 3 has none in 2022 on the stay basis."
        ),
        "{body}"
    );
    assert!(!body.contains("<section") && !body.contains("<svg"));
    // No hotel and no figures at all: nothing to default to, and the page says why.
    for query in ["/", "/?hotel_id=&year=2022&basis=event&month="] {
        let (status, body) = page(&app, query).await;
        assert_eq!(status, StatusCode::OK, "{query}");
        assert!(body.contains("No figures yet"), "{query}: {body}");
        assert!(body.contains(r#"<input type="number" name="hotel_id""#));
    }
    // A hotel without figures and no year: this year, which has none either.
    let (status, body) = page(&app, "/?hotel_id=1").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("No events for this hotel and year"), "{body}");

    let r = app.client.post(app.url("/")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn the_form_offers_the_hotels_with_figures_and_defaults_to_their_latest_year() {
    let app = TestApp::spawn().await;
    put_figures(
        &app,
        &[
            (9, 1, "2019-03-01", 1, 0),
            (9, 1, "2023-05-02", 2, 1),
            (9, 2, "2024-01-03", 1, 0),
            (4, 1, "2021-07-04", 3, 0),
        ],
    )
    .await;
    let hotels = store::hotel_years(app.dashboard_db()).await.unwrap();
    let years = |h: &store::HotelYears| (h.hotel_id, h.basis, h.first_year, h.last_year);
    assert_eq!(
        hotels.iter().map(years).collect::<Vec<_>>(),
        [
            (4, Basis::Event, 2021, 2021),
            (9, Basis::Event, 2019, 2023),
            (9, Basis::Stay, 2024, 2024),
        ]
    );

    // Nothing chosen: the first hotel (4) in its latest year.
    let (status, body) = page(&app, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains(r#"<option value="4" selected>4 (2021)</option><option value="9">9 (2019–2023)</option>"#), "{body}");
    assert!(
        body.contains("<h2>Hotel 4, 2021, per month (event basis)</h2>"),
        "{body}"
    );
    // A hotel chosen without a year: its latest year on the chosen basis.
    let (_, body) = page(&app, "/?hotel_id=9").await;
    assert!(
        body.contains("<h2>Hotel 9, 2023, per month (event basis)</h2>"),
        "{body}"
    );
    let (_, body) = page(&app, "/?hotel_id=9&basis=stay").await;
    assert!(
        body.contains("<h2>Hotel 9, 2024, per month (stay basis)</h2>"),
        "{body}"
    );
    assert!(
        body.contains(r#"<select name="hotel_id" required><option value="9" selected>9 (2024)</option></select>"#),
        "only the hotels with figures on the stay basis: {body}"
    );
    // A hotel without figures, asked for in the address, is echoed and said to have none.
    let (status, body) = page(&app, "/?hotel_id=5&year=2023").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains(r#"<option value="5" selected>5 (no figures)</option>"#),
        "{body}"
    );
    assert!(
        body.contains("No events for this hotel and year: hotel 5 has none in 2023"),
        "{body}"
    );
    // Markup and quotes in the address come back as text, in the echoed option and the year too.
    let (status, body) = page(
        &app,
        "/?hotel_id=%22%3E%3Cscript%3Ealert(%27x%27)%3C/script%3E&year=%27%22%3E%3Cscript%3E",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(!body.contains("<script"), "{body}");
    assert!(
        body.contains(r#"<option value="&quot;&gt;&lt;script&gt;alert("#),
        "{body}"
    );
    assert!(
        body.contains("&lt;/script&gt; (no figures)</option>"),
        "{body}"
    );
    let year = body
        .split(r#"name="year" min="1900" max="2100" required value=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next());
    assert!(
        year.is_some_and(|v| v.ends_with("&quot;&gt;&lt;script&gt;")),
        "{body}"
    );
    let (_, body) = page(&app, "/?hotel_id=9&year=2020").await;
    assert!(
        body.contains("No events for this hotel and year: hotel 9 has none in 2020 on the event basis; its figures are in 2019–2023."),
        "{body}"
    );
}
