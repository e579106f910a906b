//! The change feed, `GET /events?order=stored`: every stored event exactly once, in the order
//! it was stored, for readers that must miss nothing (the Dashboard's sync). Its positions, the
//! opaque cursor that carries them, the page query, and the count of what lies after a cursor.
//!
//! Positions are `events.tx_id`: the storing transaction's id plus an offset fixed per server
//! and database (migration `feed_position_survives_a_move`), so they keep growing across a
//! dump and restore. A page stops below the oldest transaction still running, where no row can
//! appear any more.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Date, Int4, Nullable, SmallInt, Timestamptz};
use diesel_async::RunQueryDsl;

use super::event::Event;
use super::schema::events;
use super::store::{connection, Bind, EventFilter, StoreError, UnpreparedQuery, EVENT_COLUMNS};
use crate::db::PgPool;

/// Position in the `(tx_id, id)` order of `GET /events?order=stored`: the page starts after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredCursor {
    pub tx_id: i64,
    pub id: i64,
}

impl StoredCursor {
    /// Before every row: transaction ids and event ids are positive.
    pub const START: StoredCursor = StoredCursor { tx_id: 0, id: 0 };
}

/// The rows a filtered look walks at most: a look costs what an unfiltered page of the
/// largest size costs, whatever the filter and however rarely it matches.
pub const FILTERED_WINDOW: i64 = super::store::MAX_LIMIT;

/// The bound of the feed: below the oldest transaction still running in this database, where no
/// row can appear any more. Its transaction ids come from the statement's own snapshot, so that
/// the bound and the rows agree: the lowest of the snapshot's running transactions, or the next
/// id when none runs. A transaction that a backend of another database holds is left out (it
/// cannot write here): a long one there, another application's or a test's, no longer stalls
/// the feed. One that cannot be placed (a prepared transaction, a backend that has finished
/// since the snapshot, another role's session whose ids are hidden without `pg_read_all_stats`)
/// counts, as before. The 64-bit ids of the snapshot are compared with the backends' 32-bit
/// ones modulo 2^32: running transactions are never that far apart. The offset (fixed per
/// server and database, migration `feed_position_survives_a_move`) is a sub-select so that it
/// is computed once.
const HORIZON: &str = "((SELECT coalesce(min(x.xid::text::bigint), \
              pg_snapshot_xmax(pg_current_snapshot())::text::bigint) \
         FROM pg_snapshot_xip(pg_current_snapshot()) AS x(xid) \
        WHERE NOT EXISTS ( \
              SELECT 1 FROM pg_stat_get_activity(NULL) a \
               WHERE a.backend_xid::text::bigint = x.xid::text::bigint % 4294967296 \
                 AND a.datid <> (SELECT oid FROM pg_database WHERE datname = current_database()))) \
     + (SELECT roompulse_feed_offset()))";

/// One look at the feed after a cursor.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedPage {
    /// The matching events, each with its `tx_id`.
    pub rows: Vec<(Event, i64)>,
    /// Where the next look starts: after the last row returned, or past the rows looked at
    /// that did not match (so that a filter that rarely matches never walks them again).
    pub next: StoredCursor,
    /// Every event stored so far after the cursor was looked at and the page is not full: the
    /// next look can only find events stored later.
    pub caught_up: bool,
}

#[derive(QueryableByName)]
struct PageRow {
    #[diesel(embed)]
    event: PageEvent,
    #[diesel(sql_type = BigInt)]
    first_tx: i64,
    #[diesel(sql_type = BigInt)]
    last_tx: i64,
    #[diesel(sql_type = BigInt)]
    last_id: i64,
    #[diesel(sql_type = BigInt)]
    looked: i64,
}

/// A page's event, absent on the row that only says where the look ended.
#[derive(QueryableByName)]
struct PageEvent {
    #[diesel(sql_type = Nullable<BigInt>)]
    id: Option<i64>,
    #[diesel(sql_type = Nullable<Int4>)]
    hotel_id: Option<i32>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    event_timestamp: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<SmallInt>)]
    status: Option<i16>,
    #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
    room_reservation_id: Option<uuid::Uuid>,
    #[diesel(sql_type = Nullable<Date>)]
    night_of_stay: Option<NaiveDate>,
    #[diesel(sql_type = Nullable<BigInt>)]
    tx_id: Option<i64>,
}

