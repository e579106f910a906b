//! One hotel's night book: its `dashboard_pace` rows (per night, the event days with their
//! counts, summed here into the night's running totals) held in memory, so that every pace
//! figure and every forecast reads arrays instead of the database.
//!
//! On the books of a night as of a day is a binary search in the night's event days; pickup the
//! difference of two; a booking curve a walk of one night's days; the forecast's lead matrix is
//! built from the same rows once per version. A request costs one primary-key probe of
//! `dashboard_hotel_versions` (none while the figures' generation has not moved and there is no
//! standby), and the hotel's rows are read again only when its version moved: the sync moves it
//! in every transaction that changes the hotel's figures (`store::apply_page`).
//!
//! What the forecast derives per as-of day (the day's model, the alert ranges) reads only events
//! dated before that day; a reload keeps what the new rows leave unchanged (no event dated before
//! its day changed), so a stream of today's events costs a reload of the rows and the matrix,
//! never a new model.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use diesel::sql_types::{BigInt, Date};
use diesel::QueryableByName;

use super::forecast::alerts::AlertRanges;
use super::forecast::lead::{self, Day, LeadMatrix, NetCount, KCAP};
use super::forecast::model::DayModel;
use super::store::{self, Counts, DashboardStoreError};
use crate::db::prepared::Statement;
use crate::db::replica::ReadPool;
use crate::db::PgPool;

/// Days of history the forecast learns from before the earliest as-of day of a question: enough
/// for every window the model reads (a year back for last year's nights, 56 nights of errors,
/// 91 of residuals) and for its adaptive band level to settle; older nights teach nothing the
/// last three years do not. It also bounds the cost of a day model, whatever the hotel's history
/// (stray events in 1900 and 2100 included).
pub const LEARN_DAYS: i64 = 1_100;
/// Matrix bounds are rounded to this many days, so that nearby questions share one.
const SNAP: i64 = 128;
/// Day models and alert ranges kept per hotel (a few as-of days are asked at once).
const DERIVED_KEPT: usize = 4;

/// The first and last night of a lead matrix.
type NightBounds = (Day, Day);

/// The nights a question reads: as-of days from `earliest_as_of`, nights up to `last_night`.
#[derive(Debug, Clone, Copy)]
pub struct Span {
    pub earliest_as_of: Day,
    pub last_night: Day,
}

/// One night's on the books as of a day and its pickup over each window asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NightPace {
    pub night: NaiveDate,
    pub on_the_books: i64,
    /// One per window, in the order asked.
    pub pickup: Vec<Counts>,
}

/// A range of nights as of one day.
#[derive(Debug, Clone, Copy)]
pub struct NightRange {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub as_of: NaiveDate,
}

/// One night's on the books as of one of its event days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NightDay {
    pub night: NaiveDate,
    pub event_day: NaiveDate,
    pub on_the_books: i64,
}

/// Bookings and cancellations by days before arrival (night − event day; negative after the
/// night).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeadDays {
    pub days_before: i32,
    pub bookings: i64,
    pub cancellations: i64,
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Date)]
    night: NaiveDate,
    #[diesel(sql_type = Date)]
    event_day: NaiveDate,
    #[diesel(sql_type = BigInt)]
    bookings: i64,
    #[diesel(sql_type = BigInt)]
    cancellations: i64,
}

#[derive(QueryableByName)]
struct Version {
    #[diesel(sql_type = BigInt)]
    version: i64,
}

async fn version(pool: &PgPool, hotel_id: i32) -> Result<i64, DashboardStoreError> {
    use diesel_async::RunQueryDsl;
    let mut conn = store::connection(pool).await?;
    let v: Version = Statement::new()
        .sql("SELECT COALESCE(max(version), 0)::int8 AS version FROM dashboard_hotel_versions WHERE hotel_id = ")
        .bind::<diesel::sql_types::Int4, _>(hotel_id)
        .get_result(&mut conn)
        .await?;
    Ok(v.version)
}

