//! Indexes added to the partitioned `events` table after it holds rows: a migration declares
//! them on the parent alone (a catalog change) and builds them on small partitions; this builds
//! the rest with `CREATE INDEX CONCURRENTLY`, which writers do not wait for and which a
//! migration's transaction cannot run, and attaches each to its parent. Once every partition has
//! its index the parent's becomes valid. Until then a partition without one answers through the
//! other indexes: slower, never wrong.

use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use tokio_util::sync::CancellationToken;

use crate::db::quote_identifier;

/// Why a build stopped; the next start tries again.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("cannot connect to the events database: {0}")]
    Connect(#[from] diesel::ConnectionError),
    #[error("building a partition's index failed: {0}")]
    Query(#[from] diesel::result::Error),
}

/// One index a partition lacks: its parent's name and definition, and the partition.
#[derive(diesel::QueryableByName, Debug)]
struct Missing {
    #[diesel(sql_type = Text)]
    parent: String,
    #[diesel(sql_type = Text)]
    partition: String,
    /// `pg_get_indexdef` from `USING` on: the method, the columns, the included ones.
    #[diesel(sql_type = Text)]
    method_and_columns: String,
}

/// The partitioned indexes of `events` not valid yet, with each partition that has no index
/// attached to them; not a partition that retention is detaching (it is about to be dropped,
/// and PostgreSQL refuses to attach to it).
const MISSING: &str = "\
    SELECT pc.relname::text AS parent, c.relname::text AS partition, \
           substring(pg_get_indexdef(pi.indexrelid) FROM ' USING .*$') AS method_and_columns \
      FROM pg_index pi \
      JOIN pg_class pc ON pc.oid = pi.indexrelid \
      JOIN pg_inherits part ON part.inhparent = 'events'::regclass AND NOT part.inhdetachpending \
      JOIN pg_class c ON c.oid = part.inhrelid \
     WHERE pi.indrelid = 'events'::regclass AND NOT pi.indisvalid \
       AND NOT EXISTS ( \
           SELECT 1 FROM pg_inherits ci JOIN pg_index x ON x.indexrelid = ci.inhrelid \
            WHERE ci.inhparent = pi.indexrelid AND x.indrelid = part.inhrelid) \
     ORDER BY 1, 2";

/// The session lock that keeps a second process from building the same index at once.
const LOCK: &str = "roompulse_partition_indexes";

/// Builds and attaches every missing partition index; returns how many it built (0 as well
/// when another process holds the lock and builds them). Stops between two builds on
/// `shutdown`.
pub async fn build_missing(url: &str, shutdown: &CancellationToken) -> Result<usize, BuildError> {
    let mut conn = AsyncPgConnection::establish(url).await?;
    let locked: Locked = diesel::sql_query("SELECT pg_try_advisory_lock(hashtext($1)) AS ok")
        .bind::<Text, _>(LOCK)
        .get_result(&mut conn)
        .await?;
    if !locked.ok {
        return Ok(0);
    }
    let mut built = 0;
    // Listed again after each build: retention may have dropped a partition meanwhile, and
    // writers attached new ones (which come with the index).
    while !shutdown.is_cancelled() {
        let missing: Vec<Missing> = diesel::sql_query(MISSING).load(&mut conn).await?;
        let Some(m) = missing.into_iter().next() else {
            break;
        };
        build_one(&mut conn, &m).await?;
        built += 1;
    }
    Ok(built)
}

#[derive(diesel::QueryableByName)]
struct Locked {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    ok: bool,
}

async fn build_one(conn: &mut AsyncPgConnection, m: &Missing) -> Result<(), BuildError> {
    // Named for the partition and the parent (within PostgreSQL's 63 bytes): a build stopped
    // half way leaves an invalid index of that name, dropped before building it again.
    let suffix = m.parent.trim_start_matches("events_");
    let name = format!("{}_{}", truncate(&m.partition, 30), truncate(suffix, 32));
    let name = quote_identifier(&name);
    let partition = quote_identifier(&m.partition);
    tracing::info!(index = %m.parent, partition = %m.partition, "building a partition's index");
    diesel::sql_query(format!("DROP INDEX CONCURRENTLY IF EXISTS {name}"))
        .execute(conn)
        .await?;
    diesel::sql_query(format!(
        "CREATE INDEX CONCURRENTLY {name} ON {partition}{}",
        m.method_and_columns
    ))
    .execute(conn)
    .await?;
    diesel::sql_query(format!(
        "ALTER INDEX {} ATTACH PARTITION {name}",
        quote_identifier(&m.parent)
    ))
    .execute(conn)
    .await?;
    Ok(())
}

/// At most `max` bytes of `s`, cut at a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Runs `build_missing` in the background, logging the outcome: the service starts at once and
/// answers through the other indexes meanwhile.
pub fn build_in_background(url: String, shutdown: CancellationToken) {
    tokio::spawn(async move {
        match build_missing(&url, &shutdown).await {
            Ok(0) => {}
            Ok(built) => tracing::info!(built, "built the partitions' missing indexes"),
            Err(e) => {
                tracing::warn!(error = %e, "partition indexes left unbuilt until the next start")
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::truncate;

    #[test]
    fn truncation_keeps_whole_characters() {
        assert_eq!(truncate("events_from_1", 30), "events_from_1");
        assert_eq!(truncate("abcdef", 3), "abc");
        assert_eq!(truncate("aé", 2), "a");
    }
}
