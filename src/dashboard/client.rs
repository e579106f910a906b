//! The Dashboard's view of the Data Provider: an HTTP client for its change feed,
//! `GET /events?order=stored`. The Data Provider is an external service here, even when the
//! same process serves it.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use crate::config::redact_url;
use crate::error::error_chain;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("bad Data Provider URL {url}: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("the Data Provider at {url} did not answer: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the Data Provider answered {status} to {url}: {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    #[error("the Data Provider's answer to {url} is not a page of events: {reason}")]
    BadPage { url: String, reason: String },
}

impl ClientError {
    /// Whether asking again later may succeed: no answer, or a 5xx or 429 answer.
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Unreachable { .. } => true,
            ClientError::Status { status, .. } => *status >= 500 || *status == 429,
            ClientError::BadUrl { .. } | ClientError::BadPage { .. } => false,
        }
    }
}

/// The feed's `status` values, as the Data Provider documents them.
pub const STATUS_BOOKING: i16 = 1;
pub const STATUS_CANCELLATION: i16 = 2;

/// An event as the feed lists it: the fields the Dashboard counts by.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FeedEvent {
    pub id: i64,
    pub hotel_id: i32,
    pub event_timestamp: DateTime<Utc>,
    pub status: i16,
    pub night_of_stay: NaiveDate,
}

/// One page of the feed and where the next one starts.
#[derive(Debug, Clone)]
pub struct FeedPage {
    pub events: Vec<FeedEvent>,
    /// The opaque cursor from the page's `Link: <…>; rel="next"`.
    pub next_cursor: String,
}

/// A page is at most 10,000 events (a few MB): a minute on top of any wait asked for means the
/// server is stuck.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct DataProviderClient {
    http: reqwest::Client,
    events_url: Url,
    health_url: Url,
    /// Sent as `Authorization: Bearer …` when the Data Provider requires a read token.
    token: Option<SecretString>,
}

impl DataProviderClient {
    /// A client for the Data Provider at `base_url` (`http://host:port`, optionally with a path
    /// prefix).
    pub fn new(base_url: &str) -> Result<Self, ClientError> {
        let bad = |reason: String| ClientError::BadUrl {
            url: redact_url(base_url),
            reason,
        };
        let mut base = Url::parse(base_url).map_err(|e| bad(e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(bad("it must be an http:// or https:// URL".into()));
        }
        // Without a trailing slash, joining would replace the prefix's last segment.
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let events_url = base.join("events").map_err(|e| bad(e.to_string()))?;
        let health_url = base.join("health").map_err(|e| bad(e.to_string()))?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| bad(e.to_string()))?;
        Ok(Self {
            http,
            events_url,
            health_url,
            token: None,
        })
    }

    fn request(&self, url: Url) -> reqwest::RequestBuilder {
        let request = self.http.get(url);
        match &self.token {
            Some(token) => request.bearer_auth(token.expose_secret()),
            None => request,
        }
    }

    /// The same client, authenticating with `token` (when there is one).
    pub fn with_token(mut self, token: Option<&str>) -> Self {
        self.token = token.filter(|t| !t.is_empty()).map(SecretString::from);
        self
    }

    /// Whether the Data Provider answers its `GET /health` (for this process's `/ready`).
    pub async fn health(&self) -> Result<(), ClientError> {
        self.get_ok(self.health_url.clone()).await.map(|_| ())
    }

    /// Sends a GET; an answer that is not 2xx is an error carrying the start of its body.
    async fn get_ok(&self, url: Url) -> Result<reqwest::Response, ClientError> {
        self.get_ok_within(url, REQUEST_TIMEOUT).await
    }