async fn rows(pool: &PgPool, hotel_id: i32) -> Result<Vec<Row>, DashboardStoreError> {
    use diesel_async::RunQueryDsl;
    let mut conn = store::connection(pool).await?;
    Ok(Statement::new()
        .sql(
            "SELECT night, event_day, bookings, cancellations \
             FROM dashboard_pace WHERE hotel_id = ",
        )
        .bind::<diesel::sql_types::Int4, _>(hotel_id)
        .sql(" ORDER BY night, event_day")
        .load(&mut conn)
        .await?)
}

/// What the forecast derived for some as-of days, kept with the book.
#[derive(Default)]
struct Derived {
    /// The first night of the matrix each was built on (a model is built on one numbering).
    models: Vec<(Option<Day>, Arc<DayModel>)>,
    ranges: Vec<(Option<Day>, Arc<AlertRanges>)>,
}

/// One hotel's rows as of one version of its figures.
pub struct Book {
    version: i64,
    /// The figures' generation (+1) in which this version was last found current; 0: never.
    checked: AtomicU64,
    /// The first night with a row; `starts` has one entry per night from it, plus one.
    first: Day,
    starts: Vec<u32>,
    /// Per row, in (night, event day) order: the event day and the night's running bookings and
    /// cancellations up to it.
    days: Vec<i32>,
    running: Vec<[i64; 2]>,
    last_event_day: Option<Day>,
    /// Lead matrices by (first, last) night, the most recent first.
    matrices: Mutex<Vec<(NightBounds, Arc<LeadMatrix>)>>,
    derived: tokio::sync::Mutex<Derived>,
}

impl Book {
    fn new(version: i64, rows: &[Row]) -> Self {
        let first = rows.first().map_or(0, |r| lead::day(r.night));
        let last = rows.last().map_or(first - 1, |r| lead::day(r.night));
        let nights = usize::try_from(last - first + 1).unwrap_or(0);
        let mut starts = Vec::with_capacity(nights + 1);
        let mut days = Vec::with_capacity(rows.len());
        let mut running = Vec::with_capacity(rows.len());
        let mut last_event_day = None;
        // The stored rows hold each day's counts; the book keeps the night's sums up to each.
        let mut sum = [0i64; 2];
        for r in rows {
            let row = (lead::day(r.night) - first) as usize;
            if starts.len() <= row {
                sum = [0, 0];
            }
            while starts.len() <= row {
                starts.push(days.len() as u32);
            }
            let day = lead::day(r.event_day);
            last_event_day = last_event_day.max(Some(day));
            // Every accepted date lies in 1900–2100: well inside i32 day numbers.
            days.push(day as i32);
            sum = [sum[0] + r.bookings, sum[1] + r.cancellations];
            running.push(sum);
        }
        starts.resize(nights + 1, days.len() as u32);
        Book {
            version,
            checked: AtomicU64::new(0),
            first,
            starts,
            days,
            running,
            last_event_day,
            matrices: Mutex::new(Vec::new()),
            derived: tokio::sync::Mutex::new(Derived::default()),
        }
    }

    /// About the bytes held, for the bound on all books (the matrix counted ahead).
    fn bytes(&self) -> u64 {
        let rows = self.days.len() as u64 * 20 + self.starts.len() as u64 * 4;
        // About two matrices held: a question spans at most LEARN_DAYS + two years of nights.
        let matrix_nights = (self.starts.len() as u64).min(LEARN_DAYS as u64 + 2 * 366 + 2 * 128);
        rows + 2 * matrix_nights * (KCAP as u64 + 1) * 4 + 4096
    }

    /// The latest event day counted for the hotel: the default as-of day of its figures.
    pub fn last_event_day(&self) -> Option<NaiveDate> {
        self.last_event_day.and_then(lead::date)
    }

    /// The rows of `night` (empty outside the book).
    fn night(&self, night: Day) -> std::ops::Range<usize> {
        let i = night - self.first;
        if i < 0 || i as usize + 1 >= self.starts.len() {
            return 0..0;
        }
        let i = i as usize;
        self.starts[i] as usize..self.starts[i + 1] as usize
    }

    /// The night's last row dated on or before `as_of`.
    fn at(&self, night: Day, as_of: Day) -> Option<usize> {
        let rows = self.night(night);
        let n = self.days[rows.clone()].partition_point(|&d| i64::from(d) <= as_of);
        (n > 0).then(|| rows.start + n - 1)
    }

