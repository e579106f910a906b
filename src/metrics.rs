//! `GET /metrics`: Prometheus text exposition, every name prefixed `roompulse_`.
//!
//! Two kinds of figures:
//! - Counters and histograms of what this process did (events stored by its workers, dead
//!   letters, sync passes, HTTP requests). They go through the `metrics` facade into one
//!   process-wide recorder, installed once (`install`).
//! - Gauges of shared state (queue depths, sync lag, the change feed's horizon), read from Redis
//!   and PostgreSQL by the modules that own them and assembled by `ops` (one reading at a time,
//!   at most one per `METRICS_REFRESH_MS`, however many scrapers). They are written straight
//!   into the response (`gauge`) rather than set on the global recorder: two apps in one
//!   process (the tests) would otherwise overwrite each other's queue depth between setting and
//!   rendering.
//!
//! This file holds the names, the recorder and the HTTP middleware; each module records its
//! own counters.
//!
//! Why `metrics` + `metrics-exporter-prometheus` rather than the `prometheus` crate: the call
//! sites stay one macro each with no registry to pass around, and the exporter renders on
//! demand, so the endpoint is an ordinary route on the API's port.

use std::fmt::Write as _;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub const EVENTS_STORED: &str = "roompulse_events_stored_total";
pub const EVENTS_DUPLICATES: &str = "roompulse_events_duplicates_total";
pub const DEAD_LETTERS: &str = "roompulse_dead_letters_total";
pub const BATCH_SIZE: &str = "roompulse_worker_batch_size";
pub const STORE_SECONDS: &str = "roompulse_worker_store_seconds";
pub const SYNC_PASSES: &str = "roompulse_sync_passes_total";
pub const SYNC_EVENTS: &str = "roompulse_sync_events_total";
pub const HTTP_REQUESTS: &str = "roompulse_http_requests_total";
pub const HTTP_DURATION: &str = "roompulse_http_request_duration_seconds";
pub const REQUESTS_REFUSED: &str = "roompulse_requests_refused_total";

/// Without upkeep, histogram samples pile up in memory until the next scrape; a process nobody
/// scrapes would grow without bound.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide recorder the first time; later calls (several apps in one test
/// process) get the same handle. `None` when another recorder was installed first: the
/// scrape-time gauges are still served.
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| match build() {
            Ok(handle) => {
                describe();
                let upkeep = handle.clone();
                let spawned = std::thread::Builder::new()
                    .name("metrics-upkeep".into())
                    .spawn(move || loop {
                        std::thread::sleep(UPKEEP_EVERY);
                        upkeep.run_upkeep();
                    });
                if let Err(e) = spawned {
                    tracing::warn!(error = %e, "no metrics upkeep thread; histograms are compacted at each scrape only");
                }
                Some(handle)
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot install the metrics recorder; /metrics serves the queue and sync gauges only");
                None
            }
        })
        .as_ref()
}

fn build() -> Result<PrometheusHandle, metrics_exporter_prometheus::BuildError> {
    // Without buckets the exporter renders histograms as summaries, which cannot be
    // aggregated across processes.
    let seconds = [
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    ];
    let sizes = [
        1.0, 10.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0,
    ];
    PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(BATCH_SIZE.into()), &sizes)?
        .set_buckets_for_metric(Matcher::Full(STORE_SECONDS.into()), &seconds)?
        .set_buckets_for_metric(Matcher::Full(HTTP_DURATION.into()), &seconds)?
        .install_recorder()
}

fn describe() {
    use ::metrics::{describe_counter, describe_histogram, Unit};
    describe_counter!(
        EVENTS_STORED,
        Unit::Count,
        "Events this process added to the events table (queue workers and POST /events); an event already stored is not counted again."
    );
    describe_counter!(
        EVENTS_DUPLICATES,
        Unit::Count,
        "Events this process received that were already stored with the same content (a file loaded again, a redelivered batch, a repeated POST), and dropped."
    );
    describe_counter!(
        DEAD_LETTERS,
        Unit::Count,
        "Queue messages this process's workers moved to the dead-letter list, by reason."
    );
    describe_histogram!(BATCH_SIZE, Unit::Count, "Messages per worker batch.");
    describe_histogram!(
        STORE_SECONDS,
        Unit::Seconds,
        "Time to store one worker batch in PostgreSQL, retries included."
    );
    describe_counter!(
        SYNC_PASSES,
        Unit::Count,
        "Dashboard sync passes run by this process, by outcome."
    );
    describe_counter!(
        SYNC_EVENTS,
        Unit::Count,
        "Events counted into the dashboard by this process's sync passes."
    );
    describe_counter!(HTTP_REQUESTS, Unit::Count, "HTTP requests answered.");
    describe_counter!(
        REQUESTS_REFUSED,
        Unit::Count,
        "Requests answered 503 at once because their allowance was in use: kind `long_poll` (GET /events with wait), `own_sync` (this process's dashboard sync), `other`."
    );
    describe_histogram!(HTTP_DURATION, Unit::Seconds, "HTTP request latency.");
    // Known label values start at 0, so that rate() sees the first increment and dashboards
    // show the series before anything happened.
    ::metrics::counter!(EVENTS_STORED).increment(0);
    ::metrics::counter!(EVENTS_DUPLICATES).increment(0);
    ::metrics::counter!(SYNC_EVENTS).increment(0);
    for reason in ["invalid", "conflict", "refused"] {
        ::metrics::counter!(DEAD_LETTERS, "reason" => reason).increment(0);
    }
    for outcome in ["synced", "skipped", "failed"] {
        ::metrics::counter!(SYNC_PASSES, "outcome" => outcome).increment(0);
    }
}

/// Middleware: counts and times every request by its route template (`MatchedPath`), so that
/// `/events?cursor=…` or a scanner's random paths cannot mint new series.
pub async fn track_http(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = method_label(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    let elapsed = started.elapsed().as_secs_f64();
    let status = response.status().as_u16().to_string();
    ::metrics::counter!(HTTP_REQUESTS, "route" => route.clone(), "method" => method, "status" => status)
        .increment(1);
    ::metrics::histogram!(HTTP_DURATION, "route" => route, "method" => method).record(elapsed);
    response
}

/// Extension methods are free-form text: folding them keeps the label bounded.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// One gauge in the text exposition format, with its help line.
pub fn gauge(body: &mut String, name: &str, help: &str, value: impl std::fmt::Display) {
    let _ = writeln!(
        body,
        "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        let custom = Method::from_bytes(b"PURGE").unwrap();
        assert_eq!(method_label(&custom), "other");
    }
}
