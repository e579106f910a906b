//! Queries on the events table: store one event, store a batch exactly once, list a page.

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

/// How many events are stored: for tests and benchmarks that check exactly-once.
pub async fn count(pool: &PgPool) -> Result<i64, StoreError> {
    let mut conn = connection(pool).await?;
    Ok(events::table.count().get_result(&mut conn).await?)
}
