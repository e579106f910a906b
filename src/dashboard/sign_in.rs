//! The chart page's way in for a browser, which cannot send an `Authorization` header: a
//! sign-in form taking a read key (`POST /sign-in`), kept in an `HttpOnly`, `SameSite=Strict`
//! cookie that only the page's routes read (`Auth::page_caller`), checked against the keys on
//! every request like the header; `POST /sign-out` drops it. The page's refusals are HTML: a 401
//! shows the sign-in form, a 403 says why and offers to sign out.
//!
//! The cookie holds the key itself rather than a session: the server keeps no state, and
//! revoking the key closes the page at once, as it does the API. `SameSite=Strict` keeps other
//! sites' requests from carrying it; the sign-in and sign-out forms also check that the request
//! comes from this service's own page (`Origin`, else `Referer`), so that no other site can sign
//! a browser in with a key of its choosing. `Secure` is set when the request came over TLS
//! through a proxy saying so (`X-Forwarded-Proto: https`).

use axum::body::Bytes;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use maud::{html, Markup};

use super::page::frame;
use crate::auth::{self, Auth, Scope, PAGE_COOKIE};
use crate::error::ApiError;

/// `POST /sign-in`: the form's `key` is checked as a read key; accepted, it is kept in the
/// cookie and the browser goes back to the page it was refused (`return`, a query string).
pub async fn sign_in(
    Extension(auth): Extension<Auth>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut key = String::new();
    let mut back = String::new();
    for (name, value) in url::form_urlencoded::parse(&body) {
        match name.as_ref() {
            "key" if key.is_empty() => key = value.trim().to_string(),
            "return" if back.is_empty() => back = value.into_owned(),
            _ => {}
        }
    }
    if let Err(why) = from_this_page(&headers) {
        return refused_form(StatusCode::FORBIDDEN, why, &back);
    }
    if key.is_empty() {
        return sign_in_page(
            StatusCode::BAD_REQUEST,
            "Enter an API key to sign in.",
            &back,
        );
    }
    if !auth.required(Scope::Read) {
        // Nothing to check a key against: the page is open to everyone, no cookie is needed.
        return see_other(&back, None);
    }
    let checked = HeaderValue::from_str(&format!("Bearer {key}"))
        .map_err(|_| auth::unauthorized(false, true))
        .and_then(|given| auth.caller(Scope::Read, Some(&given)));
    match checked {
        Ok(_) => see_other(&back, Some(set_cookie(&headers, Some(&key)))),
        Err(ApiError::Unauthorized(reason)) => sign_in_page(
            StatusCode::UNAUTHORIZED,
            &format!("That key is not accepted: {reason}."),
            &back,
        ),
        Err(e) => refused(e, &back, false),
    }
}

/// `POST /sign-out`: drops the cookie and goes back to the page.
pub async fn sign_out(headers: HeaderMap) -> Response {
    if let Err(why) = from_this_page(&headers) {
        return refused_form(StatusCode::FORBIDDEN, why, "");
    }
    see_other("", Some(set_cookie(&headers, None)))
}

/// The page's answer to a request its key does not let through: 401 with the sign-in form (and
/// the cookie dropped when it held a key no longer accepted), 403 with the reason and a
/// sign-out button; anything else (two `Authorization` headers) with its status and message.
pub fn refused(e: ApiError, query: &str, had_cookie: bool) -> Response {
    let (status, message) = match e {
        ApiError::Unauthorized(reason) if had_cookie => (
            StatusCode::UNAUTHORIZED,
            format!("The key this browser signed in with is no longer accepted ({reason}). Sign in again."),
        ),
        ApiError::Unauthorized(_) => (
            StatusCode::UNAUTHORIZED,
            "This service's figures need an API key with the `read` scope: sign in with one \
             (an operator creates it with `roompulse keys create --scope read`)."
                .to_string(),
        ),
        e => {
            let message = e.to_string();
            (e.into_response().status(), message)
        }
    };
    if status != StatusCode::UNAUTHORIZED {
        return refused_form(status, message, query);
    }
    let mut response = sign_in_page(status, &message, query);
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    if had_cookie {
        if let Ok(drop) = HeaderValue::from_str(&cookie(None, false)) {
            response.headers_mut().insert(header::SET_COOKIE, drop);
        }
    }
    response
}

fn sign_in_page(status: StatusCode, message: &str, back: &str) -> Response {
    frame(
        status,
        false,
        html! {
            h2 { "Sign in" }
            p.error role="alert" { (message) }
            (sign_in_form(back))
        },
    )
}

/// A 403 (or 400): the reason, and a way to sign in with another key.
fn refused_form(status: StatusCode, message: impl Into<String>, back: &str) -> Response {
    let message = message.into();
    frame(
        status,
        false,
        html! {
            h2 { @if status == StatusCode::FORBIDDEN { "Not allowed" } @else { "Refused" } }
            p.error role="alert" { (message) }
            form.account method="post" action="/sign-out" {
                "To use another key: "
                button type="submit" { "Sign out" }
            }
            (sign_in_form(back))
        },
    )
}

fn sign_in_form(back: &str) -> Markup {
    html! {
        form #sign-in method="post" action="/sign-in" {
            input type="hidden" name="return" value=(back);
            label {
                "API key (read scope)"
                input type="password" name="key" autocomplete="off" required
                    placeholder="rp_…" size="40";
            }
            button type="submit" { "Sign in" }
        }
    }
}

