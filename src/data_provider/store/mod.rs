//! Queries on the events table: store one event, store a batch exactly once, list a page.

mod claim;
mod copy;
mod list;
mod write;

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::schema::events;
use crate::db::PgPool;

/// The most rows one `GET /events` page holds, listed or from the feed.
pub const MAX_LIMIT: i64 = 10_000;

pub use copy::{copy_events, CopyConnection};
pub use list::{list, list_explained, EventFilter, ListCursor, Plans};
pub(super) use list::{Bind, UnpreparedQuery, EVENT_COLUMNS};
pub use write::{insert_batch, insert_one, is_retired, Inserted, Stored};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the events database is unavailable: {0}")]
    Unavailable(String),
    #[error("query on the events database failed: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("COPY into the events table failed: {}", crate::db::pg_error(.0))]
    Copy(#[from] tokio_postgres::Error),
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

/// Refreshes the planner's statistics of `events`, as PostgreSQL's documentation advises after
/// a bulk load: until autovacuum gets to it (never, where it is off) a freshly loaded table has
/// none, and the night filters' per-night reads may then be planned on the hotel index, reading
/// the whole hotel once per night (seconds to minutes instead of milliseconds). ANALYZE samples
/// a bounded number of rows whatever the table's size. One process at a time: `false` when
/// another holds the turn.
pub async fn analyze(pool: &PgPool) -> Result<bool, StoreError> {
    use diesel_async::AsyncConnection;
    #[derive(diesel::QueryableByName)]
    struct Turn {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        turn: bool,
    }
    let mut conn = connection(pool).await?;
    let ran = conn
        .transaction::<_, diesel::result::Error, _>(|conn| {
            Box::pin(async move {
                let t: Turn = diesel::sql_query(
                    "SELECT pg_try_advisory_xact_lock(hashtext('roompulse-analyze-events')) AS turn",
                )
                .get_result(conn)
                .await?;
                if t.turn {
                    diesel::sql_query("ANALYZE events").execute(conn).await?;
                }
                Ok(t.turn)
            })
        })
        .await?;
    Ok(ran)
}

/// How many events are stored: for tests and benchmarks that check exactly-once.
pub async fn count(pool: &PgPool) -> Result<i64, StoreError> {
    let mut conn = connection(pool).await?;
    Ok(events::table.count().get_result(&mut conn).await?)
}
