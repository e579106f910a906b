//! Queries on the Dashboard's database: apply a page of the sync (figures and cursor in one
//! transaction), read the sync's state, read the daily figures of a range.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Date, Int4, Nullable, SmallInt, Text, Timestamptz};
use diesel_async::scoped_futures::ScopedFutureExt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use super::schema::{dashboard_daily, sync_state};
use super::Basis;
use crate::db::PgPool;

#[derive(Debug, thiserror::Error)]
pub enum DashboardStoreError {
    #[error("the dashboard database is unavailable: {0}")]
    Unavailable(String),
    #[error("query on the dashboard database failed: {0}")]
    Query(#[from] diesel::result::Error),
}

impl DashboardStoreError {
    /// The server or the connection went away: worth answering 503 rather than 500.
    pub fn is_transient(&self) -> bool {
        match self {
            DashboardStoreError::Unavailable(_) => true,
            DashboardStoreError::Query(e) => crate::db::is_transient(e),
        }
    }
}

impl From<DashboardStoreError> for crate::error::ApiError {
    fn from(e: DashboardStoreError) -> Self {
        crate::error::ApiError::database(e.is_transient(), e)
    }
}

pub async fn connection(
    pool: &PgPool,
) -> Result<diesel_async::pooled_connection::deadpool::Object<AsyncPgConnection>, DashboardStoreError>
{
    pool.get()
        .await
        .map_err(|e| DashboardStoreError::Unavailable(e.to_string()))
}

/// Counts to add to one day's figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub bookings: i64,
    pub cancellations: i64,
}

impl std::ops::AddAssign for Counts {
    fn add_assign(&mut self, other: Counts) {
        self.bookings += other.bookings;
        self.cancellations += other.cancellations;
    }
}

/// What a page of events adds to the daily figures, keyed by `(hotel_id, basis, day)`; ordered,
/// so that upserts take their row locks in one order.
pub type DailyDeltas = BTreeMap<(i32, Basis, NaiveDate), Counts>;

/// What a page of events adds to the pace figures, keyed by `(hotel_id, night_of_stay, event
/// day)`; ordered for the same reason as [`DailyDeltas`].
pub type PaceDeltas = BTreeMap<(i32, NaiveDate, NaiveDate), Counts>;

/// The sync's position and progress (the single row of `sync_state`).
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = sync_state, check_for_backend(diesel::pg::Pg))]
pub struct SyncState {
    /// The cursor of the next page to fetch; `None` before the first page.
    pub cursor: Option<String>,
    pub events_synced: i64,
    /// The latest `event_timestamp` among the events synced so far.
    pub last_event_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

pub async fn sync_state(conn: &mut AsyncPgConnection) -> Result<SyncState, DashboardStoreError> {
    Ok(sync_state::table
        .find(1i16)
        .select(SyncState::as_select())
        .get_result(conn)
        .await?)
}

/// A page of the feed, folded, ready to be applied.
#[derive(Debug, Clone, Default)]
pub struct PageDeltas {
    pub daily: DailyDeltas,
    pub pace: PaceDeltas,
    pub events: i64,
    pub last_event_at: Option<DateTime<Utc>>,
}

impl PageDeltas {
    /// Adds a later page's deltas to these.
    pub fn add(&mut self, later: PageDeltas) {
        for (key, counts) in later.daily {
            *self.daily.entry(key).or_default() += counts;
        }
        for (key, counts) in later.pace {
            *self.pace.entry(key).or_default() += counts;
        }
        self.events += later.events;
        self.last_event_at = self.last_event_at.max(later.last_event_at);
    }
}

/// What became of a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// The figures and the cursor moved together.
    Committed,
    /// The stored cursor is no longer the one the page was fetched with: another pass has
    /// applied it (or moved past it). Nothing changed.
    CursorMoved { found: Option<String> },
}