/// 303 to the page with the query `back` (re-encoded, so that it can only ever be a query of
/// `/`), setting `cookie`.
fn see_other(back: &str, cookie: Option<String>) -> Response {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.extend_pairs(url::form_urlencoded::parse(back.as_bytes()));
    let query = query.finish();
    let location = if query.is_empty() {
        "/".to_string()
    } else {
        format!("/?{query}")
    };
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(location) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    if let Some(cookie) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

/// The `Set-Cookie` value holding `key`, or dropping the cookie (`None`).
fn set_cookie(headers: &HeaderMap, key: Option<&str>) -> String {
    let tls = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"));
    cookie(key, tls)
}

fn cookie(key: Option<&str>, secure: bool) -> String {
    let value: String = key
        .map(|k| url::form_urlencoded::byte_serialize(k.as_bytes()).collect())
        .unwrap_or_default();
    let mut cookie = format!("{PAGE_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict");
    if key.is_none() {
        cookie.push_str("; Max-Age=0");
    }
    if secure {
        cookie.push_str("; Secure");
    }
    cookie
}

/// Whether a form post comes from this service's own page: its `Origin` (else its `Referer`)
/// names the host the request was sent to (`Host`, or `X-Forwarded-Host` behind a proxy; a
/// cross-site form can set neither). A post with neither header is refused: every browser sends
/// `Origin` with a form post, and a program has the `Authorization` header instead.
fn from_this_page(headers: &HeaderMap) -> Result<(), &'static str> {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let sent_from = match (text(header::ORIGIN.as_str()), text(header::REFERER.as_str())) {
        (Some(origin), _) => origin,
        (None, Some(referer)) => referer,
        (None, None) => {
            return Err("A sign-in or sign-out must come from this service's own page (the request has neither an Origin nor a Referer header).")
        }
    };
    let host_of = |url: &str| {
        url::Url::parse(url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .and_then(|u| {
                let host = u.host_str()?.to_ascii_lowercase();
                Some(match u.port() {
                    Some(port) => format!("{host}:{port}"),
                    None => host,
                })
            })
    };
    let Some(from) = host_of(sent_from) else {
        return Err("A sign-in or sign-out must come from this service's own page.");
    };
    let ours = [header::HOST.as_str(), "x-forwarded-host"]
        .into_iter()
        .filter_map(text)
        .flat_map(|v| v.split(','))
        .filter_map(|host| host_of(&format!("http://{}", host.trim())));
    // `Url` drops a scheme's default port from both sides alike, so `host:80` and `host` match.
    for ours in ours {
        if ours == from || host_of(&format!("https://{ours}")).as_deref() == Some(&from) {
            return Ok(());
        }
    }
    Err("A sign-in or sign-out must come from this service's own page, not from another site.")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(*name, HeaderValue::from_static(value));
        }
        h
    }

    #[test]
    fn only_a_post_from_this_page_signs_in() {
        let host = ("host", "127.0.0.1:8000");
        for ok in [
            vec![host, ("origin", "http://127.0.0.1:8000")],
            vec![host, ("referer", "http://127.0.0.1:8000/?hotel_id=1")],
            vec![
                host,
                ("x-forwarded-host", "rooms.example"),
                ("origin", "https://rooms.example"),
            ],
            vec![
                ("host", "rooms.example:80"),
                ("origin", "http://rooms.example"),
            ],
        ] {
            assert!(from_this_page(&headers(&ok)).is_ok(), "{ok:?}");
        }
        for bad in [
            vec![host],
            vec![host, ("origin", "null")],
            vec![host, ("origin", "http://evil.example")],
            vec![host, ("origin", "http://127.0.0.1:8001")],
            vec![host, ("referer", "http://evil.example/?127.0.0.1:8000")],
            vec![("origin", "http://127.0.0.1:8000")],
        ] {
            assert!(from_this_page(&headers(&bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_cookie_is_http_only_strict_and_secure_behind_tls() {
        let plain = set_cookie(&HeaderMap::new(), Some("rp_a_b"));
        assert_eq!(
            plain,
            "roompulse_key=rp_a_b; Path=/; HttpOnly; SameSite=Strict"
        );
        let tls = set_cookie(&headers(&[("x-forwarded-proto", "https")]), Some("a;b"));
        assert_eq!(
            tls,
            "roompulse_key=a%3Bb; Path=/; HttpOnly; SameSite=Strict; Secure"
        );
        assert!(set_cookie(&HeaderMap::new(), None).contains("roompulse_key=; Path=/"));
        assert!(set_cookie(&HeaderMap::new(), None).contains("Max-Age=0"));
    }

    #[test]
    fn the_way_back_is_always_a_query_of_the_page() {
        for (back, location) in [
            ("", "/"),
            ("hotel_id=2601&year=2022", "/?hotel_id=2601&year=2022"),
            ("//evil.example", "/?%2F%2Fevil.example="),
            ("a=1\r\nx: y", "/?a=1%0D%0Ax%3A+y"),
        ] {
            let r = see_other(back, None);
            assert_eq!(r.status(), StatusCode::SEE_OTHER);
            assert_eq!(r.headers()[header::LOCATION], location, "{back:?}");
        }
    }
}
