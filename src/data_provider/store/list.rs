//! The list: `GET /events` filters planned as statements whose cost does not grow with the table.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Date, Int4, Timestamptz};
use diesel_async::scoped_futures::ScopedFutureExt;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::{connection, StoreError};
use crate::data_provider::event::Event;
use crate::db::PgPool;

/// `GET /events` filters; every bound is optional and they combine with AND.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct EventFilter {
    pub hotel_id: Option<i32>,
    /// Only these hotels' events (the caller's key's hotels); `None`: every hotel.
    pub hotels: Option<Vec<i32>>,
    /// Bounds on `event_timestamp` (the API's `updated__gte`, `updated__gt`, … parameters).
    pub event_timestamp_gte: Option<DateTime<Utc>>,
    pub event_timestamp_gt: Option<DateTime<Utc>>,
    pub event_timestamp_lte: Option<DateTime<Utc>>,
    pub event_timestamp_lt: Option<DateTime<Utc>>,
    pub status: Option<i16>,
    pub room_reservation_id: Option<Uuid>,
    pub night_of_stay_gte: Option<NaiveDate>,
    pub night_of_stay_lte: Option<NaiveDate>,
}

/// Position in the `(event_timestamp, id)` order: the page starts after it. Ordered as the pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ListCursor {
    pub event_timestamp: DateTime<Utc>,
    pub id: i64,
}

/// Up to `limit` events matching `filter` after `after`, in `(event_timestamp, id)` order.
///
/// Each filter has a path whose cost does not grow with the table (BENCHMARKS.md, "GET /events
/// filters at 10 M"): a reservation is a handful of rows on `events_room_reservation_id`; a
/// night range merges per-night streams of `events_night_timestamp_id` (`list_by_nights`), since
/// walking the time order for it reads the whole table when its matches come late (the nights
/// of next year are booked only lately) or never; hotels, times and statuses walk an index in
/// the page's order.
///
/// The statements are never kept prepared (`sql_query` is not cached by diesel): PostgreSQL may
/// switch a prepared statement to a generic plan after five executions, one plan for every
/// value, which for a status or a night bound is the plan of an average value.
pub async fn list(
    pool: &PgPool,
    filter: &EventFilter,
    after: Option<ListCursor>,
    limit: i64,
) -> Result<Vec<Event>, StoreError> {
    list_explained(pool, filter, after, limit, None).await
}

/// `list`, and with `plans` the `EXPLAIN ANALYZE` of each statement it ran, for the tests that
/// check that every filter stays bounded (tests/it/list_plans.rs).
#[doc(hidden)]
pub async fn list_explained(
    pool: &PgPool,
    filter: &EventFilter,
    after: Option<ListCursor>,
    limit: i64,
    plans: Option<&Plans>,
) -> Result<Vec<Event>, StoreError> {
    let mut conn = connection(pool).await?;
    let by_nights = (filter.night_of_stay_gte.is_some() || filter.night_of_stay_lte.is_some())
        && filter.room_reservation_id.is_none();
    if !by_nights || limit <= 0 {
        let mut st = UnpreparedQuery::default();
        let conditions = st.conditions(filter, after, true);
        let limit = st.bind(Bind::I64(limit.max(0)));
        st.sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events e WHERE {conditions} \
             ORDER BY e.event_timestamp, e.id LIMIT {limit}"
        );
        return Ok(st.fetch(&mut conn, plans).await?);
    }
    // One snapshot for the statements of the merge, as a single statement would see.
    Ok(conn
        .build_transaction()
        .read_only()
        .repeatable_read()
        .run(|conn| list_by_nights(conn, filter, after, limit, plans).scope_boxed())
        .await?)
}

/// Nights merged at first; doubled at each round.
const FIRST_MERGE_WIDTH: usize = 8;

