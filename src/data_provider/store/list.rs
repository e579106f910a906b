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

impl EventFilter {
    /// The hotels the filter narrows the events to, if it does (empty: none can match).
    pub fn only_hotels(&self) -> Option<Vec<i32>> {
        match (self.hotel_id, &self.hotels) {
            (Some(h), Some(hs)) => Some(if hs.contains(&h) { vec![h] } else { Vec::new() }),
            (Some(h), None) => Some(vec![h]),
            (None, Some(hs)) => Some(hs.clone()),
            (None, None) => None,
        }
    }
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

/// Filters naming at most this many hotels may merge a stream per hotel and night, read on
/// `events_hotel_night_timestamp_id` (see `per_hotel`); others merge a stream per night, read on
/// the night index.
const MAX_HOTEL_STREAMS: usize = 16;

/// Whether `named` hotels out of about `stored` (the planner's estimate of the distinct hotels
/// stored) are merged per hotel and night. A stream costs descents of every partition, so `h`
/// hotels cost `h` times a night's stream; a night's stream reads every hotel's entries to find
/// the named ones', about `stored / h` times theirs. Measured at 10 M events of 10 hotels
/// (BENCHMARKS.md, "Night ranges of a few hotels"): one hotel per hotel 0.6–0.7 × the time of
/// per night, three 1.5 ×, all ten 5.4 ×; a cost of ~16 ms a hotel's streams against ~1.8 ms per
/// unit of `stored / h` puts the break-even near `9 h (h - 1) = stored`. One hotel always gains.
fn per_hotel(named: usize, stored: f64) -> bool {
    let h = named as f64;
    named <= MAX_HOTEL_STREAMS && 9.0 * h * (h - 1.0) <= stored
}

/// One stream of the merge: a night's rows in `(event_timestamp, id)` order, of one hotel, or
/// of every hotel the filter allows (`hotel` 0: hotel ids are positive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Stream {
    hotel: i32,
    night: NaiveDate,
}

/// What a night merge reads: the filter, the page's cursor, and how its streams are split.
struct Merge<'a> {
    filter: &'a EventFilter,
    /// The filter less what the streams select already (their hotels): a second condition on
    /// the hotel makes PostgreSQL misjudge the streams' rows and read the night index instead.
    within: EventFilter,
    after: Option<ListCursor>,
    /// Streams per hotel and night, of these hotels; `None`: per night.
    hotels: Option<Vec<i32>>,
    plans: Option<&'a Plans>,
}

impl Merge<'_> {
    /// The streams as a relation `n(hotel, night)` and the condition that selects a stream's
    /// rows of `events e`.
    fn streams(&self, st: &mut UnpreparedQuery, streams: &[Stream]) -> (String, &'static str) {
        let hotels = st.bind(Bind::I32s(streams.iter().map(|s| s.hotel).collect()));
        let nights = st.bind(Bind::Dates(streams.iter().map(|s| s.night).collect()));
        let relation = format!("unnest({hotels}::int4[], {nights}::date[]) AS n(hotel, night)");
        let matching = if self.hotels.is_some() {
            "e.hotel_id = n.hotel AND e.night_of_stay = n.night"
        } else {
            "e.night_of_stay = n.night"
        };
        (relation, matching)
    }
}

