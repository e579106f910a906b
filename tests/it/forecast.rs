//! The forecast endpoints (issue 18) against a brute force over the events themselves: the four
//! textbook baselines and their WAPE, the rule that a forecast as of a day reads nothing dated
//! after it, and the alert a burst of bookings raises.

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, Duration, NaiveDate, TimeZone, Utc};
use roompulse::dashboard::client::FeedEvent;
use roompulse::dashboard::{store, sync};
use roompulse::data_provider::generate::Rng;
use serde_json::Value;

use crate::helpers::TestApp;

fn d(s: &str) -> NaiveDate {
    s.parse().expect("a date")
}

const HOTEL: i32 = 7001;

/// A hotel's history: nights 2021-01-01 … 2023-06-30, weekends fuller, bookings from 0 to ~150
/// days ahead, about one in six cancelled between its booking and the night.
fn history(seed: u64) -> Vec<FeedEvent> {
    let mut rng = Rng::new(seed);
    let mut events = Vec::new();
    let mut id = 1_000_000;
    let mut night = d("2021-01-01");
    while night <= d("2023-06-30") {
        let weekend = matches!(night.weekday().num_days_from_monday(), 4 | 5);
        let summer = (6..=8).contains(&night.month());
        let demand = 12 + if weekend { 10 } else { 0 } + if summer { 6 } else { 0 };
        let rooms = demand + rng.below(9) as i64 - 4;
        for _ in 0..rooms {
            let lead = (rng.below(60) + rng.below(60) + rng.below(30)) as i64;
            let booked = night - Duration::days(lead);
            let at = Utc.from_utc_datetime(
                &booked
                    .and_hms_opt(rng.below(24) as u32, 5, 0)
                    .expect("time"),
            );
            id += 1;
            events.push(FeedEvent {
                id,
                hotel_id: HOTEL,
                event_timestamp: at,
                status: 1,
                night_of_stay: night,
            });
            if rng.below(6) == 0 && lead > 0 {
                let later = booked + Duration::days(rng.below(lead as u64 + 1) as i64);
                id += 1;
                events.push(FeedEvent {
                    id,
                    hotel_id: HOTEL,
                    event_timestamp: Utc
                        .from_utc_datetime(&later.and_hms_opt(23, 0, 0).expect("time")),
                    status: 2,
                    night_of_stay: night,
                });
            }
        }
        night = night.succ_opt().expect("next night");
    }
    events
}

/// Counts `events` through the sync's own fold and commit, after `cursor`.
async fn count(app: &TestApp, events: &[FeedEvent], cursor: &mut Option<String>) {
    let mut conn = store::connection(app.dashboard_db())
        .await
        .expect("dashboard db");
    for batch in events.chunks(sync::PAGE_SIZE as usize * 4) {
        let mut page = store::PageDeltas::default();
        for events in batch.chunks(sync::PAGE_SIZE as usize) {
            page.add(sync::fold(events).expect("fold"));
        }
        let next = uuid::Uuid::new_v4().to_string();
        let applied = store::apply_page(&mut conn, cursor.as_deref(), &next, &page)
            .await
            .expect("apply");
        assert_eq!(applied, store::Applied::Committed);
        *cursor = Some(next);
    }
}

/// The definitions of the issue, written out over the events of one hotel.
struct Brute {
    /// Per night: (event day, ±1) of its events.
    nights: HashMap<NaiveDate, Vec<(NaiveDate, i64)>>,
    first_night: NaiveDate,
}

impl Brute {
    fn new(events: &[FeedEvent], hotel: i32) -> Self {
        let mut nights: HashMap<NaiveDate, Vec<(NaiveDate, i64)>> = HashMap::new();
        for e in events.iter().filter(|e| e.hotel_id == hotel) {
            let sign = if e.status == 1 { 1 } else { -1 };
            nights
                .entry(e.night_of_stay)
                .or_default()
                .push((e.event_timestamp.date_naive(), sign));
        }
        // The first night anything was booked for on or before it.
        let first_night = nights
            .iter()
            .filter(|(n, v)| v.iter().any(|(day, _)| day <= n))
            .map(|(n, _)| *n)
            .min()
            .expect("a night");
        Brute {
            nights,
            first_night,
        }
    }

    /// On the books of night n as of a (a ≤ n): its events dated on or before a.
    fn otb(&self, n: NaiveDate, a: NaiveDate) -> f64 {
        let upto = a.min(n);
        self.nights.get(&n).map_or(0.0, |v| {
            v.iter()
                .filter(|(day, _)| *day <= upto)
                .map(|(_, s)| *s as f64)
                .sum()
        })
    }

    fn fin(&self, n: NaiveDate) -> f64 {
        self.otb(n, n)
    }

