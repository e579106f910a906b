//! Who may call the API, and for which hotels.
//!
//! A caller presents `Authorization: Bearer <key>`. An API key (`key`, created with `roompulse
//! keys create`, kept in each module's own database: `store`, and in memory: `keyring`) has a
//! scope (`read`, `ingest`, or both) and a set of hotels, or every hotel. The legacy tokens
//! `INGEST_API_TOKEN` and `READ_API_TOKEN` are all-hotel keys (the ingest token reads too, as it
//! always did). The middleware `authorize` answers 401 to a request without a valid key, 403
//! to a key without the scope, and otherwise hands the handlers a `Caller`: the hotels it may
//! see. The handlers answer 403 for a hotel outside it and narrow their listings to it.
//!
//! With no key in the module's database and no token, the API is open (`serve`
//! says so at start-up). Once a key has been created, every event and figure request needs one.
//! Health, readiness, metrics and the API documents stay open, so that probes and Swagger UI
//! work. The chart page, which a browser opens without a header, also takes the key from its
//! sign-in cookie (`page_caller`; the sign-in itself is the Dashboard's `sign_in`).

pub mod exposure;
pub mod key;
pub mod keyring;
pub mod manage;
pub mod store;

use std::collections::HashSet;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use secrecy::{ExposeSecret, SecretString};

use crate::error::ApiError;
use keyring::{Found, Keyring};

/// A token or secret shared by the clones of an `Auth`: `Debug` prints none of it.
pub type Secret = Arc<SecretString>;

/// What a key lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, clap::ValueEnum)]
pub enum Scope {
    /// `GET /events` (and the change feed), `GET /dashboard`, the pace endpoints, the chart page.
    Read,
    /// `POST /events`.
    Ingest,
}

impl Scope {
    pub fn name(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Ingest => "ingest",
        }
    }

    /// The scope a request needs: writes need `ingest`, everything else `read`.
    fn of(method: &Method) -> Scope {
        if method == Method::POST {
            Scope::Ingest
        } else {
            Scope::Read
        }
    }
}

#[derive(Clone, Default, Debug)]
pub struct Tokens {
    pub ingest: Option<Secret>,
    pub read: Option<Secret>,
}

impl Tokens {
    /// The legacy tokens. A value with the shape of an API key is left out: it is a key (e.g.
    /// READ_API_TOKEN set to an all-hotel read key for the dashboard's sync), checked against
    /// the keys' table like any other, so that revoking it takes effect.
    pub fn new(ingest: Option<&str>, read: Option<&str>) -> Self {
        let keep = |t: Option<&str>| {
            t.filter(|t| !t.is_empty() && key::parse(t).is_none())
                .map(|t| Arc::new(SecretString::from(t)))
        };
        Self {
            ingest: keep(ingest),
            read: keep(read),
        }
    }
}

/// What `authorize` checks one module's requests against: the legacy tokens and the keys of
/// that module's database.
#[derive(Clone, Debug)]
pub struct Auth {
    pub tokens: Tokens,
    pub keys: Keyring,
    /// Read access to every hotel for this process's own dashboard sync, when it reads this
    /// process's Data Provider API: once a key exists that API is closed, and the sync would
    /// otherwise need READ_API_TOKEN set to a key made for it. Not a key: in memory only,
    /// random per process, and it does not by itself close the API.
    pub process_secret: Option<Secret>,
}

impl Auth {
    /// Whether requests needing `scope` must present a key or token.
    pub fn required(&self, scope: Scope) -> bool {
        let token = match scope {
            Scope::Read => &self.tokens.read,
            Scope::Ingest => &self.tokens.ingest,
        };
        token.is_some() || self.keys.any()
    }

    /// The caller a request with this `Authorization` header is, for a request needing `scope`.
    pub fn caller(
        &self,
        scope: Scope,
        authorization: Option<&HeaderValue>,
    ) -> Result<Caller, ApiError> {
        if !self.required(scope) {
            return Ok(Caller::every_hotel());
        }
        let Some(given) = authorization.and_then(bearer) else {
            return Err(unauthorized(scope == Scope::Ingest, false));
        };
        if let Some((id, secret)) = key::parse(given) {
            return match self.keys.find(id, secret) {
                Found::Valid(entry) if entry.allows(scope) => {
                    self.keys.used(id);
                    Ok(Caller {
                        reads: entry.allows(Scope::Read),
                        hotels: entry.hotels,
                    })
                }
                Found::Valid(entry) => Err(wrong_scope(scope, entry.scopes())),
                Found::Revoked => Err(ApiError::Unauthorized(
                    "this API key has been revoked".into(),
                )),
                Found::Unknown => Err(unauthorized(scope == Scope::Ingest, true)),
            };
        }
        let is = |token: &Option<Secret>| {
            token
                .as_ref()
                .is_some_and(|t| constant_time_eq(given.as_bytes(), t.expose_secret().as_bytes()))
        };
        if is(&self.process_secret) {
            return match scope {
                Scope::Read => Ok(Caller::every_hotel()),
                Scope::Ingest => Err(wrong_scope(scope, "read")),
            };
        }
        if is(&self.tokens.ingest) {
            // A client trusted to write may read too.
            return Ok(Caller::every_hotel());
        }
        if is(&self.tokens.read) {
            return match scope {
                Scope::Read => Ok(Caller::every_hotel()),
                Scope::Ingest => Err(wrong_scope(scope, "read")),
            };
        }
        Err(unauthorized(scope == Scope::Ingest, true))
    }

