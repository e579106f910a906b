//! The whole chain on the real services: a generated CSV export through the loader, the
//! queue and the workers into the Data Provider, the sync over HTTP into the Dashboard, and
//! `GET /dashboard`, compared bucket by bucket with figures computed here from the same rows.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{Datelike, NaiveDate};
use roompulse::dashboard::client::DataProviderClient;
use roompulse::dashboard::store;
use roompulse::dashboard::sync;
use roompulse::data_provider::generate::{self, GenerateOptions};
use roompulse::data_provider::load;
use serde_json::Value;

use crate::helpers::{eventually, generated_csv, temp_dir, TestApp};

const ROWS: u64 = 4000;
const SEED: u64 = 17;

/// (hotel, basis name, day) → (bookings, cancellations), from the generator itself.
fn expected_days() -> BTreeMap<(i32, &'static str, NaiveDate), (i64, i64)> {
    let opts = GenerateOptions {
        rows: ROWS,
        hotels: 4, // as `generated_csv` writes it
        seed: SEED,
        trailing_blank_lines: 0,
    };
    let mut days = BTreeMap::new();
    for row in generate::rows(&opts) {
        for key in [
            (row.hotel_id, "event", row.event_timestamp.date_naive()),
            (row.hotel_id, "stay", row.night_of_stay),
        ] {
            let c: &mut (i64, i64) = days.entry(key).or_default();
            if row.status == 1 {
                c.0 += 1;
            } else {
                c.1 += 1;
            }
        }
    }
    days
}

#[tokio::test]
async fn a_csv_export_ends_as_exact_dashboard_figures() {
    let app = TestApp::spawn_with_workers(2).await;
    let dir = temp_dir();
    let csv = generated_csv(dir.path(), ROWS, SEED);
    let report = load::load_events(&csv, &dir.path().join("rejects.csv"), app.queue(), false)
        .await
        .unwrap();
    assert_eq!((report.queued, report.rejected), (ROWS, 0));

    // The app serves both modules: the Dashboard reaches the Data Provider over HTTP, and its
    // passes run while the workers are still inserting.
    let client = DataProviderClient::new(&app.base_url).unwrap();
    let pool = app.state.dashboard.db.clone();
    eventually(
        "the sync has counted every event",
        Duration::from_secs(120),
        || {
            let (client, pool) = (&client, &pool);
            async move {
                sync::run_pass(pool, client, 500).await.unwrap();
                let mut conn = store::connection(pool).await.unwrap();
                let state = store::sync_state(&mut conn).await.unwrap();
                assert!(state.events_synced <= ROWS as i64, "counted twice");
                state.events_synced == ROWS as i64
            }
        },
    )
    .await;
    assert_eq!(app.stored_count().await, ROWS as i64);

    let days = expected_days();
    let hotels: Vec<i32> = {
        let mut h: Vec<i32> = days.keys().map(|k| k.0).collect();
        h.dedup();
        h
    };
    let years: Vec<i32> = {
        let mut y: Vec<i32> = days.keys().map(|k| k.2.year()).collect();
        y.sort_unstable();
        y.dedup();
        y
    };
    assert_eq!(hotels.len(), 4);
    let total: i64 = days.values().map(|c| c.0 + c.1).sum();
    assert_eq!(total, 2 * ROWS as i64);
    let mut checked = 0i64;
    for &hotel in &hotels {
        for basis in ["event", "stay"] {
            for &year in &years {
                for period in ["day", "month"] {
                    let r = app
                        .client
                        .get(app.url(&format!(
                            "/dashboard?hotel_id={hotel}&period={period}&year={year}&basis={basis}"
                        )))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status(), 200);
                    let rows: Vec<Value> = r.json().await.unwrap();
                    let mut want: BTreeMap<(u32, Option<u32>), (i64, i64)> = BTreeMap::new();
                    let mut date = NaiveDate::from_ymd_opt(year, 1, 1).unwrap();
                    while date.year() == year {
                        let key = match period {
                            "day" => (date.month(), Some(date.day())),
                            _ => (date.month(), None),
                        };
                        let c = want.entry(key).or_default();
                        if let Some(d) = days.get(&(hotel, basis, date)) {
                            c.0 += d.0;
                            c.1 += d.1;
                        }
                        date = date.succ_opt().unwrap();
                    }
                    assert_eq!(rows.len(), want.len());
                    for (row, ((month, day), (bookings, cancellations))) in rows.iter().zip(&want) {
                        let what = format!("hotel {hotel} {basis} {year}-{month} {day:?}");
                        assert_eq!(row["month"], *month, "{what}");
                        assert_eq!(row["day"].as_u64().map(|d| d as u32), *day, "{what}");
                        assert_eq!(row["bookings"], *bookings, "{what}");
                        assert_eq!(row["cancellations"], *cancellations, "{what}");
                        assert_eq!(row["booking_count"], bookings - cancellations, "{what}");
                        if period == "day" {
                            checked += bookings + cancellations;
                        }
                    }
                }
            }
        }
    }
    assert_eq!(
        checked,
        2 * ROWS as i64,
        "every event was compared on both bases"
    );
    app.stop().await;
}