    /// The nights of `range` with a row on or before its as-of day: on the books, and pickup
    /// over each of `windows` (the event days `as_of − n + 1 ..= as_of`); by night.
    pub fn pace(&self, range: NightRange, windows: &[i32]) -> Vec<NightPace> {
        let as_of = lead::day(range.as_of);
        let (from, to) = (lead::day(range.from), lead::day(range.to));
        (from..=to)
            .filter_map(|night| {
                let a = self.at(night, as_of)?;
                let [b, c] = self.running[a];
                let pickup = windows
                    .iter()
                    .map(|&w| {
                        let before = as_of - i64::from(w);
                        if i64::from(self.days[a]) <= before {
                            return Counts::default();
                        }
                        let [wb, wc] = self.at(night, before).map_or([0, 0], |i| self.running[i]);
                        Counts {
                            bookings: b - wb,
                            cancellations: c - wc,
                        }
                    })
                    .collect();
                Some(NightPace {
                    night: lead::date(night)?,
                    on_the_books: b - c,
                    pickup,
                })
            })
            .collect()
    }

    /// For each `(night, first)`: the night's last row before `first` (where its curve starts
    /// from) and its rows from `first` to the night itself; sorted by night and event day.
    pub fn night_history(&self, nights: &[(NaiveDate, NaiveDate)]) -> Vec<NightDay> {
        let mut out = Vec::new();
        for &(night, first) in nights {
            let (n, f) = (lead::day(night), lead::day(first));
            let start = self.at(n, f - 1).into_iter();
            let rows = self.night(n);
            let inside = rows
                .clone()
                .filter(|&i| (f..=n).contains(&i64::from(self.days[i])));
            for i in start.chain(inside) {
                if let Some(event_day) = lead::date(i64::from(self.days[i])) {
                    let [b, c] = self.running[i];
                    out.push(NightDay {
                        night,
                        event_day,
                        on_the_books: b - c,
                    });
                }
            }
        }
        out.sort_unstable_by_key(|r| (r.night, r.event_day));
        out
    }

    /// Bookings and cancellations of the nights `from ..= to` by days before arrival.
    pub fn lead_days(&self, from: NaiveDate, to: NaiveDate) -> Vec<LeadDays> {
        let mut by_days: BTreeMap<i64, [i64; 2]> = BTreeMap::new();
        for night in lead::day(from)..=lead::day(to) {
            let mut before = [0, 0];
            for i in self.night(night) {
                let [b, c] = self.running[i];
                let sum = by_days.entry(night - i64::from(self.days[i])).or_default();
                sum[0] += b - before[0];
                sum[1] += c - before[1];
                before = [b, c];
            }
        }
        by_days
            .into_iter()
            .map(|(days, [bookings, cancellations])| LeadDays {
                days_before: days as i32,
                bookings,
                cancellations,
            })
            .collect()
    }

    /// The net count of each row (bookings − cancellations on its day), for the lead matrix.
    fn net_counts(&self, nights: std::ops::RangeInclusive<Day>) -> Vec<NetCount> {
        let mut out = Vec::new();
        for night in nights {
            let mut before = 0;
            for i in self.night(night) {
                let [b, c] = self.running[i];
                out.push(NetCount {
                    night,
                    event_day: i64::from(self.days[i]),
                    net: i32::try_from(b - c - before).unwrap_or(0),
                });
                before = b - c;
            }
        }
        out
    }

