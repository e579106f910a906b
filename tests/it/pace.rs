//! The revenue manager's figures (`GET /dashboard/pace`, `/dashboard/booking-curve`,
//! `/dashboard/lead-time`) against an oracle folded by brute force from the events written
//! here: generated exports plus hand-made events (offsets crossing midnight, cancellations
//! after the night, leap days, events long before and after their night), loaded in shuffled
//! order, loaded twice, drained and synced over HTTP.

use std::io::Write;

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, Utc};
use roompulse::data_provider::generate::{Rng, Row};
use roompulse::data_provider::load;
use serde_json::Value;
use uuid::Uuid;

use crate::common::fixtures::generated_rows;
use crate::common::oracle::{counted, PaceOracle, LEAD_BUCKETS};
use crate::helpers::{temp_dir, TestApp};

fn d(s: &str) -> NaiveDate {
    s.parse().expect("a date")
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("a timestamp")
        .to_utc()
}

/// The hotel of the hand-made events.
const EDGE_HOTEL: i32 = 2700;

/// Events at the edges of the definitions, on top of the generated export.
fn edge_rows(seed: u64) -> Vec<Row> {
    let mut rng = Rng::new(seed ^ 0x5eed);
    let mut rows = Vec::new();
    let mut id = 90_000_000;
    let mut push = |night: &str, at: DateTime<Utc>, status: i16| {
        id += 1;
        rows.push(Row {
            room_reservation_id: Uuid::from_u128(u128::from(id as u64)),
            night_of_stay: d(night),
            id,
            status,
            event_timestamp: at,
            hotel_id: EDGE_HOTEL,
        });
    };
    // The leap day: booked on the night itself, a year before (the STLY side of 2025-02-28 is
    // 2024-03-01, of 2024-02-29 is 2023-03-02), and cancelled after the night.
    push("2024-02-29", utc("2024-02-29T12:00:00Z"), 1);
    push("2024-02-29", utc("2023-03-01T23:59:59Z"), 1);
    push("2024-02-29", utc("2024-03-02T08:00:00Z"), 2);
    push("2024-03-01", utc("2024-02-29T00:00:00Z"), 1);
    push("2023-03-02", utc("2022-03-02T00:00:00Z"), 1);
    push("2023-03-01", utc("2022-03-02T00:00:00Z"), 1);
    push("2025-02-28", utc("2024-03-01T10:00:00Z"), 1);
    // Far ahead and long after.
    push("2024-02-28", utc("2022-01-05T10:00:00Z"), 1);
    push("2023-01-10", utc("2024-03-01T10:00:00Z"), 2);
    // Many more, around the leap day, at every lead from a year and a half before to months
    // after the night.
    for _ in 0..200 {
        let night = d("2024-02-15") + Duration::days(rng.below(30) as i64);
        let lead = rng.below(600) as i64 - 100;
        let at = night.and_hms_opt(0, 0, 0).expect("midnight").and_utc() - Duration::days(lead)
            + Duration::seconds(rng.below(86_400) as i64);
        let status = if rng.below(4) == 0 { 2 } else { 1 };
        push(&night.to_string(), at, status);
    }
    rows
}

/// The export as the loader reads it, rows in the order given; every third timestamp written
/// with an offset of up to ±14 hours, so that its local date is often not its UTC date.
fn write_csv(path: &std::path::Path, rows: &[Row]) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("create the export"));
    writeln!(
        f,
        "room_reservation_id,night_of_stay,id,status,event_timestamp,hotel_id"
    )
    .expect("write");
    for (i, r) in rows.iter().enumerate() {
        let ts = match i % 3 {
            0 => r.event_timestamp.format("%Y-%m-%d %H:%M:%S").to_string(),
            1 => {
                let hours = (r.id % 29) as i32 - 14;
                let offset = FixedOffset::east_opt(hours * 3600).expect("an offset");
                r.event_timestamp.with_timezone(&offset).to_rfc3339()
            }
            _ => r.event_timestamp.to_rfc3339(),
        };
        writeln!(
            f,
            "{},{},{},{},{ts},{}",
            r.room_reservation_id, r.night_of_stay, r.id, r.status, r.hotel_id
        )
        .expect("write");
    }
    f.flush().expect("flush");
}

/// Fisher–Yates with the generator's own random numbers: the same order for the same seed.
fn shuffle(rows: &mut [Row], seed: u64) {
    let mut rng = Rng::new(seed);
    for i in (1..rows.len()).rev() {
        rows.swap(i, rng.below(i as u64 + 1) as usize);
    }
}