    /// [stly_final, stly_pickup, additive_pickup, multiplicative_pickup] of night n at lead k.
    fn baselines(&self, n: NaiveDate, k: i64) -> [Option<f64>; 4] {
        let a = n - Duration::days(k);
        let o = self.otb(n, a);
        let ly = n - Duration::days(364);
        let known_ly = ly >= self.first_night && ly <= a;
        let stly_final = known_ly.then(|| self.fin(ly));
        let stly_pickup =
            known_ly.then(|| o + self.fin(ly) - self.otb(ly, a - Duration::days(364)));
        // The last 8 same-weekday nights on or before a, within 60 weeks, none before the
        // hotel's first night.
        let refs: Vec<NaiveDate> = (1..=60)
            .map(|j| n - Duration::days(7 * j))
            .filter(|m| *m <= a)
            .take(8)
            .filter(|m| *m >= self.first_night)
            .collect();
        let additive = (!refs.is_empty()).then(|| {
            o + refs
                .iter()
                .map(|&m| self.fin(m) - self.otb(m, m - Duration::days(k)))
                .sum::<f64>()
                / refs.len() as f64
        });
        let ratios: Vec<f64> = refs
            .iter()
            .filter(|&&m| self.otb(m, m - Duration::days(k)) > 0.0)
            .map(|&m| self.fin(m) / self.otb(m, m - Duration::days(k)))
            .collect();
        let multiplicative = if ratios.is_empty() {
            o
        } else {
            o * ratios.iter().sum::<f64>() / ratios.len() as f64
        };
        [stly_final, stly_pickup, additive, Some(multiplicative)]
    }

    /// Per baseline: (WAPE, nights) over `from..=to` at lead k.
    fn wapes(&self, from: NaiveDate, to: NaiveDate, k: i64) -> [(Option<f64>, usize); 4] {
        let mut sums = [(0.0, 0.0, 0usize); 4];
        let mut n = from;
        while n <= to {
            let y = self.fin(n);
            for (s, f) in sums.iter_mut().zip(self.baselines(n, k)) {
                if let Some(f) = f {
                    s.0 += (f - y).abs();
                    s.1 += y;
                    s.2 += 1;
                }
            }
            n = n.succ_opt().expect("next night");
        }
        sums.map(|(err, fin, nights)| ((nights > 0 && fin > 0.0).then(|| err / fin), nights))
    }
}

const BASELINES: [&str; 4] = [
    "stly_final",
    "stly_pickup",
    "additive_pickup",
    "multiplicative_pickup",
];

/// The service's backtest of `hotel` against the brute force's baselines; returns the answer.
async fn check_accuracy(
    app: &TestApp,
    brute: &Brute,
    hotel: i32,
    from: NaiveDate,
    to: NaiveDate,
    leads: &[i64],
) -> Value {
    let list: Vec<String> = leads.iter().map(|k| k.to_string()).collect();
    let got: Value = app
        .get_json(&format!(
            "/dashboard/forecast/accuracy?hotel_id={hotel}&from={from}&to={to}&leads={}",
            list.join(",")
        ))
        .await;
    let scores = got["leads"].as_array().expect("leads");
    assert_eq!(scores.len(), leads.len(), "{got}");
    for (score, &k) in scores.iter().zip(leads) {
        assert_eq!(score["lead"], k);
        let expected = brute.wapes(from, to, k);
        for (name, (wape, nights)) in BASELINES.iter().zip(expected) {
            let s = &score[*name];
            assert_eq!(s["nights"], nights, "lead {k} {name}: {s}");
            match (wape, s["wape"].as_f64()) {
                (Some(w), Some(g)) => assert!((w - g).abs() < 1e-6, "lead {k} {name}: {w} vs {g}"),
                (None, None) => {}
                (w, _) => panic!("lead {k} {name}: expected {w:?}, got {s}"),
            }
        }
        assert!(score["forecast"]["wape"].as_f64().is_some(), "{score}");
        let coverage = score["coverage"].as_f64().expect("coverage");
        assert!((0.0..=1.0).contains(&coverage), "{score}");
    }
    got
}

