//! Who may call the API: with `INGEST_API_TOKEN` set, writes (`POST /events`) need
//! `Authorization: Bearer <token>`; with `READ_API_TOKEN` set, reads of events and figures need
//! it too (the ingest token also reads). Health, readiness, metrics and the API documents stay
//! open, so that probes and Swagger UI work.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

#[derive(Clone, Default)]
pub struct Tokens {
    pub ingest: Option<Arc<str>>,
    pub read: Option<Arc<str>>,
}

impl std::fmt::Debug for Tokens {
    // Never print a secret, not even in a debug dump.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("ingest", &self.ingest.as_ref().map(|_| "***"))
            .field("read", &self.read.as_ref().map(|_| "***"))
            .finish()
    }
}

impl Tokens {
    pub fn new(ingest: Option<&str>, read: Option<&str>) -> Self {
        let keep = |t: Option<&str>| t.filter(|t| !t.is_empty()).map(Arc::from);
        Self {
            ingest: keep(ingest),
            read: keep(read),
        }
    }
}

/// Compares in time that depends only on the lengths, so a caller cannot find the token byte by
/// byte from response times.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn bearer(req: &Request) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The middleware on the event and dashboard routes.
pub async fn authorize(State(tokens): State<Tokens>, req: Request, next: Next) -> Response {
    let writes = req.method() == Method::POST;
    let accepted: Vec<&Arc<str>> = if writes {
        tokens.ingest.iter().collect()
    } else if tokens.read.is_some() {
        // A client trusted to write may read too.
        tokens.read.iter().chain(tokens.ingest.iter()).collect()
    } else {
        Vec::new()
    };
    let required = if writes {
        tokens.ingest.is_some()
    } else {
        tokens.read.is_some()
    };
    if !required {
        return next.run(req).await;
    }
    let given = bearer(&req);
    if given.is_some_and(|g| {
        accepted
            .iter()
            .any(|t| constant_time_eq(g.as_bytes(), t.as_bytes()))
    }) {
        return next.run(req).await;
    }
    let mut response = unauthorized(writes, given.is_some()).into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// The 401 for a request without an accepted token.
pub fn unauthorized(writes: bool, token_given: bool) -> ApiError {
    let what = if writes { "writing events" } else { "reading" };
    let reason = if token_given {
        "the bearer token is not valid"
    } else {
        "an `Authorization: Bearer <token>` header is required"
    };
    ApiError::Unauthorized(format!("{what} needs a token: {reason}"))
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn tokens_compare_exactly() {
        assert!(constant_time_eq(b"s3cret", b"s3cret"));
        assert!(!constant_time_eq(b"s3cret", b"s3creT"));
        assert!(!constant_time_eq(b"s3cret", b"s3cret "));
        assert!(!constant_time_eq(b"", b"x"));
    }
}