/// The page of a night-range listing, as a merge of one `(event_timestamp, id)`-ordered stream
/// per stored night in the range (each a range of `events_night_timestamp_id`).
///
/// First the head of every stream: its first matching row after the cursor (one index descent
/// a night and partition). Then rounds, each reading keys from the index alone: the `width`
/// nights with the smallest heads hold every row below the next night's head, the round's
/// bound; those keys are read (at most what the page still needs) and, if they do not fill the
/// page, the merged nights get new heads at the bound and the next round merges twice as many.
/// When no night is left to bound a round, it reads a few keys of every night instead
/// (`last_round`). Then the page's rows, once. The cost is a few descents per night in the
/// range and partition plus about the page's rows: at most ~1,600 nights for 4 years of stays,
/// times the partitions.
async fn list_by_nights(
    conn: &mut AsyncPgConnection,
    filter: &EventFilter,
    after: Option<ListCursor>,
    limit: i64,
    plans: Option<&Plans>,
) -> Result<Vec<Event>, diesel::result::Error> {
    let mut heads = night_heads(conn, filter, after, None, None, plans).await?;
    // The page's keys, in order; its rows are fetched once, at the end.
    let mut keys: Vec<NightHead> = Vec::new();
    let mut floor: Option<ListCursor> = None;
    let mut width = FIRST_MERGE_WIDTH;
    let mut per_night = 0;
    while (keys.len() as i64) < limit && !heads.is_empty() {
        heads.sort_unstable_by_key(|h| h.key());
        let want = limit - keys.len() as i64;
        if width >= heads.len() && heads.len() > 1 {
            // Every night left, with no next head to bound the round.
            let nights: Vec<NaiveDate> = heads.drain(..).map(|h| h.night).collect();
            let n = nights.len() as i64;
            per_night = ((2 * want + n - 1) / n).max(per_night * 2).clamp(1, want);
            let round = last_round(conn, filter, after, floor, &nights, want, per_night, plans);
            let round = round.await?;
            keys.extend(round.keys);
            let Some(next) = round.next else { break };
            heads = round.heads;
            if !round.unread.is_empty() {
                heads.extend(
                    night_heads(conn, filter, after, Some(next), Some(&round.unread), plans)
                        .await?,
                );
            }
            floor = Some(next);
            continue;
        }
        let merged = width.min(heads.len());
        let bound = heads.get(merged).map(NightHead::key);
        let nights: Vec<NaiveDate> = heads.drain(..merged).map(|h| h.night).collect();
        let window = (floor, bound);
        let found = night_keys(
            conn,
            filter,
            after,
            window,
            &nights,
            want,
            Some(want),
            plans,
        )
        .await?;
        let full = found.len() as i64 >= want;
        keys.extend(found);
        let Some(bound) = bound else { break };
        if full {
            break;
        }
        // Every row below the bound is in the page now: the merged nights go on from it.
        heads.extend(night_heads(conn, filter, after, Some(bound), Some(&nights), plans).await?);
        floor = Some(bound);
        width = width.saturating_mul(2);
    }
    keys.truncate(limit.max(0) as usize);
    page_rows(conn, filter, after, &keys, plans).await
}

/// What the last round of the merge read and where the nights go on.
struct LastRound {
    /// The page's next keys, in order: every row of the nights up to a frontier.
    keys: Vec<NightHead>,
    /// Just after the frontier (`None`: every row of the nights was read).
    next: Option<ListCursor>,
    /// The nights' heads past the frontier that the round read already.
    heads: Vec<NightHead>,
    /// Nights read to the frontier exactly, whose heads past it are still to find.
    unread: Vec<NaiveDate>,
}

/// The round that merges every night left, with no head after them to bound it. Each night's
/// read stops at `per_night` rows (a read to the page's size in every night costs nights × page
/// entries, and for a rare hotel and status whole nights); the rows up to the lowest last key
/// of a night that has more (the frontier) are the page's next, since every night's unread rows
/// lie beyond it. The caller doubles `per_night` at each such round, so that a night holding
/// most of the page is read in a few.
#[allow(clippy::too_many_arguments)]
async fn last_round(
    conn: &mut AsyncPgConnection,
    filter: &EventFilter,
    after: Option<ListCursor>,
    floor: Option<ListCursor>,
    nights: &[NaiveDate],
    want: i64,
    per_night: i64,
    plans: Option<&Plans>,
) -> Result<LastRound, diesel::result::Error> {
    let window = (floor, None);
    let read = night_keys(conn, filter, after, window, nights, per_night, None, plans).await?;
    let mut per: std::collections::BTreeMap<NaiveDate, Vec<ListCursor>> = Default::default();
    for h in &read {
        per.entry(h.night).or_default().push(h.key());
    }
    // The lowest last key of a night read to its limit: what lies beyond may not be read yet.
    let frontier = per
        .values()
        .filter(|keys| keys.len() as i64 >= per_night)
        .filter_map(|keys| keys.iter().max().copied())
        .min();
    let mut keys: Vec<NightHead> = read
        .into_iter()
        .filter(|h| frontier.is_none_or(|f| h.key() <= f))
        .collect();
    keys.sort_unstable_by_key(NightHead::key);
    keys.truncate(want as usize);
    let Some(frontier) = frontier else {
        return Ok(LastRound {
            keys,
            next: None,
            heads: Vec::new(),
            unread: Vec::new(),
        });
    };
    let (mut heads, mut unread) = (Vec::new(), Vec::new());
    for (night, read) in per {
        match read.iter().filter(|&&c| c > frontier).min() {
            Some(c) => heads.push(NightHead {
                night,
                event_timestamp: c.event_timestamp,
                id: c.id,
            }),
            None if read.len() as i64 >= per_night => unread.push(night),
            // Read to its end.
            None => {}
        }
    }
    Ok(LastRound {
        keys,
        // Keys are (event_timestamp, integer id): the first key after the frontier's is at or
        // after the same time with the next id.
        next: Some(ListCursor {
            event_timestamp: frontier.event_timestamp,
            id: frontier.id.saturating_add(1),
        }),
        heads,
        unread,
    })
}