/// The page of a night-range listing, as a merge of one `(event_timestamp, id)`-ordered stream
/// per stored night in the range (each a range of `events_night_timestamp_id`), or per hotel and
/// night when the filter names a few hotels (`events_hotel_night_timestamp_id`).
///
/// First the head of every stream: its first matching row after the cursor (one index descent
/// a stream and partition). Then rounds, each reading keys from the index alone: the `width`
/// streams with the smallest heads hold every row below the next stream's head, the round's
/// bound; those keys are read (at most what the page still needs) and, if they do not fill the
/// page, the merged streams get new heads at the bound and the next round merges twice as many.
/// When no stream is left to bound a round, it reads a few keys of every stream instead
/// (`last_round`). Then the page's rows, once. The cost is a few descents per stream in the
/// range and partition plus about the page's rows: at most ~1,600 nights for 4 years of stays,
/// times the partitions (times the hotels named, up to `MAX_HOTEL_STREAMS`).
async fn list_by_nights(
    conn: &mut AsyncPgConnection,
    filter: &EventFilter,
    after: Option<ListCursor>,
    limit: i64,
    plans: Option<&Plans>,
) -> Result<Vec<Event>, diesel::result::Error> {
    let named = filter.only_hotels();
    if named.as_ref().is_some_and(Vec::is_empty) {
        return Ok(Vec::new());
    }
    let hotels = match named {
        Some(h) if h.len() == 1 => Some(h),
        Some(h) if h.len() <= MAX_HOTEL_STREAMS => {
            let stored = stored_hotels(conn, plans).await?;
            per_hotel(h.len(), stored).then_some(h)
        }
        _ => None,
    };
    let within = match hotels {
        Some(_) => EventFilter {
            hotel_id: None,
            hotels: None,
            ..filter.clone()
        },
        None => filter.clone(),
    };
    let m = Merge {
        filter,
        within,
        after,
        hotels,
        plans,
    };
    let streams = stored_streams(conn, &m).await?;
    let mut heads = stream_heads(conn, &m, None, &streams).await?;
    // The page's keys, in order; its rows are fetched once, at the end.
    let mut keys: Vec<StreamKey> = Vec::new();
    let mut floor: Option<ListCursor> = None;
    let mut width = FIRST_MERGE_WIDTH;
    let mut per_stream = 0;
    while (keys.len() as i64) < limit && !heads.is_empty() {
        heads.sort_unstable_by_key(|h| h.key());
        let want = limit - keys.len() as i64;
        if width >= heads.len() && heads.len() > 1 {
            // Every stream left, with no next head to bound the round.
            let streams: Vec<Stream> = heads.drain(..).map(|h| h.stream()).collect();
            let n = streams.len() as i64;
            per_stream = ((2 * want + n - 1) / n).max(per_stream * 2).clamp(1, want);
            let round = last_round(conn, &m, floor, &streams, want, per_stream).await?;
            keys.extend(round.keys);
            let Some(next) = round.next else { break };
            heads = round.heads;
            if !round.unread.is_empty() {
                heads.extend(stream_heads(conn, &m, Some(next), &round.unread).await?);
            }
            floor = Some(next);
            continue;
        }
        let merged = width.min(heads.len());
        let bound = heads.get(merged).map(StreamKey::key);
        let streams: Vec<Stream> = heads.drain(..merged).map(|h| h.stream()).collect();
        let found = stream_keys(conn, &m, (floor, bound), &streams, want, Some(want)).await?;
        let full = found.len() as i64 >= want;
        keys.extend(found);
        let Some(bound) = bound else { break };
        if full {
            break;
        }
        // Every row below the bound is in the page now: the merged streams go on from it.
        heads.extend(stream_heads(conn, &m, Some(bound), &streams).await?);
        floor = Some(bound);
        width = width.saturating_mul(2);
    }
    keys.truncate(limit.max(0) as usize);
    page_rows(conn, &m, &keys).await
}

#[derive(QueryableByName)]
struct HotelCount {
    #[diesel(sql_type = diesel::sql_types::Double)]
    hotels: f64,
}

/// The planner's estimate of the distinct hotels stored (0 without statistics): of `events`
/// when it was analysed as a whole, else the largest of its partitions' (autovacuum analyses
/// those only), a fraction of the rows when PostgreSQL estimates it so.
async fn stored_hotels(
    conn: &mut AsyncPgConnection,
    plans: Option<&Plans>,
) -> Result<f64, diesel::result::Error> {
    let st = UnpreparedQuery {
        sql: "SELECT coalesce(max(CASE WHEN s.n_distinct >= 0 THEN s.n_distinct \
                                      ELSE -s.n_distinct * greatest(c.reltuples, 0) END), 0)::float8 \
                     AS hotels \
                FROM pg_stats s \
                JOIN pg_class c ON c.relname = s.tablename \
                JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = s.schemaname \
               WHERE s.attname = 'hotel_id' \
                 AND c.oid IN (SELECT 'events'::regclass UNION ALL \
                               SELECT inhrelid FROM pg_inherits WHERE inhparent = 'events'::regclass)"
            .into(),
        ..Default::default()
    };
    let found: Vec<HotelCount> = st.fetch(conn, plans).await?;
    Ok(<[HotelCount]>::first(&found).map_or(0.0, |c| c.hotels))
}