/// Counts of the figures compared, so that a test cannot pass on zeros alone.
#[derive(Default, Debug)]
pub(crate) struct Compared {
    pub(crate) figures: u64,
    pub(crate) non_zero: u64,
}

impl Compared {
    fn check(&mut self, what: &str, got: &Value, want: i64) {
        assert_eq!(got.as_i64(), Some(want), "{what}");
        self.figures += 1;
        self.non_zero += u64::from(want != 0);
    }
}

pub(crate) async fn check_pace(
    app: &TestApp,
    oracle: &PaceOracle,
    hotel: i32,
    (from, to, as_of): (NaiveDate, NaiveDate, NaiveDate),
    windows: &[i64],
    seen: &mut Compared,
) {
    let list: Vec<String> = windows.iter().map(i64::to_string).collect();
    let url = format!(
        "/dashboard/pace?hotel_id={hotel}&from={from}&to={to}&as_of={as_of}&pickup={}",
        list.join(",")
    );
    let nights: Vec<Value> = app.get_json(&url).await;
    assert_eq!(nights.len() as i64, (to - from).num_days() + 1, "{url}");
    let year = Duration::days(364);
    for (i, n) in nights.iter().enumerate() {
        let night = from + Duration::days(i as i64);
        let what = format!("{url}: night {night}");
        assert_eq!(n["hotel_id"], hotel, "{what}");
        assert_eq!(n["night"], night.to_string(), "{what}");
        assert_eq!(n["as_of"], as_of.to_string(), "{what}");
        seen.check(
            &what,
            &n["on_the_books"],
            oracle.on_the_books(hotel, night, as_of),
        );
        let pickup = n["pickup"].as_array().expect("pickup");
        assert_eq!(pickup.len(), windows.len(), "{what}");
        for (p, &days) in pickup.iter().zip(windows) {
            let (b, c) = oracle.pickup(hotel, night, as_of, days);
            assert_eq!(p["days"], days, "{what}");
            seen.check(&format!("{what} pickup {days}"), &p["bookings"], b);
            seen.check(&format!("{what} pickup {days}"), &p["cancellations"], c);
            seen.check(&format!("{what} pickup {days}"), &p["net"], b - c);
        }
        let stly = &n["stly"];
        assert_eq!(stly["night"], (night - year).to_string(), "{what}");
        assert_eq!(stly["as_of"], (as_of - year).to_string(), "{what}");
        seen.check(
            &format!("{what} stly"),
            &stly["on_the_books"],
            oracle.on_the_books(hotel, night - year, as_of - year),
        );
    }
}

async fn check_curve(
    app: &TestApp,
    oracle: &PaceOracle,
    hotel: i32,
    night: NaiveDate,
    days: Option<i64>,
    seen: &mut Compared,
) {
    let mut url = format!("/dashboard/booking-curve?hotel_id={hotel}&night={night}");
    if let Some(days) = days {
        url.push_str(&format!("&days={days}"));
    }
    let points: Vec<Value> = app.get_json(&url).await;
    let days = days.unwrap_or(90);
    assert_eq!(points.len() as i64, days + 1, "{url}");
    let year = Duration::days(364);
    for (p, k) in points.iter().zip((0..=days).rev()) {
        let as_of = night - Duration::days(k);
        let what = format!("{url}: {k} days before");
        assert_eq!(p["days_before"], k, "{what}");
        assert_eq!(p["as_of"], as_of.to_string(), "{what}");
        seen.check(
            &what,
            &p["on_the_books"],
            oracle.on_the_books(hotel, night, as_of),
        );
        seen.check(
            &what,
            &p["stly_on_the_books"],
            oracle.on_the_books(hotel, night - year, as_of - year),
        );
    }
}

async fn check_lead_time(
    app: &TestApp,
    oracle: &PaceOracle,
    hotel: i32,
    from: NaiveDate,
    to: NaiveDate,
    seen: &mut Compared,
) {
    let url = format!("/dashboard/lead-time?hotel_id={hotel}&from={from}&to={to}");
    let buckets: Vec<Value> = app.get_json(&url).await;
    let want = oracle.lead_time(hotel, from, to);
    assert_eq!(buckets.len(), LEAD_BUCKETS.len(), "{url}");
    for (b, (name, bookings, cancellations)) in buckets.iter().zip(want) {
        let what = format!("{url}: {name}");
        assert_eq!(b["bucket"], name, "{what}");
        seen.check(&what, &b["bookings"], bookings);
        seen.check(&what, &b["cancellations"], cancellations);
    }
}