/// The rows of the page's `keys` (the first rows after `after` of the nights, in order).
async fn page_rows(
    conn: &mut AsyncPgConnection,
    filter: &EventFilter,
    after: Option<ListCursor>,
    keys: &[NightHead],
    plans: Option<&Plans>,
) -> Result<Vec<Event>, diesel::result::Error> {
    let Some(last) = keys.last().map(NightHead::key) else {
        return Ok(Vec::new());
    };
    if filter.hotel_id.is_some() || filter.hotels.is_some() || filter.status.is_some() {
        // The night index's key decides which entries an index scan fetches from the heap:
        // with a hotel or a status (columns it only includes) every entry up to the last key
        // is fetched, ~50 for each row wanted when both are given. Then the rows are fetched
        // by id instead: one descent of each partition's key a row, whatever the filter.
        let ids: Vec<i64> = keys.iter().map(|k| k.id).collect();
        return rows_by_id(conn, &ids, plans).await;
    }
    let mut nights: Vec<NaiveDate> = keys.iter().map(|k| k.night).collect();
    nights.sort_unstable();
    nights.dedup();
    merged_rows(conn, filter, after, last, &nights, keys.len(), plans).await
}

/// Spans of fewer nights than this are listed night by night rather than searched for the
/// nights stored in them: five years of stays.
const SERIES_NIGHTS: i64 = 5 * 366;

#[derive(QueryableByName)]
struct NightSpan {
    #[diesel(sql_type = diesel::sql_types::Nullable<Date>)]
    first: Option<NaiveDate>,
    #[diesel(sql_type = diesel::sql_types::Nullable<Date>)]
    last: Option<NaiveDate>,
}

/// The first and last stored night in the filter's night range (of any hotel), or `None` when it
/// holds none.
async fn stored_night_span(
    conn: &mut AsyncPgConnection,
    filter: &EventFilter,
    plans: Option<&Plans>,
) -> Result<Option<(NaiveDate, NaiveDate)>, diesel::result::Error> {
    let mut st = UnpreparedQuery::default();
    let nights = EventFilter {
        night_of_stay_gte: filter.night_of_stay_gte,
        night_of_stay_lte: filter.night_of_stay_lte,
        ..Default::default()
    };
    let range = st.conditions(&nights, None, true);
    st.sql = format!(
        "SELECT (SELECT min(e.night_of_stay) FROM events e WHERE {range}) AS first, \
                (SELECT max(e.night_of_stay) FROM events e WHERE {range}) AS last"
    );
    let spans: Vec<NightSpan> = st.fetch(conn, plans).await?;
    Ok(spans.into_iter().next().and_then(|s| s.first.zip(s.last)))
}