impl PageEvent {
    fn event(&self) -> Option<(Event, i64)> {
        Some((
            Event {
                id: self.id?,
                hotel_id: self.hotel_id?,
                event_timestamp: self.event_timestamp?,
                status: self.status?,
                room_reservation_id: self.room_reservation_id?,
                night_of_stay: self.night_of_stay?,
            },
            self.tx_id?,
        ))
    }
}

/// Up to `limit` events matching `filter` after `after` in `(tx_id, id)` order, leaving out
/// rows of transactions at or above the oldest one still running.
///
/// Every transaction below that horizon has finished, and any transaction that starts later
/// gets a higher id, so no row can ever appear behind the last row returned: a reader that
/// follows the cursor sees every row exactly once, even one committed late by a long batch.
///
/// A look walks at most a window of rows after the cursor (`limit` rows without a filter,
/// `FILTERED_WINDOW` with one) and applies the filter to those only, so that a filter that
/// matches nothing costs one bounded walk, after which `next` has moved past what was looked
/// at. That position never names an event the caller did not get: it stops at the end of the
/// last whole transaction looked at (`(tx_id, MAX)`), and names a row only inside a single
/// transaction larger than the window.
pub async fn page(
    pool: &PgPool,
    filter: &EventFilter,
    after: StoredCursor,
    limit: i64,
) -> Result<FeedPage, StoreError> {
    let limit = limit.max(1);
    if let Some(hotels) = filter.only_hotels() {
        // A few hotels' rows are cheaper to read through their own index than the feed's
        // window: a hotel with no events, or a small one, costs next to nothing however much
        // the other hotels store.
        if hotel_rows(pool, &hotels, FILTERED_WINDOW).await? <= FILTERED_WINDOW {
            return hotel_page(pool, filter, &hotels, after, limit).await;
        }
    }
    let mut st = UnpreparedQuery::default();
    let conditions = st.conditions(filter, None, true);
    if conditions == "TRUE" {
        return unfiltered_page(pool, after, limit).await;
    }
    let (tx, id) = (
        st.bind(Bind::I64(after.tx_id)),
        st.bind(Bind::I64(after.id)),
    );
    let window = limit.max(FILTERED_WINDOW);
    let window_param = st.bind(Bind::I64(window));
    let limit_param = st.bind(Bind::I64(limit));
    // The window is materialised, so that the filter is applied to its rows and nothing else:
    // PostgreSQL could otherwise walk a hotel's index through every row after the cursor.
    st.sql = format!(
        "WITH w AS MATERIALIZED ( \
             SELECT {EVENT_COLUMNS}, e.tx_id FROM events e \
              WHERE (e.tx_id, e.id) > ({tx}, {id}) AND e.tx_id < {HORIZON} \
              ORDER BY e.tx_id, e.id LIMIT {window_param}) \
         SELECT p.id, p.hotel_id, p.event_timestamp, p.status, p.room_reservation_id, \
                p.night_of_stay, p.tx_id, l.tx_id AS last_tx, l.id AS last_id, \
                (SELECT count(*) FROM w) AS looked, (SELECT min(tx_id) FROM w) AS first_tx \
           FROM (SELECT tx_id, id FROM w ORDER BY tx_id DESC, id DESC LIMIT 1) l \
           LEFT JOIN LATERAL ( \
               SELECT e.* FROM w e WHERE {conditions} ORDER BY e.tx_id, e.id LIMIT {limit_param}) p \
             ON TRUE \
          ORDER BY p.tx_id, p.id"
    );
    let mut conn = connection(pool).await?;
    let found: Vec<PageRow> = st.fetch(&mut conn, None).await?;
    Ok(page_from(found, after, limit, window))
}

#[derive(QueryableByName)]
struct StoredRow {
    #[diesel(embed)]
    event: Event,
    #[diesel(sql_type = BigInt)]
    tx_id: i64,
}