/// Loads `rows` (shuffled, then the first half again), syncs, and compares every endpoint
/// with the oracle for many nights and as-of days.
async fn figures_match_the_oracle(seed: u64, generated: u64) {
    let app = TestApp::spawn_with_workers(2).await;
    let mut rows: Vec<Row> = generated_rows(generated, seed).collect();
    rows.extend(edge_rows(seed));
    shuffle(&mut rows, seed);
    let dir = temp_dir();
    let csv = dir.path().join("events.csv");
    write_csv(&csv, &rows);
    let again = dir.path().join("again.csv");
    write_csv(&again, &rows[..rows.len() / 2]);
    let total = rows.len() as i64;
    let oracle = PaceOracle::new(rows.into_iter().map(counted));

    let rejects = dir.path().join("rejects.csv");
    let report = load::load_events(&csv, &rejects, app.queue(), false)
        .await
        .expect("load");
    assert_eq!(report.rejected, 0);
    app.drained_to(total).await;
    app.synced(total, 700).await;
    // A re-load (redelivered events, duplicates) after the figures were counted: nothing twice.
    load::load_events(&again, &rejects, app.queue(), false)
        .await
        .expect("load again");
    app.drained_to(total).await;
    app.synced(total, 700).await;

    let mut seen = Compared::default();
    let hotels = oracle.hotels();
    assert_eq!(hotels.len(), 5, "{hotels:?}");
    for &hotel in &hotels {
        let spans = [
            // Two years of nights as of a day in the middle, the default windows.
            (d("2022-01-01"), d("2024-01-02"), d("2023-01-15")),
            // Around the leap day, as of dates on either side of it and of its year-ago day.
            (d("2023-12-01"), d("2024-04-30"), d("2024-02-29")),
            (d("2024-02-01"), d("2024-03-31"), d("2024-03-01")),
            (d("2023-02-01"), d("2023-03-31"), d("2023-03-01")),
            (d("2025-02-01"), d("2025-03-05"), d("2025-02-28")),
            // As of a day before any event, and long after all of them.
            (d("2022-06-01"), d("2022-08-31"), d("2021-06-01")),
            (d("2023-06-01"), d("2024-06-01"), d("2026-01-01")),
        ];
        for (i, span) in spans.into_iter().enumerate() {
            let windows: &[i64] = match i % 3 {
                0 => &[1, 7, 30],
                1 => &[365, 2, 1, 90, 14],
                _ => &[3],
            };
            check_pace(&app, &oracle, hotel, span, windows, &mut seen).await;
        }
        let nights = oracle.nights_of(hotel);
        let step = (nights.len() / 8).max(1);
        let mut picked: Vec<NaiveDate> = nights.iter().step_by(step).copied().collect();
        picked.extend([d("2024-02-29"), d("2025-02-28"), d("2024-03-01")]);
        for (i, night) in picked.into_iter().enumerate() {
            let days = [None, Some(730), Some(0), Some(400)][i % 4];
            check_curve(&app, &oracle, hotel, night, days, &mut seen).await;
        }
        for (from, to) in [
            (d("2022-01-01"), d("2024-01-02")),
            (d("2024-02-29"), d("2024-02-29")),
            (d("2023-06-01"), d("2024-05-31")),
        ] {
            check_lead_time(&app, &oracle, hotel, from, to, &mut seen).await;
        }
    }
    eprintln!("seed {seed}: {seen:?}");
    assert!(seen.non_zero > 5_000, "{seen:?}");
    app.stop().await;
}

#[tokio::test]
async fn figures_match_the_oracle_seed_1() {
    figures_match_the_oracle(1, 3000).await;
}

#[tokio::test]
async fn figures_match_the_oracle_seed_2() {
    figures_match_the_oracle(2, 3000).await;
}

#[tokio::test]
async fn figures_match_the_oracle_seed_3() {
    figures_match_the_oracle(3, 3000).await;
}

