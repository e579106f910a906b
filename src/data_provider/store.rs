//! Queries on the events table: store one event, store a batch exactly once, list a page.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Date, Int4, SmallInt, Timestamptz};
use diesel_async::scoped_futures::ScopedFutureExt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::event::{Event, NewEvent};
use super::schema::events;
use crate::db::PgPool;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the events database is unavailable: {0}")]
    Unavailable(String),
    #[error("query on the events database failed: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("COPY into the events table failed: {}", pg_error(.0))]
    Copy(#[from] tokio_postgres::Error),
}

/// tokio-postgres says only "db error" for a server's error; this gives its message.
pub fn pg_error(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    }
}

impl StoreError {
    /// Errors worth retrying the same work for: the server or the connection went away, or a
    /// concurrent transaction got in the way. Anything else is a bug or bad data.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Unavailable(_) => true,
            StoreError::Query(e) => crate::db::is_transient(e),
            StoreError::Copy(e) => crate::db::is_transient_sqlstate(e.code().map(|c| c.code())),
        }
    }
}

impl From<StoreError> for crate::error::ApiError {
    fn from(e: StoreError) -> Self {
        crate::error::ApiError::database(e.is_transient(), e)
    }
}

pub async fn connection(
    pool: &PgPool,
) -> Result<diesel_async::pooled_connection::deadpool::Object<AsyncPgConnection>, StoreError> {
    pool.get()
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))
}

/// What became of one posted event.
#[derive(Debug)]
pub enum Stored {
    Created(Event),
    /// The same event was already stored under this id: nothing changed.
    Replayed(Event),
    /// The id is taken by a different event; the stored one is kept.
    Conflict {
        stored: Event,
    },
    /// The id was stored and has since been deleted by `roompulse retention`, which keeps only
    /// the ids: nothing is stored (the dashboard has counted it already), and the content
    /// cannot be compared. Holds the event as posted.
    Retired(Event),
    /// An id in the service's own range that the service never assigned.
    UnassignedId,
}

pub async fn insert_one(pool: &PgPool, new: NewEvent) -> Result<Stored, StoreError> {
    let mut conn = connection(pool).await?;
    let Some(id) = new.id else {
        let id: i64 = diesel::select(sql::<BigInt>("nextval('events_assigned_id_seq')"))
            .get_result(&mut conn)
            .await?;
        let event = new.with_id(id);
        diesel::insert_into(events::table)
            .values(&event)
            .execute(&mut conn)
            .await?;
        return Ok(Stored::Created(event));
    };
    let event = new.with_id(id);
    let inserted = if id >= super::event::ASSIGNED_ID_FLOOR {
        0 // only a replay of an event the service stored itself can carry such an id
    } else {
        // A retired id is skipped like a stored one. The check on the events table (migration
        // `retired_event_ids`) still refuses it when a retention run retired it after this
        // statement's snapshot was taken.
        let inserted = diesel::sql_query(
            "INSERT INTO events (id, hotel_id, event_timestamp, status, room_reservation_id, night_of_stay) \
             SELECT $1, $2, $3, $4, $5, $6 \
             WHERE NOT EXISTS (SELECT 1 FROM retired_event_ids WHERE id = $1) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind::<BigInt, _>(event.id)
        .bind::<Int4, _>(event.hotel_id)
        .bind::<Timestamptz, _>(event.event_timestamp)
        .bind::<SmallInt, _>(event.status)
        .bind::<diesel::sql_types::Uuid, _>(event.room_reservation_id)
        .bind::<Date, _>(event.night_of_stay)
        .execute(&mut conn)
        .await;
        match inserted {
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            )) => return Ok(Stored::Retired(event)),
            other => other?,
        }
    };
    if inserted == 1 {
        return Ok(Stored::Created(event));
    }
    let stored = events::table
        .find(id)
        .select(Event::as_select())
        .first(&mut conn)
        .await
        .optional()?;
    Ok(match stored {
        Some(stored) if stored == event => Stored::Replayed(stored),
        Some(stored) => Stored::Conflict { stored },
        None if is_retired(&mut conn, id).await? => Stored::Retired(event),
        None => Stored::UnassignedId,
    })
}

