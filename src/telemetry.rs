//! Logging: human-readable lines by default, JSON with `LOG_FORMAT=json`; `RUST_LOG` filters.

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        // tokio_postgres logs every server NOTICE at info, e.g. "relation … already exists, skipping"
        // at each start's migration check: noise that reads like a problem. The redis crate's
        // cluster client warns at each failed connection to a node, dozens a second while a
        // master is down; the queue's own retry lines say so once per backoff step.
        .unwrap_or_else(|_| EnvFilter::new("info,tower_http=warn,tokio_postgres=warn,redis=error"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let json = std::env::var("LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    // try_init: a second call (tests) keeps the first subscriber.
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