    /// The one line `serve` logs at start-up when part of the API is open to anyone.
    pub fn open_warning(modules: &[&Auth]) -> Option<&'static str> {
        let open = |scope| modules.iter().any(|a| !a.required(scope));
        match (open(Scope::Read), open(Scope::Ingest)) {
            (true, true) => Some("the API is open: there is no API key (`roompulse keys create`) and neither INGEST_API_TOKEN nor READ_API_TOKEN is set, so anyone who reaches it can read every hotel's events and figures and write events"),
            (true, false) => Some("reads are open: there is no API key (`roompulse keys create`) and READ_API_TOKEN is not set, so anyone who reaches the API can read every hotel's events and figures"),
            (false, true) => Some("writes are open: there is no API key (`roompulse keys create`) and INGEST_API_TOKEN is not set, so anyone who reaches the API can write events"),
            (false, false) => None,
        }
    }
}

/// Who is calling, as the handlers need it: the hotels whose events and figures it may read or
/// write. Put on every request by `authorize`.
#[derive(Debug, Clone)]
pub struct Caller {
    /// `None`: every hotel.
    hotels: Option<Arc<HashSet<i32>>>,
    /// Whether it may read its hotels' events (a write-only key may not: what a write answers
    /// must not show it a stored event).
    reads: bool,
}

impl Caller {
    pub fn every_hotel() -> Self {
        Caller {
            hotels: None,
            reads: true,
        }
    }

    pub fn only(hotels: impl IntoIterator<Item = i32>) -> Self {
        Caller {
            hotels: Some(Arc::new(hotels.into_iter().collect())),
            reads: true,
        }
    }

    /// Whether the caller may read events of `hotel`.
    pub fn reads(&self, hotel: i32) -> bool {
        self.reads && self.allows(hotel)
    }

    pub fn allows(&self, hotel: i32) -> bool {
        self.hotels.as_ref().is_none_or(|h| h.contains(&hotel))
    }

    /// 403, naming the hotel, unless the caller may see `hotel`.
    pub fn check(&self, hotel: i32) -> Result<(), ApiError> {
        if self.allows(hotel) {
            Ok(())
        } else {
            Err(forbidden_hotel(hotel))
        }
    }

    /// The hotels to narrow a listing to, in order; `None`: every hotel.
    pub fn hotels(&self) -> Option<Vec<i32>> {
        self.hotels.as_ref().map(|h| {
            let mut v: Vec<i32> = h.iter().copied().collect();
            v.sort_unstable();
            v
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        // Without the middleware no one has been checked: refuse rather than show everything.
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| ApiError::Internal("the route has no authorization layer".into()))
    }
}

/// Compares in time that depends only on the lengths, so a caller cannot find the token byte by
/// byte from response times.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}

/// The key of an `Authorization` header: the scheme in any case, spaces around the key ignored.
pub(crate) fn bearer(value: &HeaderValue) -> Option<&str> {
    let value = value.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(|c: char| c.is_ascii_whitespace())?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The request's `Authorization` header. Two or more are refused: letting one of them win
/// would make what a proxy or a log saw differ from what was checked.
pub fn authorization(headers: &HeaderMap) -> Result<Option<&HeaderValue>, ApiError> {
    let mut all = headers.get_all(header::AUTHORIZATION).iter();
    let first = all.next();
    if all.next().is_some() {
        return Err(ApiError::BadRequest {
            field: Some("Authorization".into()),
            message: "the `Authorization` header is given more than once: send one".into(),
        });
    }
    Ok(first)
}

/// The cookie the chart page's sign-in keeps the key in (`HttpOnly`, `SameSite=Strict`).
pub const PAGE_COOKIE: &str = "roompulse_key";

/// The key in the chart page's cookie, when the request has one. Only the page's routes read
/// it (`Auth::page_caller`): the JSON API stays Bearer-only, so that no other site's form or
/// script can act with a browser's cookie.
pub fn page_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == PAGE_COOKIE)
        .map(|(_, value)| {
            url::form_urlencoded::parse(format!("k={value}").as_bytes())
                .map(|(_, v)| v.into_owned())
                .next()
                .unwrap_or_default()
        })
        .filter(|key| !key.is_empty())
}