/// Adds `page` to the figures and moves the cursor from `requested` (the cursor the page was
/// fetched with) to `next`, in one transaction, provided the stored cursor is still `requested`.
pub async fn apply_page(
    conn: &mut AsyncPgConnection,
    requested: Option<&str>,
    next: &str,
    page: &PageDeltas,
) -> Result<Applied, DashboardStoreError> {
    let daily = DailyColumns::of(&page.daily);
    let pace = PaceColumns::of(&page.pace);
    // Every counted event adds to the daily figures of its hotel: these are the hotels touched.
    let mut touched = daily.hotels.clone();
    touched.sort_unstable();
    touched.dedup();
    let requested = requested.map(str::to_string);
    let next = next.to_string();
    let events = page.events;
    let last_event_at = page.last_event_at;
    let applied = conn
        .transaction::<_, diesel::result::Error, _>(|conn| {
            async move {
                // The row lock orders concurrent appliers: the second sees the first's cursor.
                let found: Option<String> = sync_state::table
                    .find(1i16)
                    .select(sync_state::cursor)
                    .for_update()
                    .get_result(conn)
                    .await?;
                if found != requested {
                    return Ok(Applied::CursorMoved { found });
                }
                diesel::sql_query(PREFER_PROBES).execute(conn).await?;
                if !daily.hotels.is_empty() {
                    diesel::sql_query(add_counts_sql("dashboard_daily", ["basis", "day"]))
                        .bind::<Array<Int4>, _>(&daily.hotels)
                        .bind::<Array<SmallInt>, _>(&daily.bases)
                        .bind::<Array<Date>, _>(&daily.days)
                        .bind::<Array<BigInt>, _>(&daily.bookings)
                        .bind::<Array<BigInt>, _>(&daily.cancellations)
                        .execute(conn)
                        .await?;
                }
                add_pace(conn, &pace).await?;
                if !touched.is_empty() {
                    // Readers holding a hotel's rows in memory (`book`) reload it when this moves.
                    diesel::sql_query(
                        "INSERT INTO dashboard_hotel_versions (hotel_id, version) \
                         SELECT unnest($1::int4[]), 1 \
                         ON CONFLICT (hotel_id) DO UPDATE SET \
                             version = dashboard_hotel_versions.version + 1",
                    )
                    .bind::<Array<Int4>, _>(&touched)
                    .execute(conn)
                    .await?;
                }
                diesel::sql_query(
                    "UPDATE sync_state SET cursor = $1, events_synced = events_synced + $2, \
                         last_event_at = GREATEST(last_event_at, $3), updated_at = now() \
                     WHERE id = 1",
                )
                .bind::<Text, _>(&next)
                .bind::<BigInt, _>(events)
                .bind::<Nullable<Timestamptz>, _>(last_event_at)
                .execute(conn)
                .await?;
                if events > 0 {
                    // Delivered at commit, to every process's answer cache.
                    diesel::sql_query("SELECT pg_notify($1, '')")
                        .bind::<Text, _>(super::freshness::CHANNEL)
                        .execute(conn)
                        .await?;
                }
                Ok(Applied::Committed)
            }
            .scope_boxed()
        })
        .await?;
    Ok(applied)
}

/// The statement adding a page's counts to `table`, whose rows are keyed by hotel and `keys`:
/// it binds five column arrays (hotels, the two keys, bookings, cancellations) and adds each
/// row's counts to the stored row's, or stores it. A `MERGE`, not `INSERT … ON CONFLICT`: the
/// upsert's speculative insertion probes the key before it inserts, locks a row before it
/// updates it, and logs both; the merge finds each row with one probe of the join and writes
/// it once, for ~11 % less CPU and ~28 % less WAL (BENCHMARKS.md, "The dashboard's writes").
/// Safe without the upsert's guard against a concurrent insert of the same key because the
/// sync is the tables' only writer and appliers are serialised on the `sync_state` row; the
/// page's keys are distinct (they come from a map), as the merge requires. Run it after
/// [`PREFER_PROBES`].
fn add_counts_sql(table: &str, [a, b]: [&str; 2]) -> String {
    format!(
        "MERGE INTO {table} t \
         USING unnest($1, $2, $3, $4, $5) AS u (hotel_id, {a}, {b}, bookings, cancellations) \
         ON t.hotel_id = u.hotel_id AND t.{a} = u.{a} AND t.{b} = u.{b} \
         WHEN MATCHED THEN UPDATE SET \
             bookings = t.bookings + u.bookings, \
             cancellations = t.cancellations + u.cancellations \
         WHEN NOT MATCHED THEN INSERT (hotel_id, {a}, {b}, bookings, cancellations) \
             VALUES (u.hotel_id, u.{a}, u.{b}, u.bookings, u.cancellations)"
    )
}