/// A page without a filter: the rows after the cursor below the horizon, read straight off the
/// `(tx_id, id)` index. The window of the filtered pages (materialised, sorted three times) cost
/// a page of 10,000 rows, the dashboard's sync's, 25 ms where this takes 11.5 (BENCHMARKS.md,
/// "The change feed").
async fn unfiltered_page(
    pool: &PgPool,
    after: StoredCursor,
    limit: i64,
) -> Result<FeedPage, StoreError> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS}, e.tx_id FROM events e \
          WHERE (e.tx_id, e.id) > ($1, $2) AND e.tx_id < {HORIZON} \
          ORDER BY e.tx_id, e.id LIMIT $3"
    );
    let mut conn = connection(pool).await?;
    let found: Vec<StoredRow> = diesel::sql_query(sql)
        .bind::<BigInt, _>(after.tx_id)
        .bind::<BigInt, _>(after.id)
        .bind::<BigInt, _>(limit)
        .load(&mut conn)
        .await?;
    let caught_up = (found.len() as i64) < limit;
    let next = found.last().map_or(after, |r| StoredCursor {
        tx_id: r.tx_id,
        id: r.event.id,
    });
    Ok(FeedPage {
        rows: found.into_iter().map(|r| (r.event, r.tx_id)).collect(),
        next,
        caught_up,
    })
}

/// How many rows `hotels` have in all, counted up to `cap + 1` on their index.
async fn hotel_rows(pool: &PgPool, hotels: &[i32], cap: i64) -> Result<i64, StoreError> {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let mut conn = connection(pool).await?;
    let c: Count = diesel::sql_query(
        "SELECT count(*) AS n FROM (SELECT 1 FROM events WHERE hotel_id = ANY($1) LIMIT $2) c",
    )
    .bind::<Array<Int4>, _>(hotels)
    .bind::<BigInt, _>(cap + 1)
    .get_result(&mut conn)
    .await?;
    Ok(c.n)
}

#[derive(QueryableByName)]
struct HotelRow {
    #[diesel(embed)]
    event: PageEvent,
    #[diesel(sql_type = BigInt)]
    horizon: i64,
}

/// A page of `hotels` whose rows are few (`hotel_rows`): all of them read on their index, the
/// filter and the cursor applied in memory. At most `FILTERED_WINDOW` rows, whatever is stored.
async fn hotel_page(
    pool: &PgPool,
    filter: &EventFilter,
    hotels: &[i32],
    after: StoredCursor,
    limit: i64,
) -> Result<FeedPage, StoreError> {
    let mut st = UnpreparedQuery::default();
    let hotels_param = st.bind(Bind::I32s(hotels.to_vec()));
    let (tx, id) = (
        st.bind(Bind::I64(after.tx_id)),
        st.bind(Bind::I64(after.id)),
    );
    let conditions = st.conditions(filter, None, true);
    let limit_param = st.bind(Bind::I64(limit));
    st.sql = format!(
        "WITH h AS MATERIALIZED (SELECT {HORIZON} AS horizon), \
              r AS MATERIALIZED ( \
             SELECT {EVENT_COLUMNS}, e.tx_id FROM events e \
              WHERE e.hotel_id = ANY({hotels_param}::int4[]) AND e.tx_id < (SELECT horizon FROM h)) \
         SELECT p.id, p.hotel_id, p.event_timestamp, p.status, p.room_reservation_id, \
                p.night_of_stay, p.tx_id, (SELECT horizon FROM h) AS horizon \
           FROM (SELECT 1) one \
           LEFT JOIN LATERAL ( \
               SELECT e.* FROM r e WHERE (e.tx_id, e.id) > ({tx}, {id}) AND {conditions} \
                ORDER BY e.tx_id, e.id LIMIT {limit_param}) p \
             ON TRUE \
          ORDER BY p.tx_id, p.id"
    );
    let mut conn = connection(pool).await?;
    let found: Vec<HotelRow> = st.fetch(&mut conn, None).await?;
    let horizon = <[HotelRow]>::first(&found).map_or(0, |r| r.horizon);
    let rows: Vec<(Event, i64)> = found.iter().filter_map(|r| r.event.event()).collect();
    let full = rows.len() as i64 >= limit;
    let last_returned = rows.last().map(|(e, tx_id)| StoredCursor {
        tx_id: *tx_id,
        id: e.id,
    });
    // Every row below the horizon was looked at: the next look starts there, naming no event.
    let end = StoredCursor {
        tx_id: horizon - 1,
        id: i64::MAX,
    };
    let next = if full {
        last_returned.unwrap_or(after)
    } else {
        furthest(after, last_returned, end)
    };
    Ok(FeedPage {
        rows,
        next,
        caught_up: !full,
    })
}

