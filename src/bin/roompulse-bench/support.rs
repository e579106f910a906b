//! What every measurement of the bench shares: its error, scratch databases beside the
//! configured ones, and a plain PostgreSQL client for administration.

use roompulse::data_provider::store::pg_error;

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BenchError(pub String);

pub fn fail(what: &str) -> impl Fn(&dyn std::fmt::Display) -> BenchError + '_ {
    move |e| BenchError(format!("{what}: {e}"))
}

/// The scratch database URL beside the configured one.
pub fn scratch_url(base: &str, name: &str) -> Result<String, BenchError> {
    let mut url = url::Url::parse(base).map_err(|e| fail("database URL")(&e))?;
    url.set_path(&format!("/{name}"));
    Ok(url.to_string())
}

pub async fn admin_client(url: &str) -> Result<tokio_postgres::Client, BenchError> {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .map_err(|e| fail("connect to PostgreSQL")(&pg_error(&e)))?;
    tokio::spawn(conn);
    Ok(client)
}