#[tokio::test]
async fn the_baselines_and_their_wape_equal_the_definitions_on_a_generated_history() {
    let app = TestApp::spawn().await;
    let events = history(5);
    count(&app, &events, &mut None).await;
    let brute = Brute::new(&events, HOTEL);
    let got = check_accuracy(
        &app,
        &brute,
        HOTEL,
        d("2022-10-01"),
        d("2023-03-31"),
        &[0, 1, 7, 30, 90],
    )
    .await;
    // A backtest reaching past today scores only the nights that are over.
    let today = Utc::now().date_naive();
    let late: Value = app
        .get_json(&format!(
            "/dashboard/forecast/accuracy?hotel_id={HOTEL}&from={}&to={}&leads=7",
            today - Duration::days(5),
            today + Duration::days(100)
        ))
        .await;
    // Tolerates a run across midnight UTC.
    let yesterday = (today - Duration::days(1)).to_string();
    assert!(
        late["to"] == yesterday || late["to"] == today.to_string(),
        "{late}"
    );
    assert!(late["leads"][0]["nights"].as_i64() <= Some(6), "{late}");
    // The forecast learns the weekly shape: it beats the crude baselines on this history.
    for score in got["leads"].as_array().expect("leads") {
        let method = score["forecast"]["wape"].as_f64().expect("wape");
        let stly = score["stly_final"]["wape"].as_f64().expect("wape");
        assert!(method < stly, "{score}");
    }
    app.stop().await;
}

/// Three answers about `as_of`: the forecast of the next 60 nights, the alerts, the backtest of
/// the 60 nights before.
async fn answers_as_of(app: &TestApp, as_of: NaiveDate) -> [Value; 3] {
    let to = as_of + Duration::days(60);
    let before = as_of - Duration::days(60);
    [
        app.get_json(&format!(
            "/dashboard/forecast?hotel_id={HOTEL}&as_of={as_of}&from={as_of}&to={to}"
        ))
        .await,
        app.get_json(&format!("/dashboard/alerts?hotel_id={HOTEL}&as_of={as_of}"))
            .await,
        app.get_json(&format!(
            "/dashboard/forecast/accuracy?hotel_id={HOTEL}&from={before}&to={as_of}&leads=0,7,30"
        ))
        .await,
    ]
}

#[tokio::test]
async fn an_event_dated_after_the_as_of_day_changes_nothing_answered_as_of_that_day() {
    let app = TestApp::spawn_configured(0, |c| c.limits.dashboard_cache_ms = 0).await;
    let as_of = d("2022-11-15");
    let (known, later): (Vec<FeedEvent>, Vec<FeedEvent>) = history(8)
        .into_iter()
        .partition(|e| e.event_timestamp.date_naive() <= as_of + Duration::days(3));
    let mut cursor = None;
    count(&app, &known, &mut cursor).await;
    let before = answers_as_of(&app, as_of).await;
    let forecast = before[0].as_array().expect("nights");
    assert_eq!(forecast.len(), 61);
    assert!(
        forecast
            .iter()
            .all(|n| n["forecast"]["final"].as_f64().is_some()),
        "{}",
        before[0]
    );
    // Everything dated after the as-of day: the rest of the history and a burst of bookings for
    // nights before, on and after it (some dated after their night: never on its books).
    let mut more = later;
    for (i, night) in ["2022-11-10", "2022-11-15", "2022-11-20", "2023-01-05"]
        .into_iter()
        .enumerate()
    {
        for j in 0..20 {
            more.push(FeedEvent {
                id: 50_000_000 + (i * 100 + j) as i64,
                hotel_id: HOTEL,
                event_timestamp: Utc
                    .from_utc_datetime(&d("2022-11-16").and_hms_opt(0, 0, 1).expect("time")),
                status: 1,
                night_of_stay: d(night),
            });
        }
    }
    count(&app, &more, &mut cursor).await;
    let after = answers_as_of(&app, as_of).await;
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(b, a);
    }
    // The events were counted: as of the next day the nights have more on the books.
    let next: Value = app
        .get_json(&format!(
            "/dashboard/forecast?hotel_id={HOTEL}&as_of=2022-11-16&from=2022-11-20&to=2022-11-20"
        ))
        .await;
    let was = forecast
        .iter()
        .find(|n| n["night"] == "2022-11-20")
        .expect("the night");
    assert!(
        next[0]["on_the_books"].as_i64() >= was["on_the_books"].as_i64().map(|o| o + 20),
        "{next} {was}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_burst_of_thirty_bookings_forty_days_out_tops_the_alerts() {
    let app = TestApp::spawn_configured(0, |c| c.limits.dashboard_cache_ms = 0).await;
    let as_of = d("2023-02-01");
    let events: Vec<FeedEvent> = history(11)
        .into_iter()
        .filter(|e| e.event_timestamp.date_naive() <= as_of)
        .collect();
    let mut cursor = None;
    count(&app, &events, &mut cursor).await;
    let path = format!("/dashboard/alerts?hotel_id={HOTEL}&as_of={as_of}");
    let ordinary: Value = app.get_json(&path).await;
    let listed = ordinary.as_array().expect("alerts").len();
    assert!(
        listed <= 20,
        "an ordinary day lists {listed} of 91 nights: {ordinary}"
    );
    let night = as_of + Duration::days(40);
    let burst: Vec<FeedEvent> = (0..30)
        .map(|i| FeedEvent {
            id: 60_000_000 + i,
            hotel_id: HOTEL,
            event_timestamp: Utc
                .from_utc_datetime(&as_of.and_hms_opt(10, i as u32, 0).expect("time")),
            status: 1,
            night_of_stay: night,
        })
        .collect();
    count(&app, &burst, &mut cursor).await;
    let alerts: Value = app.get_json(&path).await;
    let top = &alerts[0];
    assert_eq!(top["night"], night.to_string(), "{alerts}");
    assert_eq!(top["lead"], 40);
    let figures: Vec<&str> = top["surprises"]
        .as_array()
        .expect("surprises")
        .iter()
        .map(|s| s["figure"].as_str().expect("figure"))
        .collect();
    assert!(figures.contains(&"pickup_1d"), "{top}");
    let s = &top["surprises"][0];
    assert!(s["actual"].as_f64() > s["expected_high"].as_f64(), "{top}");
    // The scores are in order.
    let scores: Vec<f64> = alerts
        .as_array()
        .expect("alerts")
        .iter()
        .map(|a| a["score"].as_f64().expect("score"))
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    app.stop().await;
}