/// For the rest of the transaction, joins by index probes only. Given a page of ~10,000 rows
/// and a table of ~1,000,000, the planner prices a hash join over a scan of the whole table
/// below 10,000 primary-key probes, and the merges then ran at half the speed of the upsert
/// they replace (they read every row of the table per page instead of the page's rows).
const PREFER_PROBES: &str =
    "SELECT set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true)";

/// A page's daily deltas as the column arrays the `dashboard_daily` upsert binds.
struct DailyColumns {
    hotels: Vec<i32>,
    bases: Vec<i16>,
    days: Vec<NaiveDate>,
    bookings: Vec<i64>,
    cancellations: Vec<i64>,
}

impl DailyColumns {
    fn of(daily: &DailyDeltas) -> Self {
        let n = daily.len();
        let mut out = Self {
            hotels: Vec::with_capacity(n),
            bases: Vec::with_capacity(n),
            days: Vec::with_capacity(n),
            bookings: Vec::with_capacity(n),
            cancellations: Vec::with_capacity(n),
        };
        for (&(hotel, basis, day), &counts) in daily {
            out.hotels.push(hotel);
            out.bases.push(basis.code());
            out.days.push(day);
            out.bookings.push(counts.bookings);
            out.cancellations.push(counts.cancellations);
        }
        out
    }
}

/// A page's pace deltas as the column arrays `add_pace` binds.
pub struct PaceColumns {
    hotels: Vec<i32>,
    nights: Vec<NaiveDate>,
    days: Vec<NaiveDate>,
    bookings: Vec<i64>,
    cancellations: Vec<i64>,
}

impl PaceColumns {
    pub fn of(pace: &PaceDeltas) -> Self {
        let n = pace.len();
        let mut out = Self {
            hotels: Vec::with_capacity(n),
            nights: Vec::with_capacity(n),
            days: Vec::with_capacity(n),
            bookings: Vec::with_capacity(n),
            cancellations: Vec::with_capacity(n),
        };
        for (&(hotel, night, day), &counts) in pace {
            out.hotels.push(hotel);
            out.nights.push(night);
            out.days.push(day);
            out.bookings.push(counts.bookings);
            out.cancellations.push(counts.cancellations);
        }
        out
    }
}

/// Adds a page's pace deltas to `dashboard_pace`: per (hotel, night, event day) the counts of
/// that day, one write per row the page touches, whatever the order the events came in (a late
/// event rewrites no other row). The running totals the figures need are summed where the rows
/// are read, in the night book (`book.rs`), which reads a hotel's rows whole anyway. Run it in
/// the transaction that moves the cursor.
pub async fn add_pace(
    conn: &mut AsyncPgConnection,
    pace: &PaceColumns,
) -> Result<(), diesel::result::Error> {
    if pace.hotels.is_empty() {
        return Ok(());
    }
    diesel::sql_query(add_counts_sql("dashboard_pace", ["night", "event_day"]))
        .bind::<Array<Int4>, _>(&pace.hotels)
        .bind::<Array<Date>, _>(&pace.nights)
        .bind::<Array<Date>, _>(&pace.days)
        .bind::<Array<BigInt>, _>(&pace.bookings)
        .bind::<Array<BigInt>, _>(&pace.cancellations)
        .execute(conn)
        .await?;
    Ok(())
}

#[derive(QueryableByName)]
struct Locked {
    #[diesel(sql_type = Bool)]
    locked: bool,
}

/// The session-level advisory lock that lets one sync pass run at a time across processes.
const SYNC_LOCK: &str = "roompulse-dashboard-sync";

/// Takes the sync lock for this session if it is free; `false` when another session holds it.
pub async fn try_lock_sync(conn: &mut AsyncPgConnection) -> Result<bool, DashboardStoreError> {
    let row: Locked =
        diesel::sql_query("SELECT pg_try_advisory_lock(hashtext($1)::bigint) AS locked")
            .bind::<Text, _>(SYNC_LOCK)
            .get_result(conn)
            .await?;
    Ok(row.locked)
}