    async fn get_ok_within(
        &self,
        url: Url,
        timeout: Duration,
    ) -> Result<reqwest::Response, ClientError> {
        let shown = redact_url(url.as_str());
        let response = self
            .request(url)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| ClientError::Unreachable {
                url: shown.clone(),
                reason: error_chain(&e.without_url()),
            })?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(ClientError::Status {
                url: shown,
                status: status.as_u16(),
                body: body.chars().take(300).collect(),
            });
        }
        Ok(response)
    }

    /// The feed's page after `cursor` (from the start when `None`), at most `limit` events.
    pub async fn changes(&self, cursor: Option<&str>, limit: i64) -> Result<FeedPage, ClientError> {
        self.changes_waiting(cursor, limit, None).await
    }

    /// The same, and when nothing is there yet, the Data Provider holds the answer up to `wait`
    /// (whole seconds, 1 to 30) until something is.
    pub async fn changes_waiting(
        &self,
        cursor: Option<&str>,
        limit: i64,
        wait: Option<Duration>,
    ) -> Result<FeedPage, ClientError> {
        let mut url = self.events_url.clone();
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("order", "stored");
            q.append_pair("limit", &limit.to_string());
            if let Some(c) = cursor {
                q.append_pair("cursor", c);
            }
            if let Some(wait) = wait {
                q.append_pair("wait", &wait.as_secs().clamp(1, 30).to_string());
            }
        }
        let shown = redact_url(url.as_str());
        // The answer may be held for the wait: the timeout runs on top of it.
        let timeout = REQUEST_TIMEOUT + wait.unwrap_or_default();
        let response = self.get_ok_within(url.clone(), timeout).await?;
        let bad_page = |reason: String| ClientError::BadPage {
            url: shown.clone(),
            reason,
        };
        let next_cursor = response
            .headers()
            .get_all(reqwest::header::LINK)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| next_cursor(&url, v))
            .ok_or_else(|| {
                bad_page(
                    "no `Link: <…cursor=…>; rel=\"next\"` header (does this Data Provider support order=stored?)"
                        .into(),
                )
            })?;
        let body = response
            .bytes()
            .await
            .map_err(|e| ClientError::Unreachable {
                url: shown.clone(),
                reason: error_chain(&e.without_url()),
            })?;
        let events: Vec<FeedEvent> =
            serde_json::from_slice(&body).map_err(|e| bad_page(e.to_string()))?;
        Ok(FeedPage {
            events,
            next_cursor,
        })
    }
}

/// The `cursor` of the `rel="next"` link in a `Link` header value, resolved against `request`.
fn next_cursor(request: &Url, header: &str) -> Option<String> {
    header.split(',').find_map(|link| {
        let (target, params) = link.trim().split_once('>')?;
        let target = target.trim().strip_prefix('<')?;
        let is_next = params.split(';').any(|p| {
            let p = p.trim().replace(' ', "");
            p == "rel=\"next\"" || p == "rel=next"
        });
        if !is_next {
            return None;
        }
        let url = request.join(target).ok()?;
        url.query_pairs()
            .find(|(k, v)| k == "cursor" && !v.is_empty())
            .map(|(_, v)| v.into_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_cursor_comes_from_the_next_link() {
        let req = Url::parse("http://h:1/dp/events?order=stored&limit=5").unwrap();
        assert_eq!(
            next_cursor(
                &req,
                "</dp/events?order=stored&limit=5&cursor=s0001>; rel=\"next\""
            ),
            Some("s0001".into())
        );
        assert_eq!(
            next_cursor(
                &req,
                "<http://h:1/a?cursor=x>; rel=\"prev\", <?cursor=a%2Bb>; rel=next"
            ),
            Some("a+b".into())
        );
        assert_eq!(next_cursor(&req, "</events?limit=5>; rel=\"next\""), None);
        assert_eq!(next_cursor(&req, "garbage"), None);
    }

    #[test]
    fn a_base_url_with_or_without_a_slash_reaches_events() {
        for (base, events) in [
            ("http://127.0.0.1:8000", "http://127.0.0.1:8000/events"),
            ("http://127.0.0.1:8000/", "http://127.0.0.1:8000/events"),
            ("http://h/dp", "http://h/dp/events"),
        ] {
            assert_eq!(
                DataProviderClient::new(base).unwrap().events_url.as_str(),
                events
            );
        }
        assert!(DataProviderClient::new("ftp://h").is_err());
        assert!(DataProviderClient::new("not a url").is_err());
    }
}
