//! The figures the Dashboard must show, folded here by brute force from the events themselves:
//! an oracle independent of the product's own aggregation (nothing here calls into the sync,
//! the dashboard store or the API's handlers).

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde_json::Value;

use roompulse::data_provider::generate::Row;

use super::fixtures::generated_rows;

/// `basis` codes as `dashboard_daily` stores them.
pub const EVENT_DAY: i16 = 1;
pub const NIGHT_OF_STAY: i16 = 2;

/// The `basis` query parameter's values, with their codes.
pub const BASES: [(&str, i16); 2] = [("event", EVENT_DAY), ("stay", NIGHT_OF_STAY)];

/// `(hotel_id, basis, day)` → `(bookings, cancellations)`; days without events are absent.
pub type Days = BTreeMap<(i32, i16, NaiveDate), (i64, i64)>;

/// One event as the figures see it.
pub struct Counted {
    pub hotel_id: i32,
    pub event_timestamp: DateTime<Utc>,
    pub status: i16,
    pub night_of_stay: NaiveDate,
}

/// Each event counts once on the (UTC) day it happened and once on its night of stay.
pub fn fold(events: impl IntoIterator<Item = Counted>) -> Days {
    let mut days = Days::new();
    for e in events {
        for key in [
            (e.hotel_id, EVENT_DAY, e.event_timestamp.date_naive()),
            (e.hotel_id, NIGHT_OF_STAY, e.night_of_stay),
        ] {
            let c = days.entry(key).or_default();
            match e.status {
                1 => c.0 += 1,
                2 => c.1 += 1,
                other => panic!("status {other}"),
            }
        }
    }
    days
}

/// The figures of events in the API's JSON (timestamps in RFC 3339), read here field by field.
pub fn of_json(events: &[&Value]) -> Days {
    fold(events.iter().map(|e| {
        let field = |name: &str| e[name].as_str().unwrap_or_else(|| panic!("{name} in {e}"));
        let number = |name: &str| e[name].as_i64().unwrap_or_else(|| panic!("{name} in {e}"));
        Counted {
            hotel_id: i32::try_from(number("hotel_id")).expect("hotel_id"),
            event_timestamp: DateTime::parse_from_rfc3339(field("event_timestamp"))
                .expect("an RFC 3339 event_timestamp")
                .to_utc(),
            status: i16::try_from(number("status")).expect("status"),
            night_of_stay: field("night_of_stay").parse().expect("night_of_stay"),
        }
    }))
}

/// A generated row as the figures see it.
pub fn counted(row: Row) -> Counted {
    Counted {
        hotel_id: row.hotel_id,
        event_timestamp: row.event_timestamp,
        status: row.status,
        night_of_stay: row.night_of_stay,
    }
}

/// What the stores must hold after a generated export, computed from the generator's rows,
/// not from anything stored.
pub struct Expected {
    pub ids: HashSet<i64>,
    pub days: Days,
    /// What `dashboard_pace` must hold.
    pub pace: PaceTable,
}

impl Expected {
    pub fn of(rows: u64, seed: u64) -> Self {
        let ids = generated_rows(rows, seed).map(|row| row.id).collect();
        let days = fold(generated_rows(rows, seed).map(counted));
        let pace = PaceOracle::new(generated_rows(rows, seed).map(counted)).table();
        Self { ids, days, pace }
    }

    pub fn events(&self) -> i64 {
        self.ids.len() as i64
    }
}

