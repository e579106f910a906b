//! The `api_keys` table, the same in both modules' databases (their migrations create it).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, Bytea, Int4, Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::Scope;
use crate::db::PgPool;

#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    #[error("the keys' database is unavailable: {0}")]
    Unavailable(String),
    #[error("a key named {0:?} exists already")]
    NameTaken(String),
    #[error("query on the keys' table failed: {0}")]
    Query(#[from] diesel::result::Error),
}

/// A key as stored: everything but the key itself.
#[derive(Debug, Clone, PartialEq, QueryableByName)]
pub struct KeyRow {
    #[diesel(sql_type = Text)]
    pub id: String,
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = diesel::sql_types::Bytea)]
    pub secret_sha256: Vec<u8>,
    #[diesel(sql_type = Array<Text>)]
    pub scopes: Vec<String>,
    #[diesel(sql_type = Nullable<Array<Int4>>)]
    pub hotels: Option<Vec<i32>>,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub last_used_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub revoked_at: Option<DateTime<Utc>>,
}

impl KeyRow {
    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes.iter().any(|s| s == scope.name())
    }
}

/// A key to store.
pub struct NewKeyRow<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub secret_sha256: &'a [u8; 32],
    pub scopes: &'a [Scope],
    /// `None`: every hotel.
    pub hotels: Option<&'a [i32]>,
}

async fn connection(
    pool: &PgPool,
) -> Result<diesel_async::pooled_connection::deadpool::Object<AsyncPgConnection>, KeyStoreError> {
    pool.get()
        .await
        .map_err(|e| KeyStoreError::Unavailable(e.to_string()))
}

const COLUMNS: &str =
    "id, name, secret_sha256, scopes, hotels, created_at, last_used_at, revoked_at";

/// Every key, revoked ones included, oldest first.
pub async fn all(pool: &PgPool) -> Result<Vec<KeyRow>, KeyStoreError> {
    let mut conn = connection(pool).await?;
    Ok(diesel::sql_query(format!(
        "SELECT {COLUMNS} FROM api_keys ORDER BY created_at, id"
    ))
    .load(&mut conn)
    .await?)
}

pub async fn insert(pool: &PgPool, key: &NewKeyRow<'_>) -> Result<KeyRow, KeyStoreError> {
    let mut conn = connection(pool).await?;
    let scopes: Vec<&str> = key.scopes.iter().map(|s| s.name()).collect();
    diesel::sql_query(format!(
        "INSERT INTO api_keys (id, name, secret_sha256, scopes, hotels) \
         VALUES ($1, $2, $3, $4, $5) RETURNING {COLUMNS}"
    ))
    .bind::<Text, _>(key.id)
    .bind::<Text, _>(key.name)
    .bind::<Bytea, _>(key.secret_sha256.as_slice())
    .bind::<Array<Text>, _>(scopes)
    .bind::<Nullable<Array<Int4>>, _>(key.hotels)
    .get_result(&mut conn)
    .await
    .map_err(|e| match e {
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            ref info,
        ) if info.constraint_name() == Some("api_keys_name_key") => {
            KeyStoreError::NameTaken(key.name.to_string())
        }
        e => e.into(),
    })
}

/// Removes a key just created, when storing it in the other database failed: it was never
/// shown, so nobody holds it.
pub async fn delete(pool: &PgPool, id: &str) -> Result<(), KeyStoreError> {
    let mut conn = connection(pool).await?;
    diesel::sql_query("DELETE FROM api_keys WHERE id = $1")
        .bind::<Text, _>(id)
        .execute(&mut conn)
        .await?;
    Ok(())
}

/// What `revoke` found under a name or id.
#[derive(Debug, Clone, PartialEq)]
pub enum Revoked {
    /// Revoked now.
    Now(KeyRow),
    /// It was revoked already.
    Before(KeyRow),
    NotFound,
}

/// Revokes the key whose name or id is `which`.
pub async fn revoke(pool: &PgPool, which: &str) -> Result<Revoked, KeyStoreError> {
    let mut conn = connection(pool).await?;
    let now: Option<KeyRow> = diesel::sql_query(format!(
        "UPDATE api_keys SET revoked_at = now() \
         WHERE (id = $1 OR name = $1) AND revoked_at IS NULL RETURNING {COLUMNS}"
    ))
    .bind::<Text, _>(which)
    .get_result(&mut conn)
    .await
    .optional()?;
    if let Some(row) = now {
        return Ok(Revoked::Now(row));
    }
    let before: Option<KeyRow> = diesel::sql_query(format!(
        "SELECT {COLUMNS} FROM api_keys WHERE id = $1 OR name = $1"
    ))
    .bind::<Text, _>(which)
    .get_result(&mut conn)
    .await
    .optional()?;
    Ok(before.map_or(Revoked::NotFound, Revoked::Before))
}

/// Sets `last_used_at` of these keys to now (one statement for all).
pub async fn touch(pool: &PgPool, ids: &[String]) -> Result<(), KeyStoreError> {
    let mut conn = connection(pool).await?;
    diesel::sql_query("UPDATE api_keys SET last_used_at = now() WHERE id = ANY($1)")
        .bind::<Array<Text>, _>(ids)
        .execute(&mut conn)
        .await?;
    Ok(())
}
