//! What every measurement of the bench shares: its error, scratch databases beside the
//! configured ones, and a plain PostgreSQL client for administration.

use roompulse::app::{router, AppState};
use roompulse::db::pg_error;
use tokio_util::sync::CancellationToken;

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

/// Serves the whole API (`serve`'s router on `state`) on a free loopback port until `stop`;
/// its base URL and the server task.
pub async fn serve_on_loopback(
    state: AppState,
    stop: &CancellationToken,
) -> Result<(String, tokio::task::JoinHandle<()>), BenchError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| fail("bind")(&e))?;
    let base_url = format!(
        "http://{}",
        listener.local_addr().map_err(|e| fail("bind")(&e))?
    );
    let stop = stop.clone();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router(state))
            .with_graceful_shutdown(stop.cancelled_owned())
            .await;
    });
    Ok((base_url, server))
}