/// What the last round of the merge read and where the streams go on.
struct LastRound {
    /// The page's next keys, in order: every row of the streams up to a frontier.
    keys: Vec<StreamKey>,
    /// Just after the frontier (`None`: every row of the streams was read).
    next: Option<ListCursor>,
    /// The streams' heads past the frontier that the round read already.
    heads: Vec<StreamKey>,
    /// Streams read to the frontier exactly, whose heads past it are still to find.
    unread: Vec<Stream>,
}

/// The round that merges every stream left, with no head after them to bound it. Each stream's
/// read stops at `per_stream` rows (a read to the page's size in every stream costs streams ×
/// page entries, and for a rare hotel and status whole nights); the rows up to the lowest last
/// key of a stream that has more (the frontier) are the page's next, since every stream's
/// unread rows lie beyond it. The caller doubles `per_stream` at each such round, so that a
/// stream holding most of the page is read in a few.
async fn last_round(
    conn: &mut AsyncPgConnection,
    m: &Merge<'_>,
    floor: Option<ListCursor>,
    streams: &[Stream],
    want: i64,
    per_stream: i64,
) -> Result<LastRound, diesel::result::Error> {
    let read = stream_keys(conn, m, (floor, None), streams, per_stream, None).await?;
    let mut per: std::collections::BTreeMap<Stream, Vec<ListCursor>> = Default::default();
    for h in &read {
        per.entry(h.stream()).or_default().push(h.key());
    }
    // The lowest last key of a stream read to its limit: what lies beyond may not be read yet.
    let frontier = per
        .values()
        .filter(|keys| keys.len() as i64 >= per_stream)
        .filter_map(|keys| keys.iter().max().copied())
        .min();
    let mut keys: Vec<StreamKey> = read
        .into_iter()
        .filter(|h| frontier.is_none_or(|f| h.key() <= f))
        .collect();
    keys.sort_unstable_by_key(StreamKey::key);
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
    for (stream, read) in per {
        match read.iter().filter(|&&c| c > frontier).min() {
            Some(c) => heads.push(StreamKey::at(stream, *c)),
            None if read.len() as i64 >= per_stream => unread.push(stream),
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

/// The rows of the page's `keys` (the first rows after the cursor of the streams, in order).
async fn page_rows(
    conn: &mut AsyncPgConnection,
    m: &Merge<'_>,
    keys: &[StreamKey],
) -> Result<Vec<Event>, diesel::result::Error> {
    let Some(last) = keys.last().map(StreamKey::key) else {
        return Ok(Vec::new());
    };
    let filter = m.filter;
    let hotel_included = m.hotels.is_none() && filter.only_hotels().is_some();
    if filter.status.is_some() || hotel_included {
        // The night indexes' keys decide which entries an index scan fetches from the heap:
        // with a status (and on the night index a hotel), columns they only include, every
        // entry up to the last key is fetched, ~50 for each row wanted when both are given.
        // Then the rows are fetched by id instead: one descent of each partition's key a row,
        // whatever the filter.
        let ids: Vec<i64> = keys.iter().map(|k| k.id).collect();
        return rows_by_id(conn, &ids, m.plans).await;
    }
    let mut streams: Vec<Stream> = keys.iter().map(StreamKey::stream).collect();
    streams.sort_unstable();
    streams.dedup();
    merged_rows(conn, m, last, &streams, keys.len()).await
}

/// Spans of fewer nights than this are listed night by night rather than searched for the
/// nights stored in them: five years of stays.
const SERIES_NIGHTS: i64 = 5 * 366;

#[derive(QueryableByName)]
struct StreamSpan {
    #[diesel(sql_type = Int4)]
    hotel: i32,
    #[diesel(sql_type = diesel::sql_types::Nullable<Date>)]
    first: Option<NaiveDate>,
    #[diesel(sql_type = diesel::sql_types::Nullable<Date>)]
    last: Option<NaiveDate>,
}

#[derive(QueryableByName)]
struct StoredNight {
    #[diesel(sql_type = Date)]
    night: NaiveDate,
}

/// The streams of the filter's night range: for each hotel named (or for every hotel), every
/// night from the first stored to the last, or, for a span of five years or more, the nights
/// stored (a loose index scan: a range reaching a stray night decades away costs no more than
/// the nights really stored). Listing every night of a short span saves finding which are
/// stored: finding one costs what its head costs (a descent of every partition's index), and
/// nights are stored densely (a hotel sells every night).
async fn stored_streams(
    conn: &mut AsyncPgConnection,
    m: &Merge<'_>,
) -> Result<Vec<Stream>, diesel::result::Error> {
    let nights = EventFilter {
        night_of_stay_gte: m.filter.night_of_stay_gte,
        night_of_stay_lte: m.filter.night_of_stay_lte,
        ..Default::default()
    };
    let (hotels, of_hotel) = match &m.hotels {
        Some(h) => (h.clone(), "e.hotel_id = h.hotel AND "),
        None => (vec![0], ""),
    };
    let mut st = UnpreparedQuery::default();
    let hotels_param = st.bind(Bind::I32s(hotels));
    let range = st.conditions(&nights, None, true);
    st.sql = format!(
        "SELECT h.hotel, \
                (SELECT min(e.night_of_stay) FROM events e WHERE {of_hotel}{range}) AS first, \
                (SELECT max(e.night_of_stay) FROM events e WHERE {of_hotel}{range}) AS last \
           FROM unnest({hotels_param}::int4[]) AS h(hotel)"
    );
    let spans: Vec<StreamSpan> = st.fetch(conn, m.plans).await?;
    let mut streams = Vec::new();
    for span in spans {
        let (hotel, Some(first), Some(last)) = (span.hotel, span.first, span.last) else {
            continue;
        };
        if (last - first).num_days() < SERIES_NIGHTS {
            streams.extend(
                first
                    .iter_days()
                    .take_while(|n| *n <= last)
                    .map(|night| Stream { hotel, night }),
            );
            continue;
        }
        let mut st = UnpreparedQuery::default();
        let hotel_param = st.bind(Bind::I32(hotel));
        let of_hotel = of_hotel.replace("h.hotel", &hotel_param);
        let (first, last) = (st.bind(Bind::Date(first)), st.bind(Bind::Date(last)));
        st.sql = format!(
            "WITH RECURSIVE stored(night) AS ( \
                 SELECT {first}::date \
                 UNION ALL \
                 SELECT (SELECT min(e.night_of_stay) FROM events e \
                          WHERE {of_hotel}e.night_of_stay > s.night AND e.night_of_stay <= {last}) \
                   FROM stored s WHERE s.night IS NOT NULL) \
             SELECT night FROM stored WHERE night IS NOT NULL"
        );
        let stored: Vec<StoredNight> = st.fetch(conn, m.plans).await?;
        streams.extend(stored.into_iter().map(|s| Stream {
            hotel,
            night: s.night,
        }));
    }
    Ok(streams)
}

/// The keys of the first `per_stream` rows of each of `streams` from `floor` (inclusive) below
/// `bound`, and of those only the first `first` when given, read from the index alone (it
/// includes the columns filtered on).
async fn stream_keys(
    conn: &mut AsyncPgConnection,
    m: &Merge<'_>,
    (floor, bound): (Option<ListCursor>, Option<ListCursor>),
    streams: &[Stream],
    per_stream: i64,
    first: Option<i64>,
) -> Result<Vec<StreamKey>, diesel::result::Error> {
    let mut st = UnpreparedQuery::default();
    let conditions = st.conditions(&m.within, m.after, false);
    let window = st.window(floor, bound);
    let (relation, matching) = m.streams(&mut st, streams);
    let per_stream = st.bind(Bind::I64(per_stream));
    let first = match first {
        Some(n) => format!(
            " ORDER BY r.event_timestamp, r.id LIMIT {}",
            st.bind(Bind::I64(n))
        ),
        None => String::new(),
    };
    st.sql = format!(
        "SELECT n.hotel, n.night, r.event_timestamp, r.id FROM {relation} \
         CROSS JOIN LATERAL ( \
             SELECT e.event_timestamp, e.id FROM events e \
              WHERE {matching} AND {conditions}{window} \
              ORDER BY e.event_timestamp, e.id LIMIT {per_stream}) r{first}"
    );
    st.fetch(conn, m.plans).await
}

/// The `rows` rows of `streams` after the cursor up to `last` (inclusive): the page's rows,
/// when `last` is its last key and `streams` the streams of its keys (a page is every row up to
/// its last key).
///
/// Fetched by the index again rather than joined by id: an id names no partition (they are by
/// arrival), so a join probes every partition's key for each row, or, as PostgreSQL may plan
/// it, hashes the whole table. Read again, each row is fetched from its own partition.
async fn merged_rows(
    conn: &mut AsyncPgConnection,
    m: &Merge<'_>,
    last: ListCursor,
    streams: &[Stream],
    rows: usize,
) -> Result<Vec<Event>, diesel::result::Error> {
    let mut st = UnpreparedQuery::default();
    let conditions = st.conditions(&m.within, m.after, false);
    let last = st.key_condition("<=", last);
    let (relation, matching) = m.streams(&mut st, streams);
    // The limit (never reached: the window holds `rows` rows) keeps the subquery a lateral one,
    // run per stream on its index, which PostgreSQL would otherwise join with a scan of the
    // window's rows of every night.
    let rows_param = st.bind(Bind::I64(rows as i64));
    st.sql = format!(
        "SELECT {EVENT_COLUMNS} FROM {relation} \
         CROSS JOIN LATERAL ( \
             SELECT {EVENT_COLUMNS} FROM events e \
              WHERE {matching} AND {conditions} AND {last} \
              ORDER BY e.event_timestamp, e.id LIMIT {rows_param}) e \
         ORDER BY e.event_timestamp, e.id"
    );
    st.fetch(conn, m.plans).await
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

/// A row of a stream: the stream and the row's key.
#[derive(QueryableByName)]
struct StreamKey {
    #[diesel(sql_type = Int4)]
    hotel: i32,
    #[diesel(sql_type = Date)]
    night: NaiveDate,
    #[diesel(sql_type = Timestamptz)]
    event_timestamp: DateTime<Utc>,
    #[diesel(sql_type = BigInt)]
    id: i64,
}

impl StreamKey {
    fn at(stream: Stream, key: ListCursor) -> StreamKey {
        StreamKey {
            hotel: stream.hotel,
            night: stream.night,
            event_timestamp: key.event_timestamp,
            id: key.id,
        }
    }

    fn key(&self) -> ListCursor {
        ListCursor {
            event_timestamp: self.event_timestamp,
            id: self.id,
        }
    }

    fn stream(&self) -> Stream {
        Stream {
            hotel: self.hotel,
            night: self.night,
        }
    }
}

/// The first row matching the filter after the cursor (and at or after `from`) of each of
/// `streams`; streams without one are left out.
async fn stream_heads(
    conn: &mut AsyncPgConnection,
    m: &Merge<'_>,
    from: Option<ListCursor>,
    streams: &[Stream],
) -> Result<Vec<StreamKey>, diesel::result::Error> {
    if streams.is_empty() {
        return Ok(Vec::new());
    }
    let mut st = UnpreparedQuery::default();
    let conditions = st.conditions(&m.within, m.after, false);
    let window = st.window(from, None);
    let (relation, matching) = m.streams(&mut st, streams);
    st.sql = format!(
        "SELECT n.hotel, n.night, h.event_timestamp, h.id FROM {relation} CROSS JOIN LATERAL ( \
             SELECT e.event_timestamp, e.id FROM events e \
              WHERE {matching} AND {conditions}{window} \
              ORDER BY e.event_timestamp, e.id LIMIT 1) h"
    );
    st.fetch(conn, m.plans).await
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

#[cfg(test)]
mod tests {
    use super::per_hotel;

    #[test]
    fn one_hotel_is_merged_per_hotel_and_more_only_among_many() {
        assert!(per_hotel(1, 0.0), "without statistics");
        assert!(per_hotel(1, 10.0));
        assert!(!per_hotel(2, 10.0));
        assert!(per_hotel(2, 40.0));
        assert!(!per_hotel(3, 10.0));
        assert!(per_hotel(10, 1000.0));
        assert!(!per_hotel(16, 1000.0));
        assert!(!per_hotel(17, 1e9), "past the most streams");
    }
}