/// The keys of the first `per_night` rows of each of `nights` from `floor` (inclusive) below
/// `bound`, and of those only the first `first` when given, read from the night index alone (it
/// includes `hotel_id` and `status`).
#[allow(clippy::too_many_arguments)]
async fn night_keys(
    conn: &mut AsyncPgConnection,
    filter: &EventFilter,
    after: Option<ListCursor>,
    (floor, bound): (Option<ListCursor>, Option<ListCursor>),
    nights: &[NaiveDate],
    per_night: i64,
    first: Option<i64>,
    plans: Option<&Plans>,
) -> Result<Vec<NightHead>, diesel::result::Error> {
    let mut st = UnpreparedQuery::default();
    let conditions = st.conditions(filter, after, false);
    let window = st.window(floor, bound);
    let nights_param = st.bind(Bind::Dates(nights.to_vec()));
    let per_night = st.bind(Bind::I64(per_night));
    let first = match first {
        Some(n) => format!(
            " ORDER BY r.event_timestamp, r.id LIMIT {}",
            st.bind(Bind::I64(n))
        ),
        None => String::new(),
    };
    st.sql = format!(
        "SELECT n.night, r.event_timestamp, r.id FROM unnest({nights_param}::date[]) AS n(night) \
         CROSS JOIN LATERAL ( \
             SELECT e.event_timestamp, e.id FROM events e \
              WHERE e.night_of_stay = n.night AND {conditions}{window} \
              ORDER BY e.event_timestamp, e.id LIMIT {per_night}) r{first}"
    );
    st.fetch(conn, plans).await
}

/// The `rows` rows of `nights` after `after` up to `last` (inclusive): the page's rows, when
/// `last` is its last key and `nights` the nights of its keys (a page is every row up to its
/// last key).
///
/// Fetched by the night index again rather than joined by id: an id names no partition (they
/// are by arrival), so a join probes every partition's key for each row, or, as PostgreSQL may
/// plan it, hashes the whole table. Read again, each row is fetched from its own partition.
async fn merged_rows(
    conn: &mut AsyncPgConnection,
    filter: &EventFilter,
    after: Option<ListCursor>,
    last: ListCursor,
    nights: &[NaiveDate],
    rows: usize,
    plans: Option<&Plans>,
) -> Result<Vec<Event>, diesel::result::Error> {
    let mut st = UnpreparedQuery::default();
    let conditions = st.conditions(filter, after, false);
    let last = st.key_condition("<=", last);
    let nights_param = st.bind(Bind::Dates(nights.to_vec()));
    // The limit (never reached: the window holds `rows` rows) keeps the subquery a lateral one,
    // run per night on its index, which PostgreSQL would otherwise join with a scan of the
    // window's rows of every night.
    let rows_param = st.bind(Bind::I64(rows as i64));
    st.sql = format!(
        "SELECT {EVENT_COLUMNS} FROM unnest({nights_param}::date[]) AS n(night) \
         CROSS JOIN LATERAL ( \
             SELECT {EVENT_COLUMNS} FROM events e \
              WHERE e.night_of_stay = n.night AND {conditions} AND {last} \
              ORDER BY e.event_timestamp, e.id LIMIT {rows_param}) e \
         ORDER BY e.event_timestamp, e.id"
    );
    st.fetch(conn, plans).await
}

/// The rows of `ids`, in the pages' order.
async fn rows_by_id(
    conn: &mut AsyncPgConnection,
    ids: &[i64],
    plans: Option<&Plans>,
) -> Result<Vec<Event>, diesel::result::Error> {
    let mut st = UnpreparedQuery::default();
    let ids = st.bind(Bind::I64s(ids.to_vec()));
    st.sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events e WHERE e.id = ANY({ids}::int8[]) \
         ORDER BY e.event_timestamp, e.id"
    );
    st.fetch(conn, plans).await
}

#[derive(QueryableByName)]
struct NightHead {
    #[diesel(sql_type = Date)]
    night: NaiveDate,
    #[diesel(sql_type = Timestamptz)]
    event_timestamp: DateTime<Utc>,
    #[diesel(sql_type = BigInt)]
    id: i64,
}

impl NightHead {
    fn key(&self) -> ListCursor {
        ListCursor {
            event_timestamp: self.event_timestamp,
            id: self.id,
        }
    }
}