    /// The forecast's lead matrix for a question over `span`: the hotel's nights from
    /// [`LEARN_DAYS`] before its earliest as-of day to its last night (bounds rounded, clipped to
    /// the nights with rows and to `KCAP` days after the latest event), built once and kept.
    pub fn matrix(&self, span: Span) -> Arc<LeadMatrix> {
        let Some(last_event) = self.last_event_day else {
            return Arc::new(LeadMatrix::default());
        };
        let last_row = self.first + self.starts.len() as i64 - 2;
        let lo = (span.earliest_as_of - LEARN_DAYS).div_euclid(SNAP) * SNAP;
        let hi = (span.last_night + SNAP).div_euclid(SNAP) * SNAP;
        let (lo, hi) = (
            lo.max(self.first),
            hi.min(last_row).min(last_event + KCAP as i64),
        );
        let mut matrices = self.matrices.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, m)) = matrices.iter().find(|(k, _)| *k == (lo, hi)) {
            return m.clone();
        }
        let m = Arc::new(if hi < lo {
            LeadMatrix::default()
        } else {
            LeadMatrix::from_counts(&self.net_counts(lo..=hi))
        });
        matrices.insert(0, ((lo, hi), m.clone()));
        matrices.truncate(DERIVED_KEPT);
        m
    }

    /// The earliest event day whose counts differ between `self` and `other` (`None`: the same
    /// rows). What was derived for as-of days up to it reads nothing that changed.
    fn first_change(&self, other: &Book) -> Option<Day> {
        let lo = self.first.min(other.first);
        let hi =
            (self.first + self.starts.len() as i64).max(other.first + other.starts.len() as i64);
        let mut earliest: Option<Day> = None;
        for night in lo..hi {
            let (a, b) = (self.night(night), other.night(night));
            let (da, db) = (&self.days[a.clone()], &other.days[b.clone()]);
            let (ra, rb) = (&self.running[a], &other.running[b]);
            let same = da
                .iter()
                .zip(ra)
                .zip(db.iter().zip(rb))
                .position(|(x, y)| x != y);
            let differs_at = match same {
                Some(j) => Some(i64::from(da[j].min(db[j]))),
                None if da.len() == db.len() => None,
                None => {
                    let j = da.len().min(db.len());
                    Some(i64::from(*da.get(j).or(db.get(j)).unwrap_or(&i32::MAX)))
                }
            };
            earliest = match (earliest, differs_at) {
                (Some(e), Some(d)) => Some(e.min(d)),
                (e, d) => e.or(d),
            };
        }
        earliest
    }

    /// Keeps from `old` what the forecast derived for as-of days that this book's rows leave
    /// unchanged: it read only events dated before its day.
    fn inherit(&self, old: &Book) {
        let Ok(mut mine) = self.derived.try_lock() else {
            return;
        };
        let Ok(theirs) = old.derived.try_lock() else {
            return;
        };
        let change = self.first_change(old);
        let keeps = |as_of: Day| change.is_none_or(|c| as_of <= c);
        mine.models = theirs
            .models
            .iter()
            .filter(|(_, m)| keeps(m.as_of()))
            .cloned()
            .collect();
        mine.ranges = theirs
            .ranges
            .iter()
            .filter(|(_, r)| keeps(r.as_of()))
            .cloned()
            .collect();
    }

    /// The day model of `as_of` covering leads up to `leads` at least, with the matrix it reads:
    /// built once (off the async threads: up to a second) and kept.
    pub async fn day_model(&self, as_of: Day, leads: usize) -> (Arc<LeadMatrix>, Arc<DayModel>) {
        let m = self.matrix(Span {
            earliest_as_of: as_of,
            last_night: as_of + leads as i64,
        });
        let mut derived = self.derived.lock().await;
        let first = m.first_night();
        if let Some((_, model)) = derived
            .models
            .iter()
            .find(|(f, d)| *f == first && d.as_of() == as_of && d.max_lead() >= leads)
        {
            return (m, model.clone());
        }
        // Learning stops the day after the last event: every later step only scores nights
        // that ended empty.
        let learned = self
            .last_event_day
            .map_or(as_of, |last| as_of.min(last + 1));
        let built = {
            let m = m.clone();
            tokio::task::spawn_blocking(move || DayModel::build_learned(&m, as_of, learned, leads))
                .await
        };
        let model = Arc::new(built.unwrap_or_else(|_| DayModel::build(&m, as_of, 0)));
        derived
            .models
            .retain(|(f, d)| !(*f == first && d.as_of() == as_of));
        derived.models.insert(0, (first, model.clone()));
        derived.models.truncate(DERIVED_KEPT);
        (m, model)
    }

    /// The alert ranges of `as_of` over `horizon` days, with the matrix they read: built once
    /// and kept.
    pub async fn alert_ranges(
        &self,
        as_of: Day,
        horizon: usize,
    ) -> (Arc<LeadMatrix>, Arc<AlertRanges>) {
        // The ranges pool nights up to 3 days past the horizon, the figures 7 days back.
        let m = self.matrix(Span {
            earliest_as_of: as_of,
            last_night: as_of + horizon as i64 + 3,
        });
        let mut derived = self.derived.lock().await;
        let first = m.first_night();
        if let Some((_, r)) = derived
            .ranges
            .iter()
            .find(|(f, r)| *f == first && r.as_of() == as_of && r.horizon() == horizon)
        {
            return (m, r.clone());
        }
        let built = {
            let m = m.clone();
            tokio::task::spawn_blocking(move || AlertRanges::build(&m, as_of, horizon, ALERT_Q))
                .await
        };
        let ranges = Arc::new(built.unwrap_or_else(|_| AlertRanges::build(&m, as_of, 0, ALERT_Q)));
        derived.ranges.insert(0, (first, ranges.clone()));
        derived.ranges.truncate(DERIVED_KEPT);
        (m, ranges)
    }
}

