//! PostgreSQL: connection pools, creating a database that does not exist yet, and the two
//! embedded migration sets (one per module, each module owning its database); `listen` —
//! waiting for commits through `LISTEN`; `replica` — read-only queries on a hot standby;
//! `prepared` — hand-written SQL kept prepared.

pub mod listen;
pub mod prepared;
pub mod replica;

use std::time::Duration;

use diesel::sql_types::Text;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use futures_util::FutureExt;

use crate::config::redact_url;

pub type PgPool = Pool<AsyncPgConnection>;

pub const DATA_PROVIDER_MIGRATIONS: EmbeddedMigrations =
    embed_migrations!("migrations_data_provider");
pub const DASHBOARD_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations_dashboard");

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot reach PostgreSQL at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("bad database URL {url}: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("cannot create database {name} at {url}: {reason}")]
    Create {
        name: String,
        url: String,
        reason: String,
    },
    #[error("migrating {url} failed: {reason}")]
    Migrate { url: String, reason: String },
}

/// A pool whose connections are opened lazily; `wait` bounds how long a request waits for one.
pub fn pool(url: &str, size: u32) -> Result<PgPool, DbError> {
    // Fast recycling: a checked-out connection is not pinged with `SELECT 1` first (a round
    // trip on every request). A connection the server closed (restart, terminated backend) is
    // already known as closed and dropped by the pool; one that broke silently fails its first
    // query, which the callers treat as transient.
    let mut config = ManagerConfig::default();
    config.recycling_method = RecyclingMethod::Fast;
    config.custom_setup = Box::new(|url| {
        async move {
            let mut conn = AsyncPgConnection::establish(url).await?;
            // Every query the services run answers one request or one batch in a few ms.
            // PostgreSQL nevertheless plans a union of two small index scans (the pace view)
            // as a Parallel Append, whose worker start-up costs several times the scans;
            // a table's `parallel_workers = 0` does not prevent that. So no parallel plans on
            // the services' connections. Nor JIT compilation: a statement over many partitions
            // (the night merge: nights × partitions index scans) is costed above
            // `jit_above_cost`, and compiling its expressions took ~400 ms of a 13 ms statement
            // (BENCHMARKS.md, "GET /events filters").
            conn.batch_execute("SET max_parallel_workers_per_gather = 0; SET jit = off")
                .await
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
            Ok(conn)
        }
        .boxed()
    });
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(url, config);
    Pool::builder(manager)
        .max_size(size as usize)
        .wait_timeout(Some(Duration::from_secs(5)))
        .create_timeout(Some(Duration::from_secs(5)))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .map_err(|e| DbError::BadUrl {
            url: redact_url(url),
            reason: e.to_string(),
        })
}

/// Splits `postgres://…/name?x` into the database name and the same URL pointing at the
/// `postgres` maintenance database.
fn maintenance_url(url: &str) -> Result<(String, String), DbError> {
    let bad = |reason: &str| DbError::BadUrl {
        url: redact_url(url),
        reason: reason.to_string(),
    };
    let mut parsed = url::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
    let name = parsed.path().trim_start_matches('/').to_string();
    if name.is_empty() {
        return Err(bad("it names no database"));
    }
    let name = percent_decode(&name);
    parsed.set_path("/postgres");
    Ok((name, parsed.to_string()))
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_string())
}

async fn connect(url: &str) -> Result<AsyncPgConnection, diesel::ConnectionError> {
    tokio::time::timeout(Duration::from_secs(10), AsyncPgConnection::establish(url))
        .await
        .unwrap_or_else(|_| {
            Err(diesel::ConnectionError::BadConnection(
                "timed out after 10 s".into(),
            ))
        })
}

