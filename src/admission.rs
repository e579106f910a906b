//! Which requests the process takes on at once, and which it turns away with 503 and
//! `Retry-After`, rather than queueing without bound.
//!
//! Three kinds of request draw on three separate allowances, so that none can starve another:
//! - long polls of the change feed (`GET /events?…&wait=…`), at most half of
//!   MAX_CONCURRENT_REQUESTS: they last up to 30 s, and clients re-issue them at once;
//! - this process's own dashboard sync (it presents the process's secret, see `auth::Auth`), a
//!   few requests of its own: however many long polls clients hold, the figures stay fresh;
//! - everything else, MAX_CONCURRENT_REQUESTS.
//!
//! A refusal is logged once a second at most, with the number refused since the last line:
//! a client hammering a full service must not flood the log.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use crate::error::ApiError;

/// Requests of the process's own sync served at once beyond every other limit: its follower
/// holds one long poll, a schedule pass may overlap it.
const OWN_SYNC: usize = 4;

#[derive(Clone)]
pub struct Admission {
    requests: Arc<Semaphore>,
    long_polls: Arc<Semaphore>,
    own_sync: Arc<Semaphore>,
    max: usize,
    /// The secret this process's own dashboard sync presents (`None`: nobody is reserved for).
    process_secret: Option<crate::auth::Secret>,
    refusals: Arc<Refusals>,
}

/// Which allowance a request draws on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    LongPoll,
    OwnSync,
    Other,
}

impl Admission {
    /// `max` requests at once (MAX_CONCURRENT_REQUESTS), plus half as many long polls, plus a
    /// few for the sync presenting `process_secret`.
    pub fn new(max: usize, process_secret: Option<crate::auth::Secret>) -> Self {
        let max = max.max(1);
        Self {
            requests: Arc::new(Semaphore::new(max)),
            long_polls: Arc::new(Semaphore::new((max / 2).max(1))),
            own_sync: Arc::new(Semaphore::new(OWN_SYNC)),
            max,
            process_secret,
            refusals: Arc::new(Refusals::default()),
        }
    }

    /// The allowance `request` draws on.
    pub fn kind(&self, request: &Request) -> Kind {
        let own = self.process_secret.as_ref().is_some_and(|secret| {
            request
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(crate::auth::bearer)
                .is_some_and(|given| {
                    crate::auth::constant_time_eq(
                        given.as_bytes(),
                        secrecy::ExposeSecret::expose_secret(secret.as_ref()).as_bytes(),
                    )
                })
        });
        if own {
            Kind::OwnSync
        } else if is_long_poll(request) {
            Kind::LongPoll
        } else {
            Kind::Other
        }
    }
}

/// `GET /events` with a non-empty `wait`: a request that may be held for up to 30 s.
fn is_long_poll(request: &Request) -> bool {
    request.method() == Method::GET
        && request.uri().path().trim_end_matches('/') == "/events"
        && request.uri().query().is_some_and(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .any(|(k, v)| k == "wait" && !v.trim().is_empty())
        })
}

/// The middleware: takes a permit of the request's allowance for as long as it runs, or
/// answers 503 at once.
pub async fn admit(State(admission): State<Admission>, request: Request, next: Next) -> Response {
    let kind = admission.kind(&request);
    let allowance = match kind {
        Kind::LongPoll => &admission.long_polls,
        Kind::OwnSync => &admission.own_sync,
        Kind::Other => &admission.requests,
    };
    let Ok(_permit) = allowance.clone().try_acquire_owned() else {
        admission.refusals.refused(kind);
        let message = match kind {
            Kind::LongPoll => format!(
                "{} requests are already waiting for new events; retry shortly, or without `wait`",
                (admission.max / 2).max(1)
            ),
            _ => "the service is at its limit of concurrent requests; retry shortly".to_string(),
        };
        let (status, body) = ApiError::Unavailable(message).into_parts();
        let mut response = (status, axum::Json(body)).into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return response;
    };
    next.run(request).await
}

/// The refusals not logged yet, and when the last line was written.
#[derive(Default)]
struct Refusals {
    unlogged: AtomicU64,
    last_line: Mutex<Option<Instant>>,
}

const LOG_EVERY: Duration = Duration::from_secs(1);

impl Refusals {
    fn refused(&self, kind: Kind) {
        ::metrics::counter!(crate::metrics::REQUESTS_REFUSED, "kind" => kind.label()).increment(1);
        let Some(refused) = self.count(Instant::now()) else {
            return;
        };
        tracing::warn!(
            refused,
            last_kind = kind.label(),
            "turning requests away: the service is at its limit of concurrent requests (503 with Retry-After; one line a second at most)"
        );
    }
}

impl Refusals {
    /// Counts one refusal at `now`; the number to log when a line is due.
    fn count(&self, now: Instant) -> Option<u64> {
        self.unlogged.fetch_add(1, Ordering::Relaxed);
        let mut last = self.last_line.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_some_and(|at| now.saturating_duration_since(at) < LOG_EVERY) {
            return None;
        }
        *last = Some(now);
        Some(self.unlogged.swap(0, Ordering::Relaxed))
    }
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::LongPoll => "long_poll",
            Kind::OwnSync => "own_sync",
            Kind::Other => "other",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: Method, uri: &str, auth: Option<&str>) -> Request {
        let mut b = Request::builder().method(method).uri(uri);
        if let Some(a) = auth {
            b = b.header(header::AUTHORIZATION, a);
        }
        b.body(axum::body::Body::empty()).expect("request")
    }

    #[test]
    fn refusals_are_logged_once_a_second_with_their_number() {
        let r = Refusals::default();
        let t0 = Instant::now();
        assert_eq!(r.count(t0), Some(1));
        let lines: Vec<Option<u64>> = (1..=999)
            .map(|i| r.count(t0 + Duration::from_micros(i)))
            .collect();
        assert!(lines.iter().all(Option::is_none));
        assert_eq!(r.count(t0 + LOG_EVERY), Some(1000));
    }

    #[test]
    fn requests_are_told_apart() {
        let a = Admission::new(10, Some(Arc::new("s3cret".into())));
        let kind = |m, u, h| a.kind(&request(m, u, h));
        assert_eq!(
            kind(Method::GET, "/events?order=stored&wait=25", None),
            Kind::LongPoll
        );
        assert_eq!(kind(Method::GET, "/events/?wait=1", None), Kind::LongPoll);
        assert_eq!(kind(Method::GET, "/events?wait=", None), Kind::Other);
        assert_eq!(kind(Method::GET, "/events?order=stored", None), Kind::Other);
        assert_eq!(kind(Method::POST, "/events?wait=5", None), Kind::Other);
        assert_eq!(kind(Method::GET, "/dashboard?wait=5", None), Kind::Other);
        assert_eq!(
            kind(
                Method::GET,
                "/events?order=stored&wait=25",
                Some("Bearer s3cret")
            ),
            Kind::OwnSync
        );
        assert_eq!(
            kind(
                Method::GET,
                "/events?order=stored&wait=25",
                Some("Bearer s3creT")
            ),
            Kind::LongPoll
        );
        let open = Admission::new(10, None);
        assert_eq!(
            open.kind(&request(Method::GET, "/events", Some("Bearer s3cret"))),
            Kind::Other
        );
    }
}