/// Whether `roompulse retention` has deleted the event stored under `id`.
pub async fn is_retired(conn: &mut AsyncPgConnection, id: i64) -> Result<bool, StoreError> {
    Ok(diesel::select(
        sql::<Bool>("EXISTS (SELECT 1 FROM retired_event_ids WHERE id = ")
            .bind::<BigInt, _>(id)
            .sql(")"),
    )
    .get_result(conn)
    .await?)
}

/// What `insert_batch` did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Inserted {
    /// Rows the statement added: events whose id was not stored yet.
    pub rows: usize,
    /// The positions in the batch of events whose id is stored with different content (those
    /// are not stored: nothing is ever overwritten).
    pub conflicts: Vec<usize>,
}

/// Stores `batch` in one transaction, dropping events whose id is already stored with the same
/// content, and events whose id `roompulse retention` retired (counted as already stored: the
/// dashboard has counted them).
pub async fn insert_batch(
    conn: &mut AsyncPgConnection,
    batch: &[Event],
) -> Result<Inserted, StoreError> {
    // The statement skips retired ids; the check on the events table refuses one only when a
    // retention run retired it after the statement's snapshot. Again, the statement sees it.
    let mut attempts = 0;
    loop {
        match insert_batch_once(conn, batch).await {
            Err(StoreError::Query(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                info,
            ))) if attempts < 3 => {
                attempts += 1;
                tracing::debug!(error = info.message(), "a retention run retired an id of the batch meanwhile; inserting the batch again");
            }
            other => return other,
        }
    }
}

async fn insert_batch_once(
    conn: &mut AsyncPgConnection,
    batch: &[Event],
) -> Result<Inserted, StoreError> {
    if batch.is_empty() {
        return Ok(Inserted::default());
    }
    // Inserting in id order means two workers with overlapping batches take their row locks
    // in the same order and cannot deadlock.
    let mut order: Vec<usize> = (0..batch.len()).collect();
    order.sort_by_key(|&i| batch[i].id);
    let columns = Columns::new(order.iter().map(|&i| &batch[i]));

    let (rows, conflicts) = conn
        .transaction::<_, diesel::result::Error, _>(|conn| {
            async move {
                // The feed position once for the whole batch (a CTE with a volatile function is
                // evaluated once), not once per row as the column default would be.
                let inserted = columns
                    .bind(diesel::sql_query(
                        "WITH p AS (SELECT roompulse_feed_position() AS tx_id) \
                         INSERT INTO events (id, hotel_id, event_timestamp, status, room_reservation_id, night_of_stay, tx_id) \
                         SELECT u.*, p.tx_id \
                         FROM unnest($1, $2, $3, $4, $5, $6) \
                              AS u(id, hotel_id, event_timestamp, status, room_reservation_id, night_of_stay), p \
                         WHERE NOT EXISTS (SELECT 1 FROM retired_event_ids r WHERE r.id = u.id) \
                         ON CONFLICT (id) DO NOTHING",
                    ))
                    .execute(conn)
                    .await?;
                if inserted == columns.ids.len() {
                    return Ok((inserted, Vec::new()));
                }
                // Some ids were there already: find those stored with different content.
                let rows: Vec<Ordinal> = columns
                    .bind(diesel::sql_query(
                        "SELECT (b.ord - 1) AS ord \
                         FROM unnest($1, $2, $3, $4, $5, $6) WITH ORDINALITY \
                              AS b(id, hotel_id, event_timestamp, status, room_reservation_id, night_of_stay, ord) \
                         JOIN events e ON e.id = b.id \
                         WHERE (e.hotel_id, e.event_timestamp, e.status, e.room_reservation_id, e.night_of_stay) \
                               IS DISTINCT FROM \
                               (b.hotel_id, b.event_timestamp, b.status, b.room_reservation_id, b.night_of_stay)",
                    ))
                    .load(conn)
                    .await?;
                Ok((inserted, rows))
            }
            .scope_boxed()
        })
        .await?;
    let mut positions: Vec<usize> = conflicts.iter().map(|r| order[r.ord as usize]).collect();
    positions.sort_unstable();
    Ok(Inserted {
        rows,
        conflicts: positions,
    })
}

/// The workers' fast path: a binary COPY, about twice as fast as `insert_batch` for PostgreSQL
/// (see BENCHMARKS.md). diesel-async has no COPY, so this is a plain tokio-postgres connection,
/// opened on first use and again after it breaks.
pub struct CopyConnection {
    url: String,
    client: Option<tokio_postgres::Client>,
}