/// The first row matching `filter` after `after` (and at or after `from`) of each stored night
/// in the filter's range, or of `nights`; nights without one are left out.
async fn night_heads(
    conn: &mut AsyncPgConnection,
    filter: &EventFilter,
    after: Option<ListCursor>,
    from: Option<ListCursor>,
    nights: Option<&[NaiveDate]>,
    plans: Option<&Plans>,
) -> Result<Vec<NightHead>, diesel::result::Error> {
    let mut st = UnpreparedQuery::default();
    let nights_sql = match nights {
        Some(nights) => {
            let p = st.bind(Bind::Dates(nights.to_vec()));
            format!("SELECT night FROM unnest({p}::date[]) AS n(night)")
        }
        None => match stored_night_span(conn, filter, plans).await? {
            None => return Ok(Vec::new()),
            // Every night of a short span, without finding which are stored: finding one costs
            // what its head costs (a descent of every partition's night index), and nights are
            // stored densely (a hotel sells every night), so listing them all halves the work.
            Some((first, last)) if (last - first).num_days() < SERIES_NIGHTS => {
                let (first, last) = (st.bind(Bind::Date(first)), st.bind(Bind::Date(last)));
                format!(
                    "SELECT generate_series({first}::date, {last}::date, interval '1 day')::date \
                     AS night"
                )
            }
            // The stored nights, one descent each (a loose index scan): a range reaching a stray
            // night decades away costs no more than the nights really stored.
            Some((first, last)) => {
                let (first, last) = (st.bind(Bind::Date(first)), st.bind(Bind::Date(last)));
                format!(
                    "WITH RECURSIVE stored(night) AS ( \
                         SELECT {first}::date \
                         UNION ALL \
                         SELECT (SELECT min(night_of_stay) FROM events \
                                  WHERE night_of_stay > s.night AND night_of_stay <= {last}) \
                           FROM stored s WHERE s.night IS NOT NULL) \
                     SELECT night FROM stored WHERE night IS NOT NULL"
                )
            }
        },
    };
    let conditions = st.conditions(filter, after, false);
    let window = st.window(from, None);
    st.sql = format!(
        "SELECT n.night, h.event_timestamp, h.id FROM ({nights_sql}) n CROSS JOIN LATERAL ( \
             SELECT e.event_timestamp, e.id FROM events e \
              WHERE e.night_of_stay = n.night AND {conditions}{window} \
              ORDER BY e.event_timestamp, e.id LIMIT 1) h"
    );
    st.fetch(conn, plans).await
}

/// The plans `list_explained` collects, one text per statement.
pub type Plans = std::sync::Mutex<Vec<String>>;

#[derive(QueryableByName)]
struct PlanLine {
    #[diesel(column_name = "QUERY PLAN", sql_type = diesel::sql_types::Text)]
    line: String,
}

pub(in crate::data_provider) const EVENT_COLUMNS: &str =
    "e.id, e.hotel_id, e.event_timestamp, e.status, e.room_reservation_id, e.night_of_stay";

/// A bind value of the list statements.
pub(in crate::data_provider) enum Bind {
    I32(i32),
    I32s(Vec<i32>),
    I64(i64),
    I64s(Vec<i64>),
    Ts(DateTime<Utc>),
    Uuid(Uuid),
    Date(NaiveDate),
    Dates(Vec<NaiveDate>),
}

/// A statement of the list or the feed, its SQL written here and its values bound as parameters;
/// run unprepared each time, so that PostgreSQL plans it for the values bound (unlike
/// [`crate::db::prepared::Statement`], which is kept prepared).
#[derive(Default)]
pub(in crate::data_provider) struct UnpreparedQuery {
    pub(in crate::data_provider) sql: String,
    binds: Vec<Bind>,
}

impl UnpreparedQuery {
    /// Adds a parameter; its placeholder.
    pub(in crate::data_provider) fn bind(&mut self, b: Bind) -> String {
        self.binds.push(b);
        format!("${}", self.binds.len())
    }