/// The real city hotel's history (`data/`, a copy of `../shared/real/`): 334k events, nights
/// booked up to two years ahead on hundreds of event days each, cancellation waves.
pub(crate) fn real_city_hotel() -> Option<Vec<roompulse::dashboard::client::FeedEvent>> {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/city_hotel_events.csv.gz");
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("SKIPPED: {} cannot be read ({e})", path.display());
            return None;
        }
    };
    let mut csv = csv::Reader::from_reader(flate2::read::GzDecoder::new(file));
    let events = csv
        .records()
        .map(|r| {
            let r = r.expect("a CSV record");
            let at = chrono::NaiveDateTime::parse_from_str(&r[4], "%Y-%m-%d %H:%M:%S")
                .expect("event_timestamp");
            roompulse::dashboard::client::FeedEvent {
                id: r[2].parse().expect("id"),
                hotel_id: r[5].parse().expect("hotel_id"),
                event_timestamp: at.and_utc(),
                status: r[3].parse().expect("status"),
                night_of_stay: r[1].parse().expect("night_of_stay"),
            }
        })
        .collect();
    Some(events)
}

/// The real city hotel, shuffled (so that most pages hold events older than rows already
/// stored, and rewrite the running totals after them), counted through the sync's own fold and
/// apply (pages of the feed's size, committed a few at a time), then every endpoint compared
/// with the oracle on a sample of nights, as-of days and windows, and every stored row's
/// running totals with the oracle's.
#[tokio::test]
async fn figures_match_the_oracle_on_the_real_city_hotel() {
    use roompulse::dashboard::{store, sync};
    let Some(mut events) = real_city_hotel() else {
        return;
    };
    assert!(events.len() > 300_000, "{}", events.len());
    let mut rng = Rng::new(17);
    for i in (1..events.len()).rev() {
        events.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let oracle = PaceOracle::new(events.iter().map(|e| crate::common::oracle::Counted {
        hotel_id: e.hotel_id,
        event_timestamp: e.event_timestamp,
        status: e.status,
        night_of_stay: e.night_of_stay,
    }));
    let app = TestApp::spawn().await;
    let mut conn = store::connection(app.dashboard_db())
        .await
        .expect("dashboard db");
    let mut cursor: Option<String> = None;
    for (i, batch) in events.chunks(sync::PAGE_SIZE as usize * 4).enumerate() {
        let mut page = store::PageDeltas::default();
        for events in batch.chunks(sync::PAGE_SIZE as usize) {
            page.add(sync::fold(events).expect("fold"));
        }
        let next = format!("batch-{i}");
        let applied = store::apply_page(&mut conn, cursor.as_deref(), &next, &page)
            .await
            .expect("apply");
        assert_eq!(applied, store::Applied::Committed);
        cursor = Some(next);
    }
    drop(conn);

    // The layout itself: each row's counts equal to the oracle's.
    let table = oracle.table();
    let mut conn = store::connection(app.dashboard_db())
        .await
        .expect("dashboard db");
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Stored {
        #[diesel(sql_type = diesel::sql_types::Int4)]
        hotel_id: i32,
        #[diesel(sql_type = diesel::sql_types::Date)]
        night: NaiveDate,
        #[diesel(sql_type = diesel::sql_types::Date)]
        event_day: NaiveDate,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        bookings: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        cancellations: i64,
    }
    let stored: Vec<Stored> = diesel::sql_query(
        "SELECT hotel_id, night, event_day, bookings, cancellations \
             FROM dashboard_pace ORDER BY hotel_id, night, event_day",
    )
    .load(&mut conn)
    .await
    .expect("dashboard_pace");
    drop(conn);
    let counts: crate::common::oracle::PaceTable = stored
        .iter()
        .map(|r| {
            (
                (r.hotel_id, r.night, r.event_day),
                (r.bookings, r.cancellations),
            )
        })
        .collect();
    assert!(
        counts == table,
        "the stored counts differ from the oracle's"
    );

    let mut seen = Compared::default();
    let hotel = 4101;
    assert_eq!(oracle.hotels(), [hotel]);
    for (i, span) in [
        (d("2015-07-01"), d("2016-06-30"), d("2015-12-15")),
        (d("2016-01-01"), d("2016-12-31"), d("2016-06-01")),
        (d("2016-09-01"), d("2017-08-31"), d("2017-03-01")),
        (d("2017-01-01"), d("2017-08-31"), d("2017-08-31")),
        (d("2016-03-01"), d("2016-05-31"), d("2014-01-01")),
        (d("2017-06-01"), d("2017-09-30"), d("2018-01-01")),
    ]
    .into_iter()
    .enumerate()
    {
        let windows: &[i64] = match i % 3 {
            0 => &[1, 7, 30],
            1 => &[365, 2, 1, 90, 14],
            _ => &[3],
        };
        check_pace(&app, &oracle, hotel, span, windows, &mut seen).await;
    }
    let nights = oracle.nights_of(hotel);
    for (i, &night) in nights.iter().step_by(37).enumerate() {
        let days = [None, Some(730), Some(0), Some(400)][i % 4];
        check_curve(&app, &oracle, hotel, night, days, &mut seen).await;
    }
    for (from, to) in [
        (d("2015-07-01"), d("2017-06-30")),
        (d("2016-02-29"), d("2016-02-29")),
        (d("2016-09-01"), d("2017-08-31")),
    ] {
        check_lead_time(&app, &oracle, hotel, from, to, &mut seen).await;
    }
    eprintln!("real city hotel: {seen:?}");
    assert!(seen.non_zero > 10_000, "{seen:?}");
    app.stop().await;
}

#[tokio::test]
async fn bad_parameters_answer_400_naming_them_and_unknown_hotels_get_zeros() {
    let app = TestApp::spawn().await;
    for (path, field) in [
        ("/dashboard/pace", "hotel_id"),
        ("/dashboard/pace?hotel_id=0", "hotel_id"),
        ("/dashboard/pace?hotel_id=1&hotel_id=2", "hotel_id"),
        ("/dashboard/pace?hotel_id=1&as_of=1899-12-31", "as_of"),
        ("/dashboard/pace?hotel_id=1&as_of=2023-02-29", "as_of"),
        ("/dashboard/pace?hotel_id=1&from=2101-01-01", "from"),
        ("/dashboard/pace?hotel_id=1&from=June", "from"),
        (
            "/dashboard/pace?hotel_id=1&from=2024-01-02&to=2024-01-01",
            "to",
        ),
        (
            "/dashboard/pace?hotel_id=1&from=2022-01-01&to=2024-01-03",
            "to",
        ),
        ("/dashboard/pace?hotel_id=1&pickup=0", "pickup"),
        ("/dashboard/pace?hotel_id=1&pickup=366", "pickup"),
        ("/dashboard/pace?hotel_id=1&pickup=1,2,3,4,5,6", "pickup"),
        ("/dashboard/booking-curve?night=2024-01-01", "hotel_id"),
        ("/dashboard/booking-curve?hotel_id=1", "night"),
        (
            "/dashboard/booking-curve?hotel_id=1&night=2101-01-01",
            "night",
        ),
        (
            "/dashboard/booking-curve?hotel_id=1&night=2024-01-01&days=731",
            "days",
        ),
        ("/dashboard/lead-time?hotel_id=1&to=2024-01-01", "from"),
        ("/dashboard/lead-time?hotel_id=1&from=2024-01-01", "to"),
        (
            "/dashboard/lead-time?hotel_id=1&from=2024-01-01&to=2026-01-02",
            "to",
        ),
        (
            "/dashboard/lead-time/?hotel_id=1&from=1899-01-01&to=2024-01-01",
            "from",
        ),
    ] {
        app.assert_rejects_param(path, field).await;
    }

    // A hotel without events, at the edges of the accepted years: every night, point and
    // bucket present, all zeros; the year before 1900-01-01 is answered as computed.
    let nights: Vec<Value> = app
        .get_json("/dashboard/pace/?hotel_id=99&from=1900-01-01&to=1902-01-02&as_of=1900-01-01&pickup=365")
        .await;
    assert_eq!(nights.len(), 732);
    assert_eq!(nights[0]["stly"]["night"], "1899-01-02");
    assert_eq!(nights[0]["stly"]["as_of"], "1899-01-02");
    assert!(nights.iter().all(|n| n["on_the_books"] == 0
        && n["stly"]["on_the_books"] == 0
        && n["pickup"][0]["days"] == 365
        && n["pickup"][0]["net"] == 0));
    let points: Vec<Value> = app
        .get_json("/dashboard/booking-curve/?hotel_id=99&night=1900-01-01&days=730")
        .await;
    assert_eq!(points.len(), 731);
    assert_eq!(points[0]["as_of"], "1898-01-01");
    assert!(points
        .iter()
        .all(|p| p["on_the_books"] == 0 && p["stly_on_the_books"] == 0));
    let buckets: Vec<Value> = app
        .get_json("/dashboard/lead-time?hotel_id=99&from=2100-01-01&to=2100-12-31")
        .await;
    assert_eq!(buckets.len(), 12);
    assert_eq!(buckets[0]["min_days"], Value::Null);
    assert_eq!(buckets[11]["max_days"], Value::Null);
    assert_eq!(
        (
            buckets[5]["min_days"].clone(),
            buckets[5]["max_days"].clone()
        ),
        (8.into(), 14.into())
    );
    // The default `to` stops at the last accepted day.
    let nights: Vec<Value> = app
        .get_json("/dashboard/pace?hotel_id=99&as_of=2100-12-01")
        .await;
    assert_eq!(nights.len(), 31);
    app.stop().await;
}

#[tokio::test]
async fn defaults_are_as_of_today_and_a_cached_answer_ends_with_its_generation() {
    let app = TestApp::spawn_configured(0, |c| c.dashboard_cache_ms = 600_000).await;
    let get = |path: &str| {
        let (app, url) = (&app, app.url(path));
        async move {
            let r = app.client.get(&url).send().await.expect("request");
            assert_eq!(r.status(), 200, "{url}");
            r.json::<Vec<Value>>().await.expect("JSON")
        }
    };
    let today = Utc::now().date_naive();
    let nights = get("/dashboard/pace?hotel_id=5").await;
    assert_eq!(nights.len(), 90);
    // Tolerates a test run across midnight UTC.
    assert!(
        [today, Utc::now().date_naive()]
            .iter()
            .any(|t| nights[0]["as_of"] == t.to_string() && nights[0]["night"] == t.to_string()),
        "{}",
        nights[0]
    );
    let pickup: Vec<i64> = nights[0]["pickup"]
        .as_array()
        .expect("pickup")
        .iter()
        .map(|p| p["days"].as_i64().expect("days"))
        .collect();
    assert_eq!(pickup, [1, 7, 30]);
    assert_eq!(
        get("/dashboard/booking-curve?hotel_id=5&night=2024-03-01")
            .await
            .len(),
        91
    );

    // An event counted after an answer was cached is answered once its commit is heard.
    let night = today + Duration::days(10);
    let path = &format!("/dashboard/pace?hotel_id=5&from={night}&to={night}");
    assert_eq!(get(path).await[0]["on_the_books"], 0);
    assert!(app.pace_cache().held().0 > 0, "the answers were cached");
    let cached_under = app
        .figures_generation()
        .expect("the process hears the dashboard's commits");
    let event =
        crate::common::fixtures::event_json(1, 5, &Utc::now().to_rfc3339(), 1, &night.to_string());
    let r = app
        .client
        .post(app.url("/events"))
        .json(&event)
        .send()
        .await
        .expect("POST /events");
    assert_eq!(r.status(), 201);
    app.synced(1, 100).await;
    // Once this process has heard the sync's commit, the answer cached before it is gone: the
    // very next request reads the new figure (no clock involved).
    crate::common::wait::eventually(
        "the commit of the new figure is heard",
        std::time::Duration::from_secs(60),
        || async { app.figures_generation().is_some_and(|g| g > cached_under) },
    )
    .await;
    assert_eq!(
        get(path).await[0]["on_the_books"],
        1,
        "an answer cached under an older generation was served"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_read_token_guards_the_pace_figures() {
    let app = TestApp::spawn_configured(0, |c| c.read_api_token = Some("r-token".into())).await;
    for path in [
        "/dashboard/pace?hotel_id=5",
        "/dashboard/booking-curve/?hotel_id=5&night=2024-03-01",
        "/dashboard/lead-time?hotel_id=5&from=2024-01-01&to=2024-01-31",
    ] {
        let r = app.client.get(app.url(path)).send().await.expect("request");
        assert_eq!(r.status(), 401, "{path}");
        let r = app
            .client
            .get(app.url(path))
            .bearer_auth("r-token")
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 200, "{path}");
    }
    app.stop().await;
}

/// A dashboard database made before `dashboard_pace` existed has counted its events into
/// `dashboard_daily` only: the upgrade empties the counters and rewinds the cursor, and the
/// next passes count every event exactly once into both tables.
#[tokio::test]
async fn an_upgraded_dashboard_recounts_every_event_once_into_both_tables() {
    use crate::common::db::TestDb;
    use crate::common::oracle::fold;

    let app = TestApp::spawn().await;
    let events: Vec<Row> = generated_rows(40, 9)
        .chain(edge_rows(9).into_iter().take(12))
        .collect();
    for e in &events {
        let body = crate::common::fixtures::event_json(
            e.id,
            e.hotel_id,
            &e.event_timestamp.to_rfc3339(),
            e.status,
            &e.night_of_stay.to_string(),
        );
        let r = app
            .client
            .post(app.url("/events"))
            .json(&body)
            .send()
            .await
            .expect("POST");
        assert_eq!(r.status(), 201);
    }
    let total = events.len() as i64;
    let days = fold(events.iter().cloned().map(counted));
    let pace = PaceOracle::new(events.iter().cloned().map(counted)).table();
    // The feed's cursor after every event, as the older dashboard stored it.
    app.synced(total, 1000).await;
    let mut conn = roompulse::dashboard::store::connection(app.dashboard_db())
        .await
        .expect("dashboard db");
    let cursor = roompulse::dashboard::store::sync_state(&mut conn)
        .await
        .expect("sync_state")
        .cursor;
    drop(conn);

    // The older schema, as diesel left it, holding that dashboard's figures and cursor.
    let old = TestDb::empty().await;
    let (sql, connection) = tokio_postgres::connect(&old.url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    let first =
        include_str!("../../migrations_dashboard/2026-11-22-000002_create_dashboard/up.sql");
    sql.batch_execute(first).await.expect("the first migration");
    sql.batch_execute(
        "CREATE TABLE __diesel_schema_migrations (version VARCHAR(50) PRIMARY KEY NOT NULL, \
             run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP); \
         INSERT INTO __diesel_schema_migrations (version) VALUES ('20261122000002')",
    )
    .await
    .expect("diesel's bookkeeping");
    for (&(hotel, basis, day), &(b, c)) in &days {
        sql.execute(
            "INSERT INTO dashboard_daily VALUES ($1, $2, $3, $4, $5)",
            &[&hotel, &basis, &day, &b, &c],
        )
        .await
        .expect("an old row");
    }
    sql.execute(
        "UPDATE sync_state SET cursor = $1, events_synced = $2",
        &[&cursor, &total],
    )
    .await
    .expect("the old cursor");

    roompulse::db::migrate(&old.url, roompulse::db::DASHBOARD_MIGRATIONS)
        .await
        .expect("the upgrade");
    let row = sql
        .query_one(
            "SELECT cursor, events_synced, (SELECT count(*) FROM dashboard_daily), \
                 (SELECT count(*) FROM dashboard_pace) FROM sync_state",
            &[],
        )
        .await
        .expect("after the upgrade");
    let after: (Option<String>, i64, i64, i64) = (row.get(0), row.get(1), row.get(2), row.get(3));
    assert_eq!(after, (None, 0, 0, 0), "emptied and rewound");

    // Two passes: the second finds nothing new and changes nothing.
    let pool = roompulse::db::pool(&old.url, 2).expect("pool");
    let client =
        roompulse::dashboard::client::DataProviderClient::new(&app.base_url).expect("client");
    for _ in 0..2 {
        roompulse::dashboard::sync::run_pass(&pool, &client, 10)
            .await
            .expect("a pass");
    }
    let count = |table: &'static str| {
        let sql = &sql;
        async move {
            let key = if table == "dashboard_daily" {
                "basis, day"
            } else {
                "night, event_day"
            };
            sql.query(
                &format!(
                    "SELECT hotel_id, {key}, bookings, cancellations FROM {table} \
                     WHERE bookings <> 0 OR cancellations <> 0"
                ),
                &[],
            )
            .await
            .expect("the counters")
        }
    };
    let got_days: crate::common::oracle::Days = count("dashboard_daily")
        .await
        .iter()
        .map(|r| ((r.get(0), r.get(1), r.get(2)), (r.get(3), r.get(4))))
        .collect();
    let got_pace: crate::common::oracle::PaceTable = count("dashboard_pace")
        .await
        .iter()
        .map(|r| ((r.get(0), r.get(1), r.get(2)), (r.get(3), r.get(4))))
        .collect();
    assert_eq!(got_days, days);
    assert_eq!(got_pace, pace);
    let synced: i64 = sql
        .query_one("SELECT events_synced FROM sync_state", &[])
        .await
        .expect("events_synced")
        .get(0);
    assert_eq!(synced, total);
    app.stop().await;
}

/// A dashboard database made by the migrations that kept running totals in `dashboard_pace`,
/// holding counted events: the upgrade keeps every row's counts exactly, without a recount (the
/// cursor stays), drops the running totals, and pages applied after it add to the counts
/// exactly.
#[tokio::test]
async fn an_upgraded_pace_table_keeps_its_counts_and_loses_its_running_totals() {
    use crate::common::db::TestDb;
    use crate::common::oracle::PaceTable;
    use roompulse::dashboard::{client::FeedEvent, store, sync};

    let mut rows: Vec<Row> = generated_rows(400, 5).chain(edge_rows(5)).collect();
    shuffle(&mut rows, 5);
    let (before, after) = rows.split_at(rows.len() / 2);
    let old_table = PaceOracle::new(before.iter().cloned().map(counted)).table();
    let full_table = PaceOracle::new(rows.iter().cloned().map(counted)).table();

    // The older schema, as diesel left it, with its rows (the running totals migration computes
    // theirs) and cursor.
    let old = TestDb::empty().await;
    let (sql, connection) = tokio_postgres::connect(&old.url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    for migration in [
        include_str!("../../migrations_dashboard/2026-11-22-000002_create_dashboard/up.sql"),
        include_str!("../../migrations_dashboard/2026-12-01-000003_pace/up.sql"),
        include_str!("../../migrations_dashboard/2026-12-09-000004_api_keys/up.sql"),
    ] {
        sql.batch_execute(migration)
            .await
            .expect("an older migration");
    }
    for (&(hotel, night, day), &(b, c)) in &old_table {
        sql.execute(
            "INSERT INTO dashboard_pace VALUES ($1, $2, $3, $4, $5)",
            &[&hotel, &night, &day, &b, &c],
        )
        .await
        .expect("an old row");
    }
    for migration in [
        include_str!("../../migrations_dashboard/2026-12-10-000005_pace_running_totals/up.sql"),
        include_str!("../../migrations_dashboard/2026-12-12-000006_hotel_versions/up.sql"),
        include_str!("../../migrations_dashboard/2026-12-13-000007_pace_fillfactor/up.sql"),
    ] {
        sql.batch_execute(migration)
            .await
            .expect("an older migration");
    }
    sql.batch_execute(
        "CREATE TABLE __diesel_schema_migrations (version VARCHAR(50) PRIMARY KEY NOT NULL, \
             run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP); \
         INSERT INTO __diesel_schema_migrations (version) \
             VALUES ('20261122000002'), ('20261201000003'), ('20261209000004'), \
                 ('20261210000005'), ('20261212000006'), ('20261213000007'); \
         UPDATE sync_state SET cursor = 'old-cursor', events_synced = 1",
    )
    .await
    .expect("diesel's bookkeeping");

    roompulse::db::migrate(&old.url, roompulse::db::DASHBOARD_MIGRATIONS)
        .await
        .expect("the upgrade");
    let read = |rows: Vec<tokio_postgres::Row>| -> PaceTable {
        rows.iter()
            .map(|r| ((r.get(0), r.get(1), r.get(2)), (r.get(3), r.get(4))))
            .collect()
    };
    const ROWS: &str =
        "SELECT hotel_id, night, event_day, bookings, cancellations FROM dashboard_pace";
    let counts = read(sql.query(ROWS, &[]).await.expect("dashboard_pace"));
    assert!(counts == old_table, "the upgrade changed the counts");
    let running: i64 = sql
        .query_one(
            "SELECT count(*) FROM information_schema.columns \
             WHERE table_name = 'dashboard_pace' AND column_name LIKE 'running%'",
            &[],
        )
        .await
        .expect("columns")
        .get(0);
    assert_eq!(running, 0, "the running totals are dropped");
    let cursor: Option<String> = sql
        .query_one("SELECT cursor FROM sync_state", &[])
        .await
        .expect("sync_state")
        .get(0);
    assert_eq!(cursor.as_deref(), Some("old-cursor"), "no recount");

    // The rest of the events, through the sync's fold and apply, in pages.
    let pool = roompulse::db::pool(&old.url, 1).expect("pool");
    let mut conn = store::connection(&pool).await.expect("connection");
    let mut cursor = "old-cursor".to_string();
    for (i, page) in after.chunks(97).enumerate() {
        let events: Vec<FeedEvent> = page
            .iter()
            .map(|r| FeedEvent {
                id: r.id,
                hotel_id: r.hotel_id,
                event_timestamp: r.event_timestamp,
                status: r.status,
                night_of_stay: r.night_of_stay,
            })
            .collect();
        let next = format!("after-{i}");
        let applied = store::apply_page(
            &mut conn,
            Some(&cursor),
            &next,
            &sync::fold(&events).expect("fold"),
        )
        .await
        .expect("apply");
        assert_eq!(applied, store::Applied::Committed);
        cursor = next;
    }
    let counts = read(sql.query(ROWS, &[]).await.expect("dashboard_pace"));
    assert!(counts == full_table, "the counts after the upgrade's pages");
}