/// Creates the database `url` names when it does not exist yet. Safe to race: a concurrent
/// creator wins and this one carries on.
pub async fn create_if_missing(url: &str) -> Result<(), DbError> {
    let (name, admin_url) = maintenance_url(url)?;
    match connect(url).await {
        Ok(_) => return Ok(()),
        Err(e) if !e.to_string().contains("does not exist") => {
            return Err(DbError::Unreachable {
                url: redact_url(url),
                reason: e.to_string().trim().to_string(),
            })
        }
        Err(_) => {}
    }
    let mut admin = connect(&admin_url)
        .await
        .map_err(|e| DbError::Unreachable {
            url: redact_url(&admin_url),
            reason: e.to_string().trim().to_string(),
        })?;
    let create = format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\""));
    match diesel::sql_query(create).execute(&mut admin).await {
        Ok(_) => {
            tracing::info!(database = %name, "created database");
            Ok(())
        }
        // A concurrent creator got there first: PostgreSQL says "already exists" when that
        // creation had committed, and raises a unique violation on pg_database when both were
        // in flight at once.
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Ok(()),
        Err(e) if e.to_string().contains("already exists") => Ok(()),
        Err(e) => Err(DbError::Create {
            name,
            url: redact_url(url),
            reason: e.to_string(),
        }),
    }
}

/// Creates the database if needed and runs `migrations`, holding an advisory lock so that two
/// processes starting together do not both migrate.
pub async fn migrate(url: &str, migrations: EmbeddedMigrations) -> Result<(), DbError> {
    create_if_missing(url).await?;
    let conn = connect(url).await.map_err(|e| DbError::Unreachable {
        url: redact_url(url),
        reason: e.to_string().trim().to_string(),
    })?;
    let redacted = redact_url(url);
    let fail = move |reason: String| DbError::Migrate {
        url: redacted.clone(),
        reason,
    };
    // diesel_migrations is synchronous: it runs on a blocking thread through diesel-async's
    // wrapper, so no libpq is needed.
    tokio::task::spawn_blocking(move || {
        let mut conn: AsyncConnectionWrapper<AsyncPgConnection> = conn.into();
        let lock = diesel::sql_query("SELECT pg_advisory_lock(hashtext($1)::bigint)")
            .bind::<Text, _>("roompulse-migrations");
        diesel::RunQueryDsl::execute(lock, &mut conn).map_err(|e| e.to_string())?;
        let result = conn
            .run_pending_migrations(migrations)
            .map(|done| done.len())
            .map_err(|e| e.to_string());
        let unlock = diesel::sql_query("SELECT pg_advisory_unlock(hashtext($1)::bigint)")
            .bind::<Text, _>("roompulse-migrations");
        let _ = diesel::RunQueryDsl::execute(unlock, &mut conn);
        result
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r)
    .map(|applied| {
        if applied > 0 {
            tracing::info!(applied, "ran migrations");
        }
    })
    .map_err(fail)
}

/// `name` as an SQL identifier, whatever it holds (for names read from the catalog; never for
/// input).
pub fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Whether a query failed for a reason worth retrying the same work for (or answering 503
/// rather than 500): the server or the connection went away, or a concurrent transaction got in
/// the way. Anything else is a bug or bad data. Both modules' stores ask this.
pub fn is_transient(e: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind as K, Error as E};
    match e {
        E::DatabaseError(kind, info) => {
            matches!(
                kind,
                K::ClosedConnection | K::SerializationFailure | K::UnableToSendCommand
            ) || info.message().contains("deadlock")
                || info.message().contains("terminating connection")
        }
        E::BrokenTransactionManager => true,
        _ => false,
    }
}

/// The same for a SQLSTATE (tokio-postgres' errors); `None`: no state, the connection or the
/// server went away.
pub fn is_transient_sqlstate(code: Option<&str>) -> bool {
    match code {
        None => true,
        // 08 connection exception, 57 operator intervention (shutdown), 40 transaction
        // rollback (serialization failure, deadlock), 53 insufficient resources.
        Some(code) => matches!(code.get(..2), Some("08" | "57" | "40" | "53")),
    }
}

/// tokio-postgres says only "db error" for a server's error; this gives its message.
pub fn pg_error(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    }
}

/// Runs `SELECT 1` on a pooled connection: the readiness probe.
pub async fn ping(pool: &PgPool) -> Result<(), String> {
    let mut conn = pool.get().await.map_err(|e| e.to_string())?;
    diesel::sql_query("SELECT 1::bigint AS one")
        .execute(&mut conn)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}