/// The real city hotel of `data/`: the service's baselines equal the brute force's on
/// the evaluation period, and its forecast meets the targets there.
#[tokio::test]
async fn on_the_real_city_hotel_the_forecast_beats_the_baselines_the_definitions_give() {
    let Some(events) = crate::pace::real_city_hotel() else {
        return;
    };
    let app = TestApp::spawn().await;
    count(&app, &events, &mut None).await;
    let hotel = events[0].hotel_id;
    let brute = Brute::new(&events, hotel);
    let leads = [7, 14, 30, 60, 90];
    let got = check_accuracy(
        &app,
        &brute,
        hotel,
        d("2016-08-01"),
        d("2017-08-31"),
        &leads,
    )
    .await;
    let mut ratios = BTreeMap::new();
    for score in got["leads"].as_array().expect("leads") {
        let ratio = score["ratio_to_best"].as_f64().expect("ratio");
        let coverage = score["coverage"].as_f64().expect("coverage");
        assert!(ratio <= 1.0, "{score}");
        assert!((0.72..=0.88).contains(&coverage), "{score}");
        ratios.insert(score["lead"].as_i64().expect("lead"), ratio);
    }
    let mean = ratios.values().sum::<f64>() / ratios.len() as f64;
    eprintln!("real hotel: ratios to the best baseline {ratios:?}, mean {mean:.3}");
    assert!(mean <= 0.85, "{got}");
    app.stop().await;
}

#[tokio::test]
async fn without_as_of_the_figures_are_as_of_the_hotel_s_latest_event_day() {
    let app = TestApp::spawn_configured(0, |c| c.limits.dashboard_cache_ms = 0).await;
    let events: Vec<FeedEvent> = history(3)
        .into_iter()
        .filter(|e| e.event_timestamp.date_naive() <= d("2022-10-20"))
        .collect();
    let last = events
        .iter()
        .map(|e| e.event_timestamp.date_naive())
        .max()
        .expect("events");
    count(&app, &events, &mut None).await;
    for path in ["/dashboard/pace", "/dashboard/forecast"] {
        let nights: Value = app.get_json(&format!("{path}?hotel_id={HOTEL}")).await;
        assert_eq!(nights.as_array().map(Vec::len), Some(90), "{path}");
        assert_eq!(nights[0]["as_of"], last.to_string(), "{path}");
        assert_eq!(nights[0]["night"], last.to_string(), "{path}");
        assert!(
            nights[1]["on_the_books"].as_i64() > Some(0),
            "{path}: {}",
            nights[1]
        );
    }
    let alerts: Value = app
        .get_json(&format!("/dashboard/alerts?hotel_id={HOTEL}&horizon=365"))
        .await;
    // The history is seeded: its nights after the last event day, left without bookings, are
    // listed, each as of that day.
    let listed = alerts.as_array().expect("alerts");
    assert!(!listed.is_empty(), "{alerts}");
    assert!(
        listed.iter().all(|a| a["as_of"] == last.to_string()),
        "{alerts}"
    );
    let explicit: Value = app
        .get_json(&format!(
            "/dashboard/alerts?hotel_id={HOTEL}&horizon=365&as_of={last}"
        ))
        .await;
    assert_eq!(alerts, explicit);
    // A hotel without events: as of today.
    let today = Utc::now().date_naive();
    let nights: Value = app.get_json("/dashboard/forecast?hotel_id=7999").await;
    assert!(
        [today, Utc::now().date_naive()]
            .iter()
            .any(|t| nights[0]["as_of"] == t.to_string()),
        "{}",
        nights[0]
    );
    app.stop().await;
}