pub async fn unlock_sync(conn: &mut AsyncPgConnection) -> Result<(), DashboardStoreError> {
    diesel::sql_query("SELECT pg_advisory_unlock(hashtext($1)::bigint) AS locked")
        .bind::<Text, _>(SYNC_LOCK)
        .execute(conn)
        .await?;
    Ok(())
}

/// One day's stored figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Queryable)]
pub struct DayFigures {
    pub day: NaiveDate,
    pub bookings: i64,
    pub cancellations: i64,
}

/// The stored days of `hotel_id` in `from..=to` on `basis`, by date; days without events have
/// no row.
pub async fn daily(
    pool: &PgPool,
    hotel_id: i32,
    basis: Basis,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<DayFigures>, DashboardStoreError> {
    let mut conn = connection(pool).await?;
    Ok(dashboard_daily::table
        .filter(dashboard_daily::hotel_id.eq(hotel_id))
        .filter(dashboard_daily::basis.eq(basis.code()))
        .filter(dashboard_daily::day.between(from, to))
        .order_by(dashboard_daily::day.asc())
        .select((
            dashboard_daily::day,
            dashboard_daily::bookings,
            dashboard_daily::cancellations,
        ))
        .load(&mut conn)
        .await?)
}

/// The latest event day counted for `hotel_id`, or `None` when none is: one probe at the end of
/// the hotel's event-basis range of the primary key (hotel_id, basis, day).
pub async fn last_event_day(
    pool: &PgPool,
    hotel_id: i32,
) -> Result<Option<NaiveDate>, DashboardStoreError> {
    let mut conn = connection(pool).await?;
    Ok(dashboard_daily::table
        .filter(dashboard_daily::hotel_id.eq(hotel_id))
        .filter(dashboard_daily::basis.eq(Basis::Event.code()))
        .select(diesel::dsl::max(dashboard_daily::day))
        .get_result(&mut conn)
        .await?)
}

/// A hotel with figures on one basis, and the years they span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HotelYears {
    pub hotel_id: i32,
    pub basis: Basis,
    pub first_year: i32,
    pub last_year: i32,
}

#[derive(QueryableByName)]
struct HotelDays {
    #[diesel(sql_type = Int4)]
    hotel_id: i32,
    #[diesel(sql_type = SmallInt)]
    basis: i16,
    #[diesel(sql_type = Date)]
    first_day: NaiveDate,
    #[diesel(sql_type = Date)]
    last_day: NaiveDate,
}

/// Every hotel with figures, by hotel and basis, with the years its figures span.
pub async fn hotel_years(pool: &PgPool) -> Result<Vec<HotelYears>, DashboardStoreError> {
    use chrono::Datelike;
    let mut conn = connection(pool).await?;
    // A skip scan over the primary key (hotel_id, basis, day): one index probe per hotel and
    // basis, and one each for its first and last day, instead of reading every row.
    let rows: Vec<HotelDays> = diesel::sql_query(
        "WITH RECURSIVE keys AS ( \
             (SELECT hotel_id, basis FROM dashboard_daily ORDER BY hotel_id, basis LIMIT 1) \
             UNION ALL \
             SELECT n.hotel_id, n.basis FROM keys k CROSS JOIN LATERAL ( \
                 SELECT d.hotel_id, d.basis FROM dashboard_daily d \
                 WHERE (d.hotel_id, d.basis) > (k.hotel_id, k.basis) \
                 ORDER BY d.hotel_id, d.basis LIMIT 1) n \
         ) \
         SELECT k.hotel_id, k.basis, \
             (SELECT d.day FROM dashboard_daily d WHERE d.hotel_id = k.hotel_id \
                  AND d.basis = k.basis ORDER BY d.day LIMIT 1) AS first_day, \
             (SELECT d.day FROM dashboard_daily d WHERE d.hotel_id = k.hotel_id \
                  AND d.basis = k.basis ORDER BY d.day DESC LIMIT 1) AS last_day \
         FROM keys k ORDER BY k.hotel_id, k.basis",
    )
    .load(&mut conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let basis = match r.basis {
                1 => Basis::Event,
                2 => Basis::Stay,
                _ => return None,
            };
            Some(HotelYears {
                hotel_id: r.hotel_id,
                basis,
                first_year: r.first_day.year(),
                last_year: r.last_day.year(),
            })
        })
        .collect())
}
