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
use roompulse::data_provider::generate::Rng;

use crate::helpers::TestApp;

pub(crate) fn chromium() -> PathBuf {
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

/// How every test starts headless chromium: no sandbox (root in CI), nothing fetched.
pub(crate) const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
];

/// Runs headless chromium on `url` with `args` and returns what it printed.
async fn browse(args: &[&str], url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut cmd = tokio::process::Command::new(chromium());
    cmd.args(CHROMIUM_FLAGS)
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
pub(crate) async fn put_figures(app: &TestApp, figures: &[(i32, i16, &str, i64, i64)]) {
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

/// Every row `GET /dashboard` answers for `query` is in the section's table, figure for figure,
/// and with `last_year` (the same query a year earlier), that answer's net bookings beside it.
async fn assert_table_matches_the_api(
    app: &TestApp,
    dom: &str,
    query: &str,
    last_year: Option<&str>,
) {
    let rows = dashboard(app, query).await;
    let earlier = match last_year {
        Some(q) => dashboard(app, q).await,
        None => Vec::new(),
    };
    assert_eq!(dom.matches("<tr data-bucket=").count(), rows.len());
    for (i, r) in rows.iter().enumerate() {
        let key = match r["day"].as_u64() {
            None => format!("{}-{:02}", r["year"], r["month"].as_u64().unwrap()),
            Some(d) => format!("{}-{:02}-{d:02}", r["year"], r["month"].as_u64().unwrap()),
        };
        let mut want: Vec<i64> = ["bookings", "cancellations", "booking_count"]
            .iter()
            .map(|f| r[*f].as_i64().unwrap())
            .collect();
        if last_year.is_some() {
            assert_eq!(earlier[i]["month"], r["month"]);
            want.push(earlier[i]["booking_count"].as_i64().unwrap());
        }
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
    // The intro says how fresh the figures are and that there is a Pace view.
    assert!(
        dom.contains(
            "follows the Data Provider's change feed and counts each event within a second"
        ),
        "{dom}"
    );
    assert!(dom.contains("<strong>Pace</strong>") && !dom.contains("scheduled sync"));

    let by_month = section(&dom, "by-month");
    assert_eq!(
        by_month.matches(r#"<rect class="bar"#).count(),
        5,
        "{by_month}"
    );
    assert_eq!(by_month.matches(r#"<rect class="bar bookings""#).count(), 3);
    assert!(by_month.contains("<title>Jun 2022: 8 bookings</title>"));
    // Net bookings drawn too, and last year's beside them (50 in Dec 2021), and the y axis
    // labelled to cover both: 0 to 60 in steps of 20.
    assert_eq!(by_month.matches(r#"<polyline class="net""#).count(), 1);
    assert_eq!(by_month.matches(r#"<circle class="net""#).count(), 12);
    assert!(by_month.contains("<title>Jun 2022: 6 net bookings</title>"));
    assert!(by_month.contains("<title>Jul 2022: 0 net bookings</title>"));
    assert_eq!(
        by_month.matches(r#"<polyline class="last-year""#).count(),
        1
    );
    assert_eq!(by_month.matches(r#"<circle class="last-year""#).count(), 12);
    assert!(by_month.contains("<title>Dec 2021: 50 net bookings</title>"));
    assert!(by_month.contains(r#"<span class="key line last-year"></span>net bookings in 2021"#));
    let y_labels: Vec<&str> = by_month
        .split(r#"<text class="tick y""#)
        .skip(1)
        .map(|t| t.split('>').nth(1).unwrap().split('<').next().unwrap())
        .collect();
    assert_eq!(y_labels, ["0", "20", "40", "60"], "{by_month}");
    // Both axes say what they count, and the table says what the legend says.
    assert!(by_month.contains(">room-nights</text>"), "{by_month}");
    assert!(by_month.contains(r#"text-anchor="middle">month of 2022</text>"#));
    assert!(by_month.contains(r#"<th scope="col">Net bookings</th>"#));
    assert!(!dom.contains("Booking count"));
    // The form offers the hotels with figures on this basis, with their years.
    assert!(
        dom.contains(r#"<option value="7" selected="">7 (2021–2022)</option><option value="8">8 (2022)</option>"#),
        "{dom}"
    );
    assert_eq!(cells(by_month, "2022-01"), [4, 1, 3, 0]);
    assert_eq!(cells(by_month, "2022-06"), [8, 2, 6, 0]);
    assert_eq!(cells(by_month, "2022-12"), [2, 0, 2, 50]);
    assert_eq!(cells(by_month, "2022-07"), [0, 0, 0, 0]);
    assert_table_matches_the_api(
        &app,
        by_month,
        "hotel_id=7&period=month&year=2022&basis=event",
        Some("hotel_id=7&period=month&year=2021&basis=event"),
    )
    .await;

    let by_day = section(&dom, "by-day");
    assert_eq!(by_day.matches(r#"<rect class="bar"#).count(), 3, "{by_day}");
    assert!(by_day.contains("<title>Fri 3 Jun 2022: 2 cancellations</title>"));
    // Each day's weekday under it, the weekends shaded: 1 June 2022 is a Wednesday.
    assert!(by_day.contains(r#"text-anchor="middle">day of Jun 2022 (weekday under it)</text>"#));
    assert_eq!(by_day.matches(r#"<text class="tick weekday"#).count(), 30);
    assert_eq!(
        by_day.matches(r#"<rect class="weekend""#).count(),
        8,
        "{by_day}"
    );
    assert!(by_day.contains(r#"<th scope="row">Sat 4 Jun 2022</th>"#));
    assert_eq!(cells(by_day, "2022-06-03"), [5, 2, 3]);
    assert_eq!(cells(by_day, "2022-06-20"), [3, 0, 3]);
    assert_eq!(cells(by_day, "2022-06-10"), [0, 0, 0]);
    assert_table_matches_the_api(
        &app,
        by_day,
        "hotel_id=7&period=day&year=2022&month=6&basis=event",
        None,
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

    // Nothing chosen: the hotel and year with the most events (hotel 8's 100 in 2022), not the
    // first hotel.
    let dom = browse(&["--dump-dom"], &app.url("/")).await;
    let by_month = section(&dom, "by-month");
    assert!(
        by_month.contains("<h2>Hotel 8, 2022, per month (event basis)</h2>"),
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

    // The Pace view, through its tab: the 90 nights from the latest event day counted for the
    // hotel (31 Dec 2022), then a night's booking curve through its link in the table.
    put_pace(&app, &pace_rows(7, d("2022-12-31"))).await;
    put_pace(&app, &lead_rows(7, d("2022-12-31"))).await;
    let dom = browse(&["--dump-dom"], &app.url("/?hotel_id=7&year=2022")).await;
    let tab = r#"<a href="/?view=pace&amp;hotel_id=7">Pace</a>"#;
    assert!(dom.contains(tab), "{dom}");
    let dom = browse(&["--dump-dom"], &app.url("/?view=pace&hotel_id=7")).await;
    assert!(!dom.contains("<script") && !dom.contains("src="), "{dom}");
    assert!(dom.contains(r#"aria-current="page">Pace</a>"#), "{dom}");
    let nights: Vec<Value> = app
        .get_json("/dashboard/pace?hotel_id=7&as_of=2022-12-31")
        .await;
    assert!(assert_pace_matches(&dom, &nights) > 200);
    let buckets: Vec<Value> = app
        .get_json("/dashboard/lead-time?hotel_id=7&from=2022-10-02&to=2022-12-30")
        .await;
    assert_lead_time_matches(&dom, &buckets);
    assert!(
        cells_text(section(&dom, "lead-time"), r#"<tr data-bucket="after">"#)[2..]
            == ["0", "3", "-3"],
        "the cancellations counted after their night are there: {dom}"
    );
    let link = "/?view=pace&amp;hotel_id=7&amp;as_of=2022-12-31&amp;night=2023-01-09#curve";
    assert!(dom.contains(&format!(r#"href="{link}""#)), "{dom}");
    let curve_url = app.url(&link.replace("&amp;", "&"));
    // Without the fragment: headless chromium's screenshot after scrolling to it is blank.
    let curve_shot = curve_url.trim_end_matches("#curve").to_string();
    let dom = browse(&["--dump-dom"], &curve_url).await;
    let points: Vec<Value> = app
        .get_json("/dashboard/booking-curve?hotel_id=7&night=2023-01-09")
        .await;
    assert_curve_matches(&dom, &points);
    assert!(dom.contains(r#"<tr data-night="2023-01-09" class="picked">"#));
    // The curve's legend draws its lines as lines, and its x axis says what it counts.
    let curve = section(&dom, "curve");
    assert!(
        curve.contains(r#"<span class="key line otb"></span>"#),
        "{curve}"
    );
    assert!(
        curve.contains(r#"<span class="key line stly"></span>"#),
        "{curve}"
    );
    assert!(curve.contains(r#"text-anchor="middle">days before the night</text>"#));
    // The nights' chart at the top of the Pace view, and with a night picked, its curve under it.
    for (name, url, height) in [
        ("pace.png", app.url("/?view=pace&hotel_id=7"), 1300),
        ("curve.png", curve_shot, 1500),
    ] {
        let png = dir.join(name);
        let _ = std::fs::remove_file(&png);
        browse(
            &[
                &format!("--screenshot={}", png.display()),
                &format!("--window-size=1200,{height}"),
                "--hide-scrollbars",
            ],
            &url,
        )
        .await;
        let bytes = std::fs::read(&png).unwrap();
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{}", png.display());
    }
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
async fn the_form_offers_the_hotels_with_figures_and_opens_on_the_busiest_hotel_and_year() {
    let app = TestApp::spawn().await;
    put_figures(
        &app,
        &[
            (9, 1, "2019-03-01", 5, 0),
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

    // Nothing chosen: the hotel and year with the most events, hotel 9's 5 in 2019 (not the
    // first hotel, 4, nor hotel 9's latest year).
    let (status, body) = page(&app, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains(r#"<option value="4">4 (2021)</option><option value="9" selected>9 (2019–2023)</option>"#), "{body}");
    assert!(
        body.contains("<h2>Hotel 9, 2019, per month (event basis)</h2>"),
        "{body}"
    );
    // On the stay basis, the busiest on that basis.
    let (_, body) = page(&app, "/?basis=stay").await;
    assert!(
        body.contains("<h2>Hotel 9, 2024, per month (stay basis)</h2>"),
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

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// `Fri 1 Mar 2024`, as the page names a night.
fn long_date(day: NaiveDate) -> String {
    day.format("%a %-d %b %Y").to_string()
}

/// `(hotel_id, night, event day, bookings, cancellations)` rows into the Dashboard's pace table,
/// added to any already there, as the sync adds them (running totals kept).
async fn put_pace(app: &TestApp, rows: &[(i32, NaiveDate, NaiveDate, i64, i64)]) {
    let mut deltas = store::PaceDeltas::new();
    for &(hotel, night, event_day, bookings, cancellations) in rows {
        *deltas.entry((hotel, night, event_day)).or_default() += store::Counts {
            bookings,
            cancellations,
        };
    }
    let mut conn = app.dashboard_db().get().await.unwrap();
    store::add_pace(&mut conn, &store::PaceColumns::of(&deltas))
        .await
        .unwrap();
}

/// The daily counters of everything in the pace table, on both bases, as the sync keeps them.
async fn count_daily_from_pace(app: &TestApp) {
    let mut conn = app.dashboard_db().get().await.unwrap();
    diesel::sql_query(
        "INSERT INTO dashboard_daily (hotel_id, basis, day, bookings, cancellations) \
         SELECT hotel_id, 1::int2, event_day, sum(bookings)::int8, sum(cancellations)::int8 \
         FROM dashboard_pace GROUP BY hotel_id, event_day \
         UNION ALL \
         SELECT hotel_id, 2::int2, night, sum(bookings)::int8, sum(cancellations)::int8 \
         FROM dashboard_pace GROUP BY hotel_id, night",
    )
    .execute(&mut conn)
    .await
    .unwrap();
}

/// Pace rows of `hotel` with nothing counted after `as_of`: each of the 90 nights from it booked
/// weeks ahead and again in the last ten days (some of it within the pickup window, some
/// cancelled), a few with more cancelled than booked lately, and the same nights a year earlier.
fn pace_rows(hotel: i32, as_of: NaiveDate) -> Vec<(i32, NaiveDate, NaiveDate, i64, i64)> {
    let days = |n: i64| chrono::Duration::days(n);
    let mut rows = Vec::new();
    for i in 0..90i64 {
        let night = as_of + days(i);
        rows.push((hotel, night, as_of - days(20 + i % 15), 2 + i % 5, 0));
        rows.push((
            hotel,
            night,
            as_of - days(i % 10),
            1 + i % 3,
            i64::from(i % 4 == 0),
        ));
        if i % 9 == 0 {
            rows.push((hotel, night, as_of - days(3), 0, 2));
        }
        let last_year = night - days(364);
        rows.push((
            hotel,
            last_year,
            as_of - days(364 + i % 12),
            1 + i % 6,
            i64::from(i % 5 == 0),
        ));
    }
    rows
}

/// Pace rows of `hotel` for nights before `as_of`, each lead-time bucket with figures: booked
/// from 400 days before the night to the day itself, and cancelled once the night had passed.
fn lead_rows(hotel: i32, as_of: NaiveDate) -> Vec<(i32, NaiveDate, NaiveDate, i64, i64)> {
    let days = |n: i64| chrono::Duration::days(n);
    let night = as_of - days(10);
    let mut rows: Vec<_> = [0, 1, 3, 6, 10, 20, 45, 75, 120, 250, 400]
        .into_iter()
        .map(|before| (hotel, night, night - days(before), 1 + before % 4, 0))
        .collect();
    rows.push((hotel, night, night + days(2), 0, 3));
    rows.push((hotel, as_of - days(60), as_of - days(70), 4, 1));
    rows
}

/// The lead-time section shows `GET /dashboard/lead-time`'s twelve buckets, each with its
/// meaning, bookings, cancellations and net.
fn assert_lead_time_matches(dom: &str, buckets: &[Value]) {
    let lead = section(dom, "lead-time");
    assert_eq!(buckets.len(), 12);
    assert_eq!(lead.matches("<tr data-bucket=").count(), 12, "{lead}");
    assert!(
        lead.contains("<strong>after</strong> holds what was counted once the night had passed")
    );
    let mut non_zero = 0;
    for b in buckets {
        let name = b["bucket"].as_str().unwrap();
        let (bookings, cancellations) = (
            b["bookings"].as_i64().unwrap(),
            b["cancellations"].as_i64().unwrap(),
        );
        let cells = cells_text(lead, &format!(r#"<tr data-bucket="{name}">"#));
        assert_eq!(cells[0], name);
        assert!(cells[1].contains(" the night"), "{cells:?}");
        let figures: Vec<i64> = cells[2..].iter().map(|c| c.parse().unwrap()).collect();
        assert_eq!(
            figures,
            [bookings, cancellations, bookings - cancellations],
            "{name}"
        );
        non_zero += usize::from(bookings != 0 || cancellations != 0);
    }
    assert!(non_zero >= 11, "every bucket but one has figures: {lead}");
}

/// The texts of the header cell and the `<td>` cells of the row starting with `start`.
fn cells_text(dom: &str, start: &str) -> Vec<String> {
    let at = dom
        .find(start)
        .unwrap_or_else(|| panic!("no table row {start} in {dom}"));
    let row = &dom[at..];
    let row = &row[..row.find("</tr>").unwrap()];
    // The first part is the row's own tag.
    row.split("<t")
        .skip(2)
        .filter_map(|c| c.split_once('>').map(|(_, rest)| rest))
        .map(|c| c.split("</t").next().unwrap().to_string())
        .collect()
}

/// The cell texts of the table row whose `<tr` starts with `start` (its header cell first).
fn row_cells(dom: &str, start: &str) -> Vec<String> {
    let at = dom
        .find(start)
        .unwrap_or_else(|| panic!("no table row {start} in {dom}"));
    let row = &dom[at..];
    let row = &row[..row.find("</tr>").unwrap()];
    let header = row
        .split("<th")
        .nth(1)
        .unwrap()
        .split("</th>")
        .next()
        .unwrap();
    // The header's text, without its own attributes or those of a link in it.
    let header: String = header
        .split('<')
        .filter_map(|part| part.split_once('>').map(|(_, text)| text))
        .collect();
    std::iter::once(header.to_string())
        .chain(
            row.split("<td>")
                .skip(1)
                .map(|c| c.split("</td>").next().unwrap().to_string()),
        )
        .collect()
}

/// The Pace view's nights are `GET /dashboard/pace`'s answer for the same hotel and as-of day:
/// a bar, an STLY mark and a pickup bar per night with their figures, and a table row each.
/// Returns how many figures were not zero, so that callers know the check was not on zeros.
fn assert_pace_matches(dom: &str, nights: &[Value]) -> usize {
    let pace = section(dom, "pace");
    let table = section(dom, "pace-nights");
    assert_eq!(nights.len(), 90);
    for (shape, n) in [
        (r#"<rect class="bar otb""#, 90),
        (r#"<rect class="bar pickup""#, 90),
        (r#"<line class="stly""#, 90),
    ] {
        assert_eq!(pace.matches(shape).count(), n, "{shape}: {pace}");
    }
    assert_eq!(table.matches("<tr data-night=").count(), 90, "{table}");
    let mut non_zero = 0;
    for n in nights {
        let night = d(n["night"].as_str().unwrap());
        let name = long_date(night);
        let otb = n["on_the_books"].as_i64().unwrap();
        let stly = n["stly"]["on_the_books"].as_i64().unwrap();
        let pickup: Vec<i64> = n["pickup"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["net"].as_i64().unwrap())
            .collect();
        assert_eq!(n["pickup"][1]["days"], 7);
        for title in [
            format!("<title>{name}: {otb} on the books</title>"),
            format!("<title>{name}: {stly} on the books a year earlier</title>"),
            format!(
                "<title>{name}: {} net pickup over 7 days</title>",
                pickup[1]
            ),
        ] {
            assert!(pace.contains(&title), "{title}");
        }
        let want: Vec<String> = std::iter::once(name)
            .chain([otb, stly].iter().chain(&pickup).map(i64::to_string))
            .collect();
        // Then the forecast and its band, checked against their own endpoint elsewhere.
        let cells = row_cells(table, &format!(r#"<tr data-night="{night}""#));
        assert_eq!(cells.len(), want.len() + 2, "{cells:?}");
        assert_eq!(cells[..want.len()], want);
        non_zero += [otb, stly, pickup[1]].iter().filter(|v| **v != 0).count();
    }
    non_zero
}

/// The booking curve is `GET /dashboard/booking-curve`'s answer for the same hotel and night,
/// point for point.
fn assert_curve_matches(dom: &str, points: &[Value]) {
    let curve = section(dom, "curve");
    assert_eq!(points.len(), 91);
    assert_eq!(
        curve.matches("<tr data-days-before=").count(),
        91,
        "{curve}"
    );
    assert_eq!(curve.matches(r#"<circle class="otb""#).count(), 91);
    assert_eq!(curve.matches(r#"<polyline class="otb""#).count(), 1);
    assert_eq!(curve.matches(r#"<polyline class="stly""#).count(), 1);
    for p in points {
        let k = p["days_before"].as_i64().unwrap();
        let want: Vec<String> = vec![
            k.to_string(),
            p["as_of"].as_str().unwrap().to_string(),
            p["on_the_books"].to_string(),
            p["stly_on_the_books"].to_string(),
        ];
        assert_eq!(
            row_cells(curve, &format!(r#"<tr data-days-before="{k}">"#)),
            want
        );
        let title = format!(
            "<title>{k} days before ({}): {} on the books</title>",
            long_date(d(p["as_of"].as_str().unwrap())),
            p["on_the_books"]
        );
        assert!(curve.contains(&title), "{title}");
    }
}

#[tokio::test]
async fn the_pace_view_shows_the_pace_answer_and_a_nights_booking_curve() {
    let app = TestApp::spawn().await;
    put_pace(&app, &pace_rows(7, d("2024-03-01"))).await;
    put_pace(&app, &pace_rows(8, d("2024-01-15"))).await;
    // Hotel 8 has the most events, so the view opens on it.
    put_pace(&app, &[(8, d("2024-01-20"), d("2023-12-01"), 40, 0)]).await;
    count_daily_from_pace(&app).await;

    // No as-of day: the latest event day counted for the hotel.
    let (status, body) = page(&app, "/?view=pace&hotel_id=7").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body.contains(
            "<h2>Hotel 7: the 90 nights from Fri 1 Mar 2024 to Wed 29 May 2024, on the books as of Fri 1 Mar 2024</h2>"
        ),
        "{body}"
    );
    assert!(body.contains(r#"<a href="/?view=pace&amp;hotel_id=7" aria-current="page">Pace</a>"#));
    assert!(body.contains(r#"<input type="hidden" name="view" value="pace">"#));
    assert!(body.contains(r#"name="as_of" min="1900-01-01" max="2100-12-31" value="""#));
    let nights: Vec<Value> = app
        .get_json("/dashboard/pace?hotel_id=7&as_of=2024-03-01")
        .await;
    assert!(assert_pace_matches(&body, &nights) > 200);
    assert!(
        nights
            .iter()
            .any(|n| n["pickup"][1]["net"].as_i64() < Some(0)),
        "a negative pickup is drawn too"
    );
    assert!(!body.contains(r#"<section id="curve">"#));
    assert!(body.contains("Pick a night in the table for its booking curve."));
    let link = "/?view=pace&amp;hotel_id=7&amp;as_of=2024-03-01&amp;night=2024-03-10#curve";
    assert!(body.contains(&format!(r#"<a href="{link}">Sun 10 Mar 2024</a>"#)));

    // The night's link: the same nights, and its booking curve.
    let (status, body) = page(&app, &link.replace("&amp;", "&")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_pace_matches(&body, &nights);
    assert!(body.contains(r#"<tr data-night="2024-03-10" class="picked">"#));
    assert!(body.contains("<h2>Hotel 7: booking curve of the night of Sun 10 Mar 2024</h2>"));
    let points: Vec<Value> = app
        .get_json("/dashboard/booking-curve?hotel_id=7&night=2024-03-10")
        .await;
    assert!(
        points
            .iter()
            .any(|p| p["on_the_books"].as_i64() > Some(0)
                && p["stly_on_the_books"].as_i64() > Some(0))
    );
    assert_curve_matches(&body, &points);

    // Another as-of day: the figures as of then.
    let (status, body) = page(&app, "/?view=pace&hotel_id=7&as_of=2024-02-20&night=").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains(r#"name="as_of" min="1900-01-01" max="2100-12-31" value="2024-02-20""#));
    let nights: Vec<Value> = app
        .get_json("/dashboard/pace?hotel_id=7&as_of=2024-02-20")
        .await;
    assert!(assert_pace_matches(&body, &nights) > 0);

    // No hotel chosen: the one with the most events, as of its latest event day.
    let (_, body) = page(&app, "/?view=pace").await;
    assert!(
        body.contains("<h2>Hotel 8: the 90 nights from Mon 15 Jan 2024"),
        "{body}"
    );
    let (_, body) = page(&app, "/?view=pace&hotel_id=8").await;
    assert!(
        body.contains("on the books as of Mon 15 Jan 2024</h2>"),
        "{body}"
    );
    // The other view is a tab away, and unchanged.
    assert!(body.contains(r#"<a href="/?hotel_id=8">Bookings per month and day</a>"#));
    let (status, body) = page(&app, "/?view=charts&hotel_id=7&year=2024").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("<h2>Hotel 7, 2024, per month (event basis)</h2>"),
        "{body}"
    );
    assert!(body.contains(r#"<a href="/?hotel_id=7" aria-current="page">"#));
    // A history that has ended (its last night, 20 Feb 2024, before its latest event day plus
    // 89): as of 89 days before that night, so that the view opens on nights with figures.
    put_pace(&app, &lead_rows(9, d("2024-03-01"))).await;
    let (_, body) = page(&app, "/?view=pace&hotel_id=9").await;
    assert!(
        body.contains("<h2>Hotel 9: the 90 nights from Thu 23 Nov 2023 to Tue 20 Feb 2024, on the books as of Thu 23 Nov 2023</h2>"),
        "{body}"
    );
}

#[tokio::test]
async fn the_pace_view_refuses_bad_parameters_and_says_when_there_are_no_figures() {
    let app = TestApp::spawn().await;
    let (status, body) = page(&app, "/?view=pace").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("No figures yet"), "{body}");

    put_pace(&app, &pace_rows(7, d("2024-03-01"))).await;
    count_daily_from_pace(&app).await;
    for (query, field) in [
        ("/?view=pace&hotel_id=abc", "hotel_id"),
        ("/?view=pace&hotel_id=0", "hotel_id"),
        ("/?view=pace&hotel_id=7&hotel_id=8", "hotel_id"),
        ("/?view=pace&hotel_id=7&as_of=2024-02-30", "as_of"),
        ("/?view=pace&hotel_id=7&as_of=1899-12-31", "as_of"),
        (
            "/?view=pace&hotel_id=7&as_of=2024-01-01&as_of=2024-01-02",
            "as_of",
        ),
        ("/?view=pace&hotel_id=7&night=tomorrow", "night"),
        (
            "/?view=pace&hotel_id=7&night=2024-03-01&night=2024-03-02",
            "night",
        ),
        // Checked before the hotel's figures are looked for.
        ("/?view=pace&hotel_id=5&night=2024-13-01", "night"),
        ("/?view=table&hotel_id=7", "view"),
        ("/?view=pace&view=charts", "view"),
    ] {
        let (status, body) = page(&app, query).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert!(
            body.contains(&format!("query parameter `{field}`")),
            "{query}: {body}"
        );
        assert!(body.contains("<form"), "the form stays, to fix the value");
        assert!(!body.contains("<section"), "no chart with an error: {body}");
    }
    let (status, body) = page(
        &app,
        "/?view=pace&hotel_id=%22%3E%3Cscript%3Ealert(1)%3C/script%3E&as_of=%3Cb%3E",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(!body.contains("<script") && !body.contains("<b>"), "{body}");
    assert!(body.contains(r#"value="&lt;b&gt;""#), "{body}");

    // A hotel without figures: no latest day to default to, and the page says so.
    let (status, body) = page(&app, "/?view=pace&hotel_id=5").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("No figures for hotel 5: the dashboard has counted no events for it"),
        "{body}"
    );
    assert!(body.contains(r#"<option value="5" selected>5 (no figures)</option>"#));
    assert!(
        !body.contains("<section") && !body.contains("<svg"),
        "{body}"
    );
    // An as-of day with nothing on the books, then or a year earlier.
    for query in [
        "/?view=pace&hotel_id=5&as_of=2024-03-01",
        "/?view=pace&hotel_id=7&as_of=2020-01-01",
    ] {
        let (status, body) = page(&app, query).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            body.contains("No room-nights on the books for these nights as of"),
            "{query}: {body}"
        );
        assert!(
            !body.contains("<svg") && !body.contains("pace-nights"),
            "{body}"
        );
    }
    // A night without bookings: its curve says so.
    let (_, body) = page(&app, "/?view=pace&hotel_id=7&night=2030-01-01").await;
    assert!(
        section(&body, "curve")
            .contains("No room-nights on the books for this night in the 90 days before it"),
        "{body}"
    );
}

/// Pace rows of `hotel` with a history its forecast can learn from: nights 2021-01-01 …
/// 2023-06-30, fuller at weekends and in summer, booked up to ~150 days ahead, one booking in
/// six cancelled later; only what is dated on or before `as_of` (what was known then).
fn history_rows(hotel: i32, as_of: NaiveDate) -> Vec<(i32, NaiveDate, NaiveDate, i64, i64)> {
    let days = |n: u64| chrono::Duration::days(n as i64);
    let mut rng = Rng::new(11);
    let mut rows = Vec::new();
    let mut night = d("2021-01-01");
    while night <= d("2023-06-30") {
        use chrono::Datelike;
        let weekend = matches!(night.weekday().num_days_from_monday(), 4 | 5);
        let summer = (6..=8).contains(&night.month());
        let rooms = 8 + if weekend { 10 } else { 0 } + if summer { 6 } else { 0 } + rng.below(9);
        for _ in 0..rooms {
            let lead = rng.below(60) + rng.below(60) + rng.below(30);
            let booked = night - days(lead);
            if booked <= as_of {
                rows.push((hotel, night, booked, 1, 0));
            }
            if rng.below(6) == 0 && lead > 0 {
                let cancelled = booked + days(rng.below(lead + 1));
                if cancelled <= as_of {
                    rows.push((hotel, night, cancelled, 0, 1));
                }
            }
        }
        night = night.succ_opt().unwrap();
    }
    rows
}

/// A room-night figure of the forecast as the page writes it: to a tenth, no trailing `.0`.
fn figure(v: &Value) -> String {
    let v = (v.as_f64().unwrap() * 10.0).round() / 10.0;
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

#[tokio::test]
async fn the_pace_view_draws_the_forecast_band_and_lists_the_alerts_linking_to_their_curves() {
    chromium();
    let app = TestApp::spawn().await;
    let hotel = 7101;
    let as_of = d("2023-02-01");
    let mut rows = history_rows(hotel, as_of);
    // A burst of 30 bookings on the as-of day for the night 40 days out: the top alert.
    let burst = as_of + chrono::Duration::days(40);
    rows.push((hotel, burst, as_of, 30, 0));
    put_pace(&app, &rows).await;
    count_daily_from_pace(&app).await;

    let url = app.url(&format!("/?view=pace&hotel_id={hotel}&as_of={as_of}"));
    let dom = browse(&["--dump-dom"], &url).await;
    assert!(!dom.contains("<script") && !dom.contains("src="), "{dom}");

    // Each night's forecast is `GET /dashboard/forecast`'s: a dot, its band, and in the table.
    let forecast: Vec<Value> = app
        .get_json(&format!(
            "/dashboard/forecast?hotel_id={hotel}&as_of={as_of}"
        ))
        .await;
    assert_eq!(forecast.len(), 90);
    let pace = section(&dom, "pace");
    let table = section(&dom, "pace-nights");
    let mut bands = 0;
    for n in &forecast {
        let night = d(n["night"].as_str().unwrap());
        let name = long_date(night);
        let f = &n["forecast"];
        let dot = format!(
            "<title>{name}: forecast {} room-nights at the end</title>",
            figure(&f["final"])
        );
        assert!(pace.contains(&dot), "{dot}");
        let cells = row_cells(table, &format!(r#"<tr data-night="{night}""#));
        let band = if f["p10"].is_null() || f["p90"].is_null() {
            "–".to_string()
        } else {
            bands += 1;
            let (lo, hi) = (figure(&f["p10"]), figure(&f["p90"]));
            let title = format!("<title>{name}: forecast range {lo} to {hi} (p10–p90)</title>");
            assert!(pace.contains(&title), "{title}");
            format!("{lo}–{hi}")
        };
        assert_eq!(
            cells[cells.len() - 2..],
            [figure(&f["final"]), band],
            "{night}"
        );
    }
    assert!(bands >= 80, "only {bands} nights have a band");
    assert_eq!(pace.matches(r#"<rect class="band""#).count(), bands);
    assert!(pace.contains(r#"<span class="key band"></span>the forecast's p10–p90 range"#));

    // The alerts above the chart, in `GET /dashboard/alerts`' order (most surprising first):
    // the burst's night at the top, each linking to its night's booking curve.
    let alerts: Vec<Value> = app
        .get_json(&format!(
            "/dashboard/alerts?hotel_id={hotel}&as_of={as_of}&horizon=89"
        ))
        .await;
    let listed = section(&dom, "alerts");
    assert!(dom.find(r#"<section id="alerts">"#) < dom.find(r#"<section id="pace">"#));
    assert_eq!(alerts[0]["night"], burst.to_string(), "{alerts:?}");
    let order: Vec<&str> = listed
        .split(r#"<li data-night=""#)
        .skip(1)
        .map(|li| li.split('"').next().unwrap())
        .collect();
    let want: Vec<&str> = alerts
        .iter()
        .map(|a| a["night"].as_str().unwrap())
        .collect();
    assert_eq!(order, want, "{listed}");
    let link =
        format!("/?view=pace&amp;hotel_id={hotel}&amp;as_of={as_of}&amp;night={burst}#curve");
    assert!(
        listed.contains(&format!(
            r#"<a href="{link}">{}</a>, 40 days out"#,
            long_date(burst)
        )),
        "{listed}"
    );
    assert!(
        listed.contains("net pickup over the last day: 30 (usually"),
        "{listed}"
    );

    // The link opens that night's booking curve.
    let dom = browse(&["--dump-dom"], &app.url(&link.replace("&amp;", "&"))).await;
    let curve = section(&dom, "curve");
    assert!(
        curve.contains(&format!(
            "<h2>Hotel {hotel}: booking curve of the night of {}</h2>",
            long_date(burst)
        )),
        "{curve}"
    );
    let points: Vec<Value> = app
        .get_json(&format!(
            "/dashboard/booking-curve?hotel_id={hotel}&night={burst}"
        ))
        .await;
    assert_curve_matches(&dom, &points);
    assert!(dom.contains(&format!(r#"<tr data-night="{burst}" class="picked">"#)));

    // Somewhere a person (or a CI artefact) can look at it.
    let png = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("screenshots")
        .join("forecast.png");
    std::fs::create_dir_all(png.parent().unwrap()).unwrap();
    let _ = std::fs::remove_file(&png);
    browse(
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=1200,1500",
            "--hide-scrollbars",
        ],
        &url,
    )
    .await;
    let bytes = std::fs::read(&png).unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{}", png.display());
}