/// The alerts' tail: a figure is surprising below its 1 % or above its 99 % quantile
/// (`docs/forecast-research.md` §5).
pub const ALERT_Q: f64 = 0.01;

/// The books of the hotels asked about, within a bound on the bytes held.
pub struct Books {
    held: moka::sync::Cache<i32, Arc<Book>>,
    /// One loader per hotel: concurrent requests after a change wait for one read of the rows.
    loading: Mutex<HashMap<i32, Arc<tokio::sync::Mutex<()>>>>,
}

impl Books {
    /// The bytes of books kept at most: hundreds of real hotels' histories.
    pub const MAX_BYTES: u64 = 512 * 1024 * 1024;

    pub fn new() -> Self {
        Books {
            held: moka::sync::Cache::builder()
                .max_capacity(Self::MAX_BYTES)
                .weigher(|_: &i32, b: &Arc<Book>| u32::try_from(b.bytes()).unwrap_or(u32::MAX))
                .build(),
            loading: Mutex::new(HashMap::new()),
        }
    }

    /// The current book of `hotel_id`. `generation`: the figures' generation read before this
    /// call, when commits can be heard and reads go to the primary (then a book found current
    /// in it needs no probe).
    pub async fn book(
        &self,
        reads: &ReadPool,
        generation: Option<u64>,
        hotel_id: i32,
    ) -> Result<Arc<Book>, DashboardStoreError> {
        let held = self.held.get(&hotel_id);
        if let (Some(book), Some(g)) = (&held, generation) {
            if book.checked.load(Ordering::Acquire) == g + 1 {
                return Ok(book.clone());
            }
        }
        let version = reads
            .read(|pool| async move { version(&pool, hotel_id).await })
            .await?;
        let current = |book: &Arc<Book>| {
            (book.version == version).then(|| {
                if let Some(g) = generation {
                    book.checked.fetch_max(g + 1, Ordering::AcqRel);
                }
                book.clone()
            })
        };
        if let Some(book) = held.as_ref().and_then(current) {
            return Ok(book);
        }
        let gate = {
            let mut loading = self.loading.lock().unwrap_or_else(|e| e.into_inner());
            loading.entry(hotel_id).or_default().clone()
        };
        let _one_loader = gate.lock().await;
        let held = self.held.get(&hotel_id);
        if let Some(book) = held.as_ref().and_then(current) {
            return Ok(book);
        }
        let rows = reads
            .read(|pool| async move { rows(&pool, hotel_id).await })
            .await?;
        let book = Arc::new(Book::new(version, &rows));
        if let Some(g) = generation {
            book.checked.store(g + 1, Ordering::Release);
        }
        if let Some(old) = &held {
            book.inherit(old);
        }
        self.held.insert(hotel_id, book.clone());
        Ok(book)
    }
}