impl Auth {
    /// The chart page's caller, for reading: the `Authorization` header as on the API, else the
    /// key of the page's sign-in cookie, checked against the keys like the header on every
    /// request (so that a revoked key stops working at once).
    pub fn page_caller(&self, headers: &HeaderMap) -> Result<Caller, ApiError> {
        if let Some(given) = authorization(headers)? {
            return self.caller(Scope::Read, Some(given));
        }
        let Some(key) = page_cookie(headers) else {
            return self.caller(Scope::Read, None);
        };
        match HeaderValue::from_str(&format!("Bearer {key}")) {
            Ok(given) => self.caller(Scope::Read, Some(&given)),
            Err(_) if !self.required(Scope::Read) => Ok(Caller::every_hotel()),
            Err(_) => Err(unauthorized(false, true)),
        }
    }
}

/// The middleware on each module's event and dashboard routes.
pub async fn authorize(State(auth): State<Auth>, mut req: Request, next: Next) -> Response {
    let scope = Scope::of(req.method());
    let given = match authorization(req.headers()) {
        Ok(given) => given.cloned(),
        Err(e) => return e.into_response(),
    };
    match auth.caller(scope, given.as_ref()) {
        Ok(caller) => {
            req.extensions_mut().insert(caller);
            next.run(req).await
        }
        Err(e) => {
            let unauthenticated = matches!(e, ApiError::Unauthorized(_));
            let mut response = e.into_response();
            if unauthenticated {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            response
        }
    }
}

/// The 401 for a request without an accepted key.
pub fn unauthorized(writes: bool, token_given: bool) -> ApiError {
    let what = if writes { "writing events" } else { "reading" };
    let reason = if token_given {
        "the bearer key or token is not valid"
    } else {
        "an `Authorization: Bearer <key>` header is required"
    };
    ApiError::Unauthorized(format!("{what} needs an API key or token: {reason}"))
}

/// The 403 for a key without the scope the request needs.
pub fn wrong_scope(needed: Scope, has: &str) -> ApiError {
    let what = match needed {
        Scope::Read => "reading events and figures",
        Scope::Ingest => "writing events",
    };
    ApiError::Forbidden {
        field: None,
        message: format!(
            "this key's scope is `{has}`: {what} needs a key with the `{}` scope",
            needed.name()
        ),
    }
}

/// The 403 for a hotel outside the caller's.
pub fn forbidden_hotel(hotel: i32) -> ApiError {
    ApiError::Forbidden {
        field: Some("hotel_id".into()),
        message: format!("this key does not give access to hotel {hotel}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_exactly() {
        assert!(constant_time_eq(b"s3cret", b"s3cret"));
        assert!(!constant_time_eq(b"s3cret", b"s3creT"));
        assert!(!constant_time_eq(b"s3cret", b"s3cret "));
        assert!(!constant_time_eq(b"", b"x"));
    }

    #[test]
    fn the_scheme_is_read_in_any_case_and_spaces_do_not_matter() {
        let h = |s: &'static str| HeaderValue::from_static(s);
        for ok in [
            "Bearer k",
            "bearer k",
            "BEARER k",
            "Bearer   k  ",
            "  bearer\tk",
        ] {
            assert_eq!(bearer(&h(ok)), Some("k"), "{ok:?}");
        }
        for bad in ["Basic k", "Bearer", "Bearer   ", "Bearerk", "k"] {
            assert_eq!(bearer(&h(bad)), None, "{bad:?}");
        }
    }

    #[test]
    fn a_token_shaped_like_a_key_is_a_key() {
        let k = key::generate().unwrap();
        let t = Tokens::new(Some("legacy"), Some(k.key.expose_secret()));
        assert_eq!(t.ingest.as_ref().map(|t| t.expose_secret()), Some("legacy"));
        assert!(t.read.is_none());
    }

    #[test]
    fn a_caller_sees_its_hotels_only() {
        let c = Caller::only([2607, 2608]);
        assert!(c.allows(2607) && !c.allows(2609));
        assert_eq!(c.hotels(), Some(vec![2607, 2608]));
        assert!(c.check(2609).unwrap_err().to_string().contains("2609"));
        assert!(Caller::only([]).hotels().unwrap().is_empty());
        assert!(Caller::every_hotel().allows(1));
    }
}
