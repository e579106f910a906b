//! The Data Provider's gauges for `/metrics` and `/ready`: the queue's lists and the
//! transaction the change feed waits for. Each reading is bounded by `READ_TIMEOUT`, so a
//! dependency that hangs costs a scrape two seconds, not forever.

use std::time::Duration;

use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use serde::Serialize;
use utoipa::ToSchema;

use super::queue::{Queue, QueueError};
use super::store;
use crate::db::PgPool;

/// How long one reading may take.
pub const READ_TIMEOUT: Duration = Duration::from_secs(2);

pub struct QueueGauges {
    pub queued: i64,
    pub in_flight: i64,
    pub dead: i64,
}

/// Messages waiting, in flight and dead, read at once.
pub async fn queue_gauges(queue: &Queue) -> Result<QueueGauges, String> {
    let read = async {
        // One atomic read for both lists: a batch moving between them is counted once.
        let backlog = queue.backlog().await?;
        let dead = queue.dead_depth().await?;
        Ok::<_, QueueError>(QueueGauges {
            queued: backlog.queued,
            in_flight: backlog.in_flight,
            dead,
        })
    };
    match tokio::time::timeout(READ_TIMEOUT, read).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err(format!("no answer within {READ_TIMEOUT:?}")),
    }
}

/// The transaction the change feed waits for: the oldest on the events database's server that
/// holds a transaction id.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FeedBlocker {
    /// The database the transaction runs in (the events database, or any for a prepared one).
    #[schema(example = "roompulse_data_provider")]
    pub database: Option<String>,
    /// The session's `application_name`; for a prepared transaction, its global id.
    #[schema(example = "psql")]
    pub application_name: String,
    /// The server process (`pg_terminate_backend` ends it); none for a prepared transaction.
    #[schema(example = 4242)]
    pub pid: Option<i32>,
    /// How long the transaction has been running.
    #[schema(example = 75.0)]
    pub age_seconds: f64,
}

#[derive(QueryableByName)]
struct OldestTransaction {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    database: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Text)]
    application_name: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Integer>)]
    pid: Option<i32>,
    #[diesel(sql_type = diesel::sql_types::Double)]
    age_seconds: f64,
}

/// The transaction the change feed waits for: the one holding the oldest transaction id in the
/// events database, or a prepared transaction (which the feed cannot place, so it waits for any:
/// see `feed::HORIZON`). Other roles' sessions show their transaction ids only to superusers and
/// members of `pg_monitor` (or `pg_read_all_stats`).
pub async fn feed_horizon(events_db: &PgPool) -> Result<Option<FeedBlocker>, String> {
    let read = async {
        let mut conn = store::connection(events_db).await?;
        let oldest: Vec<OldestTransaction> = diesel::sql_query(
            "SELECT database, application_name, pid, \
                    GREATEST(EXTRACT(EPOCH FROM clock_timestamp() - began), 0)::float8 AS age_seconds \
             FROM ( \
                 SELECT datname::text AS database, COALESCE(application_name, '') AS application_name, pid, xact_start AS began, \
                        age(backend_xid) AS xid_age \
                 FROM pg_stat_activity \
                 WHERE backend_xid IS NOT NULL AND xact_start IS NOT NULL \
                   AND datname = current_database() \
                 UNION ALL \
                 SELECT database::text, 'prepared transaction ' || gid, NULL, prepared, \
                        age(transaction) \
                 FROM pg_prepared_xacts \
             ) AS running \
             ORDER BY xid_age DESC \
             LIMIT 1",
        )
        .load(&mut conn)
        .await?;
        Ok::<_, store::StoreError>(oldest.into_iter().next().map(|t| FeedBlocker {
            database: t.database,
            application_name: t.application_name,
            pid: t.pid,
            age_seconds: t.age_seconds,
        }))
    };
    match tokio::time::timeout(READ_TIMEOUT, read).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err(format!("no answer within {READ_TIMEOUT:?}")),
    }
}
