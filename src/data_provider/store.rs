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

/// The events table with `filter` applied, in no particular order.
pub(super) fn filtered(filter: &EventFilter) -> events::BoxedQuery<'static, diesel::pg::Pg> {
    let mut q = events::table.into_boxed();
    if let Some(v) = filter.hotel_id {
        q = q.filter(events::hotel_id.eq(v));
    }
    if let Some(v) = &filter.hotels {
        // `hotel_id = ANY($1)`: in the statement, so that pages and cursors are those of the
        // narrowed listing (an empty set matches nothing).
        q = q.filter(events::hotel_id.eq_any(v.clone()));
    }
    if let Some(v) = filter.updated_gte {
        q = q.filter(events::event_timestamp.ge(v));
    }
    if let Some(v) = filter.updated_gt {
        q = q.filter(events::event_timestamp.gt(v));
    }
    if let Some(v) = filter.updated_lte {
        q = q.filter(events::event_timestamp.le(v));
    }
    if let Some(v) = filter.updated_lt {
        q = q.filter(events::event_timestamp.lt(v));
    }
    if let Some(v) = filter.status {
        q = q.filter(events::status.eq(v));
    }
    if let Some(v) = filter.room_reservation_id {
        q = q.filter(events::room_reservation_id.eq(v));
    }
    if let Some(v) = filter.night_of_stay_gte {
        q = q.filter(events::night_of_stay.ge(v));
    }
    if let Some(v) = filter.night_of_stay_lte {
        q = q.filter(events::night_of_stay.le(v));
    }
    q
}

/// Up to `limit` events matching `filter` after `after`, in `(event_timestamp, id)` order.
pub async fn list(
    pool: &PgPool,
    filter: &EventFilter,
    after: Option<ListCursor>,
    limit: i64,
) -> Result<Vec<Event>, StoreError> {
    let mut q = filtered(filter)
        .select(Event::as_select())
        .order_by((events::event_timestamp.asc(), events::id.asc()))
        .limit(limit);
    if let Some(c) = after {
        // A row comparison, so that PostgreSQL walks the (…, event_timestamp, id) index.
        q = q.filter(
            sql::<Bool>("(events.event_timestamp, events.id) > (")
                .bind::<Timestamptz, _>(c.event_timestamp)
                .sql(", ")
                .bind::<BigInt, _>(c.id)
                .sql(")"),
        );
    }
    let mut conn = connection(pool).await?;
    Ok(q.load(&mut conn).await?)
}

/// Every stored event's id: for tests and benchmarks that check exactly-once.
pub async fn count(pool: &PgPool) -> Result<i64, StoreError> {
    let mut conn = connection(pool).await?;
    Ok(events::table.count().get_result(&mut conn).await?)
}