impl CopyConnection {
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_string(),
            client: None,
        }
    }

    async fn client(&mut self) -> Result<&mut tokio_postgres::Client, StoreError> {
        if self.client.as_ref().is_none_or(|c| c.is_closed()) {
            let (client, conn) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls).await?;
            tokio::spawn(async move {
                if let Err(e) = conn.await {
                    tracing::debug!(error = %e, "COPY connection closed");
                }
            });
            self.client = Some(client);
        }
        self.client
            .as_mut()
            .ok_or_else(|| StoreError::Unavailable("no connection".into()))
    }

    /// Stores all of `batch` in one transaction, or nothing: returns `Ok(false)` when an id is
    /// already stored, repeats within the batch, or was retired (the check on the events table
    /// raises the same error), for `insert_batch` to sort out.
    pub async fn copy_batch(&mut self, batch: &[Event]) -> Result<bool, StoreError> {
        use tokio_postgres::error::SqlState;

        let result = async {
            let client = self.client().await?;
            let tx = client.transaction().await?;
            // One round trip for the batch's feed position instead of the column default's
            // function call per row.
            let position: i64 = tx
                .query_one("SELECT roompulse_feed_position()", &[])
                .await?
                .try_get(0)?;
            // Id order, as in insert_batch: overlapping batches then wait on each other instead
            // of deadlocking.
            let mut order: Vec<&Event> = batch.iter().collect();
            order.sort_by_key(|e| e.id);
            copy_events(tx.client(), "events", Some(position), order).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(true)
        }
        .await;
        match result {
            Err(StoreError::Copy(e)) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => Ok(false),
            Err(e) => {
                if e.is_transient() {
                    self.client = None;
                }
                Err(e)
            }
            ok => ok,
        }
    }
}

/// Writes `events`, in the order given, into `table` (the events table, or a table made `LIKE
/// events`; a name from the code, never from input) with one binary COPY on `client`, inside
/// whatever transaction `client` is in; returns the rows written. With `position` every row gets
/// it as its `tx_id`; without, the table's default for `tx_id` is evaluated for each row.
pub async fn copy_events<E: std::borrow::Borrow<Event>>(
    client: &tokio_postgres::Client,
    table: &str,
    position: Option<i64>,
    events: impl IntoIterator<Item = E>,
) -> Result<u64, tokio_postgres::Error> {
    use futures_util::pin_mut;
    use tokio_postgres::binary_copy::BinaryCopyInWriter;
    use tokio_postgres::types::{ToSql, Type};

    const COLUMNS: &str =
        "id, hotel_id, event_timestamp, status, room_reservation_id, night_of_stay";
    const TYPES: [Type; 7] = [
        Type::INT8,
        Type::INT4,
        Type::TIMESTAMPTZ,
        Type::INT2,
        Type::UUID,
        Type::DATE,
        Type::INT8,
    ];
    let (statement, columns) = match position {
        Some(_) => (
            format!("COPY {table} ({COLUMNS}, tx_id) FROM STDIN BINARY"),
            7,
        ),
        None => (format!("COPY {table} ({COLUMNS}) FROM STDIN BINARY"), 6),
    };
    let sink = client.copy_in(&statement).await?;
    let writer = BinaryCopyInWriter::new(sink, &TYPES[..columns]);
    pin_mut!(writer);
    let position = position.unwrap_or_default();
    let mut rows = 0;
    for e in events {
        let e = e.borrow();
        let row: [&(dyn ToSql + Sync); 7] = [
            &e.id,
            &e.hotel_id,
            &e.event_timestamp,
            &e.status,
            &e.room_reservation_id,
            &e.night_of_stay,
            &position,
        ];
        writer.as_mut().write(&row[..columns]).await?;
        rows += 1;
    }
    writer.finish().await?;
    Ok(rows)
}

#[derive(QueryableByName)]
struct Ordinal {
    #[diesel(sql_type = BigInt)]
    ord: i64,
}

/// A batch as column arrays, the shape `unnest` takes.
struct Columns {
    ids: Vec<i64>,
    hotel_ids: Vec<i32>,
    timestamps: Vec<DateTime<Utc>>,
    statuses: Vec<i16>,
    reservations: Vec<Uuid>,
    nights: Vec<NaiveDate>,
}