    /// `filter` and the cursor on the events table as `e`, joined with AND (`TRUE` if none);
    /// without the night range when `nights` is false (the caller walks the nights itself).
    pub(in crate::data_provider) fn conditions(
        &mut self,
        filter: &EventFilter,
        after: Option<ListCursor>,
        nights: bool,
    ) -> String {
        let mut c: Vec<String> = Vec::new();
        if let Some(v) = filter.hotel_id {
            c.push(format!("e.hotel_id = {}", self.bind(Bind::I32(v))));
        }
        if let Some(v) = &filter.hotels {
            // In the statement, so that pages and cursors are those of the narrowed listing
            // (an empty set matches nothing).
            c.push(format!(
                "e.hotel_id = ANY({}::int4[])",
                self.bind(Bind::I32s(v.clone()))
            ));
        }
        for (op, v) in [
            (">=", filter.event_timestamp_gte),
            (">", filter.event_timestamp_gt),
            ("<=", filter.event_timestamp_lte),
            ("<", filter.event_timestamp_lt),
        ] {
            if let Some(v) = v {
                c.push(format!("e.event_timestamp {op} {}", self.bind(Bind::Ts(v))));
            }
        }
        if let Some(v) = filter.status {
            // A literal (an integer, nothing a caller can inject), so that cancellations are
            // planned on their partial index, which a parameter could not prove applies.
            c.push(format!("e.status = {v}"));
        }
        if let Some(v) = filter.room_reservation_id {
            c.push(format!(
                "e.room_reservation_id = {}",
                self.bind(Bind::Uuid(v))
            ));
        }
        if nights {
            if let Some(v) = filter.night_of_stay_gte {
                c.push(format!("e.night_of_stay >= {}", self.bind(Bind::Date(v))));
            }
            if let Some(v) = filter.night_of_stay_lte {
                c.push(format!("e.night_of_stay <= {}", self.bind(Bind::Date(v))));
            }
        }
        if let Some(a) = after {
            // A row comparison, so that PostgreSQL walks the (…, event_timestamp, id) index.
            c.push(self.key_condition(">", a));
        }
        if c.is_empty() {
            "TRUE".into()
        } else {
            c.join(" AND ")
        }
    }

    /// ` AND` the keys from `floor` (inclusive) below `bound` (exclusive), or nothing.
    fn window(&mut self, floor: Option<ListCursor>, bound: Option<ListCursor>) -> String {
        let mut w = String::new();
        if let Some(f) = floor {
            w += &format!(" AND {}", self.key_condition(">=", f));
        }
        if let Some(b) = bound {
            w += &format!(" AND {}", self.key_condition("<", b));
        }
        w
    }

    fn key_condition(&mut self, op: &str, k: ListCursor) -> String {
        let ts = self.bind(Bind::Ts(k.event_timestamp));
        let id = self.bind(Bind::I64(k.id));
        format!("(e.event_timestamp, e.id) {op} ({ts}, {id})")
    }

    /// Runs the statement; with `plans`, runs its `EXPLAIN ANALYZE` first and keeps the plan.
    pub(in crate::data_provider) async fn fetch<T>(
        &self,
        conn: &mut AsyncPgConnection,
        plans: Option<&Plans>,
    ) -> Result<Vec<T>, diesel::result::Error>
    where
        T: QueryableByName<diesel::pg::Pg> + Send + 'static,
    {
        if let Some(plans) = plans {
            let explain = UnpreparedQuery {
                sql: format!("EXPLAIN (ANALYZE, BUFFERS) {}", self.sql),
                binds: Vec::new(),
            };
            let lines: Vec<PlanLine> = explain.bind_all(&self.binds).load(conn).await?;
            let text = lines
                .into_iter()
                .map(|l| l.line)
                .collect::<Vec<_>>()
                .join("\n");
            plans.lock().unwrap_or_else(|e| e.into_inner()).push(text);
        }
        self.query().load(conn).await
    }

    fn query(
        &self,
    ) -> diesel::query_builder::BoxedSqlQuery<'_, diesel::pg::Pg, diesel::query_builder::SqlQuery>
    {
        self.bind_all(&self.binds)
    }

    /// This statement's SQL with `binds`.
    fn bind_all<'a>(
        &self,
        binds: &'a [Bind],
    ) -> diesel::query_builder::BoxedSqlQuery<'a, diesel::pg::Pg, diesel::query_builder::SqlQuery>
    {
        let mut q = diesel::sql_query(self.sql.clone()).into_boxed();
        for b in binds {
            q = match b {
                Bind::I32(v) => q.bind::<Int4, _>(*v),
                Bind::I32s(v) => q.bind::<Array<Int4>, _>(v),
                Bind::I64(v) => q.bind::<BigInt, _>(*v),
                Bind::I64s(v) => q.bind::<Array<BigInt>, _>(v),
                Bind::Ts(v) => q.bind::<Timestamptz, _>(*v),
                Bind::Uuid(v) => q.bind::<diesel::sql_types::Uuid, _>(*v),
                Bind::Date(v) => q.bind::<Date, _>(*v),
                Bind::Dates(v) => q.bind::<Array<Date>, _>(v),
            };
        }
        q
    }
}