/// `GET {base}/dashboard` for every hotel, basis and year in `days`, by day and by month,
/// compared bucket by bucket (every bucket of the year, in order) with `days`.
pub async fn assert_api_matches(http: &reqwest::Client, base: &str, days: &Days) {
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
    let mut checked = 0i64;
    for &hotel in &hotels {
        for (basis, code) in BASES {
            for &year in &years {
                for period in ["day", "month"] {
                    let r = http
                        .get(format!(
                            "{base}/dashboard?hotel_id={hotel}&period={period}&year={year}&basis={basis}"
                        ))
                        .send()
                        .await
                        .expect("GET /dashboard");
                    assert_eq!(r.status(), 200);
                    let rows: Vec<Value> = r.json().await.expect("rows");
                    let mut want: BTreeMap<(u32, Option<u32>), (i64, i64)> = BTreeMap::new();
                    let mut date = NaiveDate::from_ymd_opt(year, 1, 1).expect("1 January");
                    while date.year() == year {
                        let key = match period {
                            "day" => (date.month(), Some(date.day())),
                            _ => (date.month(), None),
                        };
                        let c = want.entry(key).or_default();
                        if let Some(d) = days.get(&(hotel, code, date)) {
                            c.0 += d.0;
                            c.1 += d.1;
                        }
                        date = date.succ_opt().expect("the next day");
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
    let total: i64 = days.values().map(|c| c.0 + c.1).sum();
    assert_eq!(checked, total, "every event was compared on both bases");
}

/// `(hotel_id, night_of_stay, event day)` → `(bookings, cancellations)`: what
/// `dashboard_pace` must hold; combinations without events are absent.
pub type PaceTable = BTreeMap<(i32, NaiveDate, NaiveDate), (i64, i64)>;

/// The revenue manager's figures, answered by brute force from the events themselves: each
/// figure scans every event of its night (grouped by hotel and night only so that thousands of
/// figures stay quick), with the definitions of issue 10 written out again here.
pub struct PaceOracle {
    /// `(hotel_id, night)` → `(event day, status)` of each of its events.
    nights: HashMap<(i32, NaiveDate), Vec<(NaiveDate, i16)>>,
}

/// The lead-time buckets in answer order, as issue 10 lists them.
pub const LEAD_BUCKETS: [&str; 12] = [
    "after", "0", "1", "2-3", "4-7", "8-14", "15-30", "31-60", "61-90", "91-180", "181-365", "366+",
];

fn lead_bucket(days_before: i64) -> &'static str {
    match days_before {
        i64::MIN..=-1 => "after",
        0 => "0",
        1 => "1",
        2..=3 => "2-3",
        4..=7 => "4-7",
        8..=14 => "8-14",
        15..=30 => "15-30",
        31..=60 => "31-60",
        61..=90 => "61-90",
        91..=180 => "91-180",
        181..=365 => "181-365",
        _ => "366+",
    }
}

impl PaceOracle {
    pub fn new(events: impl IntoIterator<Item = Counted>) -> Self {
        let mut nights: HashMap<(i32, NaiveDate), Vec<(NaiveDate, i16)>> = HashMap::new();
        for e in events {
            nights
                .entry((e.hotel_id, e.night_of_stay))
                .or_default()
                .push((e.event_timestamp.date_naive(), e.status));
        }
        Self { nights }
    }

    fn events(&self, hotel: i32, night: NaiveDate) -> &[(NaiveDate, i16)] {
        self.nights.get(&(hotel, night)).map_or(&[], Vec::as_slice)
    }

    /// Bookings and cancellations of `night` whose event day is in `first ..= last`.
    pub fn counted(
        &self,
        hotel: i32,
        night: NaiveDate,
        first: NaiveDate,
        last: NaiveDate,
    ) -> (i64, i64) {
        let mut c = (0, 0);
        for &(day, status) in self.events(hotel, night) {
            if first <= day && day <= last {
                match status {
                    1 => c.0 += 1,
                    2 => c.1 += 1,
                    other => panic!("status {other}"),
                }
            }
        }
        c
    }

    /// OTB(night, as_of): bookings − cancellations counted on or before `as_of`.
    pub fn on_the_books(&self, hotel: i32, night: NaiveDate, as_of: NaiveDate) -> i64 {
        let (b, c) = self.counted(hotel, night, NaiveDate::MIN, as_of);
        b - c
    }

    /// Pickup over `days` days as of `as_of`: event days `as_of − days + 1 ..= as_of`.
    pub fn pickup(&self, hotel: i32, night: NaiveDate, as_of: NaiveDate, days: i64) -> (i64, i64) {
        let first = as_of - chrono::Duration::days(days - 1);
        self.counted(hotel, night, first, as_of)
    }

    /// Bookings and cancellations of the nights `from ..= to` per bucket, in answer order.
    pub fn lead_time(
        &self,
        hotel: i32,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Vec<(&'static str, i64, i64)> {
        let mut out: Vec<(&'static str, i64, i64)> =
            LEAD_BUCKETS.iter().map(|b| (*b, 0, 0)).collect();
        for (&(h, night), events) in &self.nights {
            if h != hotel || night < from || night > to {
                continue;
            }
            for &(day, status) in events {
                let bucket = lead_bucket((night - day).num_days());
                let slot = out.iter_mut().find(|s| s.0 == bucket).expect("a bucket");
                if status == 1 {
                    slot.1 += 1;
                } else {
                    slot.2 += 1;
                }
            }
        }
        out
    }

    /// The hotels with events.
    pub fn hotels(&self) -> Vec<i32> {
        let mut h: Vec<i32> = self.nights.keys().map(|k| k.0).collect();
        h.sort_unstable();
        h.dedup();
        h
    }

    /// The nights of `hotel` with events, sorted.
    pub fn nights_of(&self, hotel: i32) -> Vec<NaiveDate> {
        let mut n: Vec<NaiveDate> = self
            .nights
            .keys()
            .filter(|k| k.0 == hotel)
            .map(|k| k.1)
            .collect();
        n.sort_unstable();
        n
    }

    /// What `dashboard_pace` must hold.
    pub fn table(&self) -> PaceTable {
        let mut t = PaceTable::new();
        for (&(hotel, night), events) in &self.nights {
            for &(day, status) in events {
                let c = t.entry((hotel, night, day)).or_default();
                if status == 1 {
                    c.0 += 1;
                } else {
                    c.1 += 1;
                }
            }
        }
        t
    }
}