impl Columns {
    fn new<'a>(events: impl ExactSizeIterator<Item = &'a Event>) -> Self {
        let n = events.len();
        let mut c = Columns {
            ids: Vec::with_capacity(n),
            hotel_ids: Vec::with_capacity(n),
            timestamps: Vec::with_capacity(n),
            statuses: Vec::with_capacity(n),
            reservations: Vec::with_capacity(n),
            nights: Vec::with_capacity(n),
        };
        for e in events {
            c.ids.push(e.id);
            c.hotel_ids.push(e.hotel_id);
            c.timestamps.push(e.event_timestamp);
            c.statuses.push(e.status);
            c.reservations.push(e.room_reservation_id);
            c.nights.push(e.night_of_stay);
        }
        c
    }

    #[allow(clippy::type_complexity)]
    fn bind(
        &self,
        q: diesel::query_builder::SqlQuery,
    ) -> diesel::query_builder::BoxedSqlQuery<'_, diesel::pg::Pg, diesel::query_builder::SqlQuery>
    {
        q.into_boxed()
            .bind::<Array<BigInt>, _>(&self.ids)
            .bind::<Array<Int4>, _>(&self.hotel_ids)
            .bind::<Array<Timestamptz>, _>(&self.timestamps)
            .bind::<Array<SmallInt>, _>(&self.statuses)
            .bind::<Array<diesel::sql_types::Uuid>, _>(&self.reservations)
            .bind::<Array<Date>, _>(&self.nights)
    }
}

/// `GET /events` filters; every bound is optional and they combine with AND.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct EventFilter {
    pub hotel_id: Option<i32>,
    /// Only these hotels' events (the caller's key's hotels); `None`: every hotel.
    pub hotels: Option<Vec<i32>>,
    pub updated_gte: Option<DateTime<Utc>>,
    pub updated_gt: Option<DateTime<Utc>>,
    pub updated_lte: Option<DateTime<Utc>>,
    pub updated_lt: Option<DateTime<Utc>>,
    pub status: Option<i16>,
    pub room_reservation_id: Option<Uuid>,
    pub night_of_stay_gte: Option<NaiveDate>,
    pub night_of_stay_lte: Option<NaiveDate>,
}