/// The page, its next position and whether it reached the end, from the statement's rows.
fn page_from(found: Vec<PageRow>, after: StoredCursor, limit: i64, window: i64) -> FeedPage {
    let Some(first) = <[PageRow]>::first(&found) else {
        // Nothing after the cursor below the horizon.
        return FeedPage {
            rows: Vec::new(),
            next: after,
            caught_up: true,
        };
    };
    let last_looked = StoredCursor {
        tx_id: first.last_tx,
        id: first.last_id,
    };
    let window_full = first.looked >= window;
    let rows: Vec<(Event, i64)> = found.iter().filter_map(|r| r.event.event()).collect();
    let full = rows.len() as i64 >= limit;
    let last_returned = rows.last().map(|(e, tx_id)| StoredCursor {
        tx_id: *tx_id,
        id: e.id,
    });
    let next = if full || last_returned == Some(last_looked) {
        last_returned.unwrap_or(after)
    } else {
        // Past the rows looked at that did not match, without naming one of them: the end of
        // the last transaction seen whole. When the window reached the horizon, every row of
        // its last transaction was in it; otherwise that transaction may go on past the
        // window, and only the ones before it are done.
        let skip = if !window_full {
            StoredCursor {
                tx_id: last_looked.tx_id,
                id: i64::MAX,
            }
        } else if first.first_tx < last_looked.tx_id {
            StoredCursor {
                tx_id: last_looked.tx_id - 1,
                id: i64::MAX,
            }
        } else {
            // The window lies inside one transaction larger than it: move inside it.
            last_looked
        };
        furthest(after, last_returned, skip)
    };
    FeedPage {
        rows,
        next,
        caught_up: !full && !window_full,
    }
}

fn position(c: StoredCursor) -> (i64, i64) {
    (c.tx_id, c.id)
}

/// The furthest of the asked position, the last row returned and where the look ended: a
/// cursor never moves back.
fn furthest(
    after: StoredCursor,
    returned: Option<StoredCursor>,
    ended: StoredCursor,
) -> StoredCursor {
    [Some(after), returned, Some(ended)]
        .into_iter()
        .flatten()
        .max_by_key(|c| position(*c))
        .unwrap_or(after)
}

/// What came to the feed after a position: the hotels of the rows, and where they end.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Arrivals {
    pub hotels: Vec<i32>,
    /// The last row looked at (`None`: nothing came).
    pub end: Option<StoredCursor>,
    /// More rows may follow right away (the window was full).
    pub more: bool,
}

#[derive(QueryableByName)]
struct ArrivalsRow {
    #[diesel(sql_type = BigInt)]
    last_tx: i64,
    #[diesel(sql_type = BigInt)]
    last_id: i64,
    #[diesel(sql_type = BigInt)]
    looked: i64,
    #[diesel(sql_type = Array<Int4>)]
    hotels: Vec<i32>,
}

/// The hotels of up to `window` rows after `after` in feed order, below the horizon: for the
/// long poll, which wakes only the requests those hotels concern.
pub async fn arrivals(
    pool: &PgPool,
    after: StoredCursor,
    window: i64,
) -> Result<Arrivals, StoreError> {
    let sql = format!(
        "WITH w AS MATERIALIZED ( \
             SELECT e.tx_id, e.id, e.hotel_id FROM events e \
              WHERE (e.tx_id, e.id) > ($1, $2) AND e.tx_id < {HORIZON} \
              ORDER BY e.tx_id, e.id LIMIT $3) \
         SELECT l.tx_id AS last_tx, l.id AS last_id, (SELECT count(*) FROM w) AS looked, \
                (SELECT array_agg(DISTINCT hotel_id) FROM w) AS hotels \
           FROM (SELECT tx_id, id FROM w ORDER BY tx_id DESC, id DESC LIMIT 1) l"
    );
    let mut conn = connection(pool).await?;
    let row: Option<ArrivalsRow> = diesel::sql_query(sql)
        .bind::<BigInt, _>(after.tx_id)
        .bind::<BigInt, _>(after.id)
        .bind::<BigInt, _>(window)
        .get_result(&mut conn)
        .await
        .optional()?;
    Ok(match row {
        None => Arrivals::default(),
        Some(r) => Arrivals {
            hotels: r.hotels,
            end: Some(StoredCursor {
                tx_id: r.last_tx,
                id: r.last_id,
            }),
            more: r.looked >= window,
        },
    })
}

