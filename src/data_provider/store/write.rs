//! Writes: one posted event, and a batch exactly once.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Date, Int4, SmallInt, Timestamptz};
use diesel_async::scoped_futures::ScopedFutureExt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::{claim, connection, StoreError};
use crate::data_provider::event::{Event, NewEvent};
use crate::data_provider::schema::events;
use crate::db::PgPool;

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
    let (event, assigned) = match new.id {
        Some(id) => (new.with_id(id), false),
        None => {
            let id: i64 = diesel::select(sql::<BigInt>("nextval('events_assigned_id_seq')"))
                .get_result(&mut conn)
                .await?;
            (new.with_id(id), true)
        }
    };
    let id = event.id;
    let inserted = if !assigned && id >= crate::data_provider::event::ASSIGNED_ID_FLOOR {
        0 // only a replay of an event the service stored itself can carry such an id
    } else {
        // A stored or retired id is skipped (its claim finds it); an id just assigned is new.
        insert_batch(&mut conn, std::slice::from_ref(&event))
            .await?
            .rows
    };
    if inserted == 1 {
        return Ok(Stored::Created(event));
    }
    let stored = events::table
        .filter(events::id.eq(id))
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

/// Creates partitions of the events table so that a whole empty one lies ahead of `incoming`
/// more rows (migration `partition_events_by_arrival`): a look at the arrival sequence and the
/// catalog when they are there already. Call it outside the writing transaction: attaching a
/// partition holds a lock on `events` until commit.
pub async fn add_partitions(
    conn: &mut AsyncPgConnection,
    incoming: usize,
) -> Result<(), diesel::result::Error> {
    diesel::sql_query("SELECT roompulse_add_event_partitions($1)")
        .bind::<BigInt, _>(incoming as i64)
        .execute(conn)
        .await?;
    Ok(())
}

/// Whether a write failed because no partition takes its rows' arrivals: ingest outran the
/// partitions kept ahead (writers other than the workers check for room only then).
fn no_partition(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::CheckViolation, info)
            if info.message().starts_with("no partition of relation")
    )
}

/// Whether `roompulse retention` has deleted the event stored under `id`: row by row (the id is
/// in `retired_event_ids`), or with its whole partition (the id is claimed and its event gone).
pub async fn is_retired(conn: &mut AsyncPgConnection, id: i64) -> Result<bool, StoreError> {
    Ok(diesel::select(
        sql::<Bool>("EXISTS (SELECT 1 FROM retired_event_ids WHERE id = ")
            .bind::<BigInt, _>(id)
            .sql(") OR (EXISTS (SELECT 1 FROM event_ids WHERE id = ")
            .bind::<BigInt, _>(id)
            .sql(") AND NOT EXISTS (SELECT 1 FROM events WHERE id = ")
            .bind::<BigInt, _>(id)
            .sql("))"),
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
/// dashboard has counted them). The ids are claimed in the same statement that stores the rows
/// (`claim::CLAIM_AND_INSERT`), so a concurrent writer or retention run cannot slip between.
pub async fn insert_batch(
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
    let columns = BatchColumns::new(order.iter().map(|&i| &batch[i]));

    let columns = &columns;
    let mut attempts = 0;
    let (rows, conflicts) = loop {
        let stored = conn
        .transaction::<_, diesel::result::Error, _>(|conn| {
            async move {
                diesel::sql_query(claim::IDS_CLAIMED).execute(conn).await?;
                // One feed position for the whole batch (a CTE with a volatile function is
                // evaluated once), not once per row as the column default would be.
                let inserted = columns
                    .bind(diesel::sql_query(claim::CLAIM_AND_INSERT))
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
        .await;
        match stored {
            Err(e) if attempts == 0 && no_partition(&e) => {
                attempts += 1;
                add_partitions(conn, columns.ids.len()).await?;
            }
            other => break other?,
        }
    };
    let mut positions: Vec<usize> = conflicts.iter().map(|r| order[r.ord as usize]).collect();
    positions.sort_unstable();
    Ok(Inserted {
        rows,
        conflicts: positions,
    })
}
#[derive(QueryableByName)]
struct Ordinal {
    #[diesel(sql_type = BigInt)]
    ord: i64,
}

/// A batch as column arrays, the shape `unnest` takes.
struct BatchColumns {
    ids: Vec<i64>,
    hotel_ids: Vec<i32>,
    timestamps: Vec<DateTime<Utc>>,
    statuses: Vec<i16>,
    reservations: Vec<Uuid>,
    nights: Vec<NaiveDate>,
}

impl BatchColumns {
    fn new<'a>(events: impl ExactSizeIterator<Item = &'a Event>) -> Self {
        let n = events.len();
        let mut c = BatchColumns {
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