/// Position in the `(event_timestamp, id)` order: the page starts after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
        let mut st = Statement::default();
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
/// a night, and one to find each stored night). Then rounds: the `width` nights with the
/// smallest heads hold every row below the next night's head, the round's bound; those rows
/// are read (at most what the page still needs per night) and, if they do not fill the page,
/// the merged nights get new heads at the bound and the next round merges twice as many. The
/// cost is a descent per night in the range plus about the page's rows, whatever is stored:
/// at most ~1,600 nights for 4 years of stays.
async fn list_by_nights(
    conn: &mut AsyncPgConnection,
    filter: &EventFilter,
    after: Option<ListCursor>,
    limit: i64,
    plans: Option<&Plans>,
) -> Result<Vec<Event>, diesel::result::Error> {
    let mut heads = night_heads(conn, filter, after, None, None, plans).await?;
    let mut page: Vec<Event> = Vec::new();
    let mut floor: Option<ListCursor> = None;
    let mut width = FIRST_MERGE_WIDTH;
    while (page.len() as i64) < limit && !heads.is_empty() {
        heads.sort_unstable_by_key(|h| (h.event_timestamp, h.id));
        let merged = width.min(heads.len());
        let bound = heads.get(merged).map(|h| ListCursor {
            event_timestamp: h.event_timestamp,
            id: h.id,
        });
        let nights: Vec<NaiveDate> = heads.drain(..merged).map(|h| h.night).collect();
        let want = limit - page.len() as i64;
        let mut st = Statement::default();
        let conditions = st.conditions(filter, after, false);
        let window = st.window(floor, bound);
        let nights_param = st.bind(Bind::Dates(nights.clone()));
        let want_param = st.bind(Bind::I64(want));
        // The merge reads (event_timestamp, id) and the filtered columns from the index alone
        // (it includes hotel_id and status), then fetches only the page's rows.
        st.sql = format!(
            "SELECT {full} FROM ( \
                 SELECT r.event_timestamp, r.id FROM unnest({nights_param}::date[]) AS n(night) \
                 CROSS JOIN LATERAL ( \
                     SELECT e.event_timestamp, e.id FROM events e \
                      WHERE e.night_of_stay = n.night AND {conditions}{window} \
                      ORDER BY e.event_timestamp, e.id LIMIT {want_param}) r \
                 ORDER BY r.event_timestamp, r.id LIMIT {want_param}) k \
             JOIN events f ON f.id = k.id ORDER BY k.event_timestamp, k.id",
            full = EVENT_COLUMNS.replace("e.", "f.")
        );
        let rows: Vec<Event> = st.fetch(conn, plans).await?;
        let full = rows.len() as i64 >= want;
        page.extend(rows);
        let Some(bound) = bound else { break };
        if full {
            break;
        }
        // Every row below the bound is in the page now: the merged nights go on from it.
        heads.extend(night_heads(conn, filter, after, Some(bound), Some(&nights), plans).await?);
        floor = Some(bound);
        width = width.saturating_mul(2);
    }
    Ok(page)
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
    let mut st = Statement::default();
    let nights_sql = match nights {
        Some(nights) => {
            let p = st.bind(Bind::Dates(nights.to_vec()));
            format!("SELECT night FROM unnest({p}::date[]) AS n(night)")
        }
        None => {
            // The stored nights in the range, one descent each (a loose index scan): a range
            // reaching a stray night decades away costs no more than the nights really stored.
            let mut range = String::new();
            if let Some(v) = filter.night_of_stay_gte {
                range += &format!(" AND night_of_stay >= {}", st.bind(Bind::Date(v)));
            }
            let mut upper = String::new();
            if let Some(v) = filter.night_of_stay_lte {
                upper = format!(" AND night_of_stay <= {}", st.bind(Bind::Date(v)));
                range += &upper;
            }
            format!(
                "WITH RECURSIVE stored(night) AS ( \
                     SELECT min(night_of_stay) FROM events WHERE TRUE{range} \
                     UNION ALL \
                     SELECT (SELECT min(night_of_stay) FROM events \
                              WHERE night_of_stay > s.night{upper}) \
                       FROM stored s WHERE s.night IS NOT NULL) \
                 SELECT night FROM stored WHERE night IS NOT NULL"
            )
        }
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

pub(super) const EVENT_COLUMNS: &str =
    "e.id, e.hotel_id, e.event_timestamp, e.status, e.room_reservation_id, e.night_of_stay";

/// A bind value of the list statements.
pub(super) enum Bind {
    I32(i32),
    I32s(Vec<i32>),
    I64(i64),
    Ts(DateTime<Utc>),
    Uuid(Uuid),
    Date(NaiveDate),
    Dates(Vec<NaiveDate>),
}

/// A statement of the list, its SQL written here and its values bound as parameters.
#[derive(Default)]
pub(super) struct Statement {
    pub(super) sql: String,
    binds: Vec<Bind>,
}

impl Statement {
    /// Adds a parameter; its placeholder.
    pub(super) fn bind(&mut self, b: Bind) -> String {
        self.binds.push(b);
        format!("${}", self.binds.len())
    }

    /// `filter` and the cursor on the events table as `e`, joined with AND (`TRUE` if none);
    /// without the night range when `nights` is false (the caller walks the nights itself).
    pub(super) fn conditions(
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
            (">=", filter.updated_gte),
            (">", filter.updated_gt),
            ("<=", filter.updated_lte),
            ("<", filter.updated_lt),
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
    pub(super) async fn fetch<T>(
        &self,
        conn: &mut AsyncPgConnection,
        plans: Option<&Plans>,
    ) -> Result<Vec<T>, diesel::result::Error>
    where
        T: QueryableByName<diesel::pg::Pg> + Send + 'static,
    {
        if let Some(plans) = plans {
            let explain = Statement {
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
                Bind::Ts(v) => q.bind::<Timestamptz, _>(*v),
                Bind::Uuid(v) => q.bind::<diesel::sql_types::Uuid, _>(*v),
                Bind::Date(v) => q.bind::<Date, _>(*v),
                Bind::Dates(v) => q.bind::<Array<Date>, _>(v),
            };
        }
        q
    }
}

/// Every stored event's id: for tests and benchmarks that check exactly-once.
pub async fn count(pool: &PgPool) -> Result<i64, StoreError> {
    let mut conn = connection(pool).await?;
    Ok(events::table.count().get_result(&mut conn).await?)
}