impl Default for Books {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("a date")
    }

    /// A book from (night, event day, bookings, cancellations) counts, as the sync stores them.
    fn book(counts: &[(&str, &str, i64, i64)]) -> Book {
        let mut rows: Vec<Row> = counts
            .iter()
            .map(|&(n, e, b, c)| Row {
                night: d(n),
                event_day: d(e),
                bookings: b,
                cancellations: c,
            })
            .collect();
        rows.sort_by_key(|r| (r.night, r.event_day));
        Book::new(1, &rows)
    }

    const HISTORY: [(&str, &str, i64, i64); 6] = [
        ("2024-03-10", "2024-01-05", 3, 0),
        ("2024-03-10", "2024-03-01", 2, 1),
        ("2024-03-10", "2024-03-09", 1, 0),
        ("2024-03-10", "2024-03-12", 0, 1),
        ("2024-03-12", "2024-03-11", 4, 0),
        ("2024-03-15", "2024-02-01", 1, 1),
    ];

    #[test]
    fn pace_reads_the_last_row_up_to_the_day_and_differences_for_pickup() {
        let b = book(&HISTORY);
        let range = NightRange {
            from: d("2024-03-09"),
            to: d("2024-03-16"),
            as_of: d("2024-03-09"),
        };
        let got = b.pace(range, &[1, 8, 100]);
        // 2024-03-10: 3 + 2 + 1 booked, 1 cancelled by the 9th; 03-12 nothing yet; 03-15 net 0.
        let nights: Vec<(NaiveDate, i64)> = got.iter().map(|n| (n.night, n.on_the_books)).collect();
        assert_eq!(nights, [(d("2024-03-10"), 5), (d("2024-03-15"), 0)]);
        let pickup: Vec<(i64, i64)> = got[0]
            .pickup
            .iter()
            .map(|c| (c.bookings, c.cancellations))
            .collect();
        // 1 day: the 9th; 8 days: 03-02 … 03-09 (not the 1st); 100 days: everything.
        assert_eq!(pickup, [(1, 0), (1, 0), (6, 1)]);
        assert_eq!(b.last_event_day(), Some(d("2024-03-12")));
    }

    #[test]
    fn the_history_and_the_lead_days_come_from_the_running_totals() {
        let b = book(&HISTORY);
        let h = b.night_history(&[(d("2024-03-10"), d("2024-03-02"))]);
        let days: Vec<(NaiveDate, i64)> = h.iter().map(|r| (r.event_day, r.on_the_books)).collect();
        // The row before the curve's first day, then the days up to the night (not after it).
        assert_eq!(days, [(d("2024-03-01"), 4), (d("2024-03-09"), 5)]);
        let leads: Vec<(i32, i64, i64)> = b
            .lead_days(d("2024-03-10"), d("2024-03-12"))
            .iter()
            .map(|l| (l.days_before, l.bookings, l.cancellations))
            .collect();
        assert_eq!(leads, [(-2, 0, 1), (1, 5, 0), (9, 2, 1), (65, 3, 0)]);
    }

    #[test]
    fn the_first_change_is_the_earliest_event_day_whose_counts_differ() {
        let a = book(&HISTORY);
        assert_eq!(a.first_change(&book(&HISTORY)), None);
        let mut later = HISTORY.to_vec();
        later.push(("2024-03-20", "2024-03-13", 1, 0));
        assert_eq!(
            a.first_change(&book(&later)),
            Some(lead::day(d("2024-03-13")))
        );
        // One more booking on an existing day moves that row and every later one of the night.
        let mut earlier = HISTORY.to_vec();
        earlier[1].2 += 1;
        assert_eq!(
            a.first_change(&book(&earlier)),
            Some(lead::day(d("2024-03-01")))
        );
        // A new first night, before all others.
        let mut before = HISTORY.to_vec();
        before.push(("2023-12-01", "2023-11-20", 1, 0));
        assert_eq!(
            a.first_change(&book(&before)),
            Some(lead::day(d("2023-11-20")))
        );
    }

    #[tokio::test]
    async fn a_new_version_keeps_the_models_of_as_of_days_its_changes_come_after() {
        let old = book(&HISTORY);
        let (early, late) = (lead::day(d("2024-03-05")), lead::day(d("2024-03-11")));
        old.day_model(early, 5).await;
        old.day_model(late, 5).await;
        // An event dated 03-08: the model of 03-05 read nothing it changes, that of 03-11 did.
        let mut more = HISTORY.to_vec();
        more.push(("2024-03-12", "2024-03-08", 1, 0));
        let new = book(&more);
        new.inherit(&old);
        let kept: Vec<Day> = new
            .derived
            .lock()
            .await
            .models
            .iter()
            .map(|(_, m)| m.as_of())
            .collect();
        assert_eq!(kept, [early]);
    }
}