/// The last position of the feed below the horizon (`START` when it is empty): where a reader
/// that wants only what comes from now on starts.
pub async fn end(pool: &PgPool) -> Result<StoredCursor, StoreError> {
    let mut conn = connection(pool).await?;
    let last: Option<(i64, i64)> = events::table
        .select((events::tx_id, events::id))
        .filter(sql::<Bool>(&format!("events.tx_id < {HORIZON}")))
        .order_by((events::tx_id.desc(), events::id.desc()))
        .first(&mut conn)
        .await
        .optional()?;
    Ok(
        last.map_or(StoredCursor::START, |(tx_id, id)| StoredCursor {
            tx_id,
            id,
        }),
    )
}

/// Events after `after` in the feed's `(tx_id, id)` order: a row comparison, which PostgreSQL
/// turns into a range scan of the `(tx_id, id)` index. A page (`ORDER BY tx_id, id LIMIT n`) must
/// use it alone: adding `tx_id >= …` makes the planner underestimate the rows and switch to a
/// bitmap scan that sorts everything after the cursor (BENCHMARKS.md, "Figures behind comments
/// in the code"). A count over the same range wants that bound (see [`behind`]).
pub fn after_in_store_order(
    after: StoredCursor,
) -> Box<dyn BoxableExpression<events::table, diesel::pg::Pg, SqlType = Bool>> {
    Box::new(
        sql::<Bool>("(events.tx_id, events.id) > (")
            .bind::<BigInt, _>(after.tx_id)
            .sql(", ")
            .bind::<BigInt, _>(after.id)
            .sql(")"),
    )
}

/// `s` and 32 hex digits: the `tx_id` and the id of the last event on the page. The prefix
/// keeps it apart from the `timestamp` order's cursors.
pub fn encode_stored_cursor(c: &StoredCursor) -> String {
    format!("s{:016x}{:016x}", c.tx_id as u64, c.id as u64)
}

pub fn decode_stored_cursor(s: &str) -> Option<StoredCursor> {
    let hex = s.strip_prefix('s')?;
    if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let tx_id = u64::from_str_radix(&hex[..16], 16).ok()? as i64;
    let id = u64::from_str_radix(&hex[16..], 16).ok()? as i64;
    (tx_id >= 0 && id >= 0).then_some(StoredCursor { tx_id, id })
}

/// What the lag gauge needs from the Data Provider about a reader at `cursor` (as the reader
/// keeps it: opaque, `None` before its first page).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Behind {
    /// Events after the cursor; `None` when the cursor is not one this service issued.
    pub events: Option<i64>,
    /// The newest `event_timestamp` stored.
    pub newest: Option<DateTime<Utc>>,
    /// The oldest `event_timestamp` stored.
    pub oldest: Option<DateTime<Utc>>,
}

/// Counts the events after `cursor` in feed order on the `events_tx_id_id` index: exactly the
/// events a reader there has not seen (the feed hands out each row once, in that order), at a
/// cost that grows with the lag rather than with the table. `count(*)` minus the reader's own
/// tally gives the same figure but scans the whole table (BENCHMARKS.md, "Figures behind
/// comments in the code"). The newest and oldest `event_timestamp` are one step down the `events_timestamp_id` index each.
pub async fn behind(pool: &PgPool, cursor: Option<&str>) -> Result<Behind, StoreError> {
    let after = match cursor {
        None => Some(StoredCursor::START),
        Some(c) => decode_stored_cursor(c),
    };
    let mut conn = connection(pool).await?;
    let newest: Option<DateTime<Utc>> = events::table
        .select(diesel::dsl::max(events::event_timestamp))
        .get_result(&mut conn)
        .await?;
    let oldest: Option<DateTime<Utc>> = events::table
        .select(diesel::dsl::min(events::event_timestamp))
        .get_result(&mut conn)
        .await?;
    let events = match after {
        None => None,
        Some(after) => Some(
            // The plain range on tx_id lets the planner estimate the row comparison and use the
            // index for the count; without it, it guesses a third of the table and scans it all.
            events::table
                .filter(events::tx_id.ge(after.tx_id))
                .filter(after_in_store_order(after))
                .count()
                .get_result(&mut conn)
                .await?,
        ),
    };
    Ok(Behind {
        events,
        newest,
        oldest,
    })
}
