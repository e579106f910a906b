//! `POST /events` and `GET /events`.

use std::borrow::Cow;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{OriginalUri, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Deserializer};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::event::{
    parse_date, parse_hotel_id, parse_status, parse_timestamp, parse_uuid, raw_from_json, Event,
    IdRule, Scalar,
};
use super::feed::{self, decode_stored_cursor, encode_stored_cursor, StoredCursor};
use super::feed_wait::{Interest, MAX_WAIT_SECS};
use super::store::{self, EventFilter, ListCursor, Stored, MAX_LIMIT};
use super::ApiState;
use crate::auth::Caller;
use crate::error::{parse_query, ApiError, ErrorBody};

pub const BODY_LIMIT: usize = 1 << 20;
pub const DEFAULT_LIMIT: i64 = 1000;

/// The body of `POST /events`. Numbers may also be sent as strings; the original system's
/// names `rpg_status`, `room_id` and `timestamp` are accepted for `status`,
/// `room_reservation_id` and `event_timestamp`; unknown fields are ignored.
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({
    "hotel_id": 4101,
    "event_timestamp": "2017-08-30 11:20:00",
    "status": 1,
    "room_reservation_id": "7d3c41a2-5b9e-4f08-a1c6-2e90b4d7f513",
    "night_of_stay": "2017-09-14"
}))]
#[allow(dead_code)] // documents the body; the handler reads it field by field to name bad ones
pub struct EventBody {
    /// Optional. Omit it and the service assigns one (from 2^52 to 2^53 − 1); send one (below
    /// 2^52) to make retries idempotent. Larger ids are refused: JavaScript clients would read
    /// them rounded.
    #[schema(minimum = 1, maximum = 4503599627370495.0, example = 31000001)]
    id: Option<i64>,
    #[schema(minimum = 1, maximum = 2147483647, example = 4101)]
    hotel_id: i32,
    /// RFC 3339 (`2017-08-30T11:20:00Z`, or with an offset) or `YYYY-MM-DD HH:MM:SS` (UTC).
    #[schema(example = "2017-08-30T11:20:00Z")]
    event_timestamp: String,
    /// 1 = booking, 2 = cancellation.
    #[schema(minimum = 1, maximum = 2, example = 1)]
    status: i16,
    /// UUID, any case.
    #[schema(example = "7d3c41a2-5b9e-4f08-a1c6-2e90b4d7f513")]
    room_reservation_id: String,
    /// `YYYY-MM-DD`.
    #[schema(example = "2017-09-14")]
    night_of_stay: String,
}

/// Stores one event.
///
/// Idempotent by `id`: posting the same event again answers 200 with the stored event; a
/// different event under a stored id answers 409 and changes nothing. An id whose event was
/// deleted by `roompulse retention` is still known: posting it answers 200 and stores nothing
/// (the dashboard has counted that event already).
#[utoipa::path(
    post,
    path = "/events",
    tag = "events",
    security((), ("api_key" = ["ingest"])),
    request_body(content = EventBody, content_type = "application/json"),
    responses(
        (status = 201, description = "Stored", body = Event),
        (status = 200, description = "This exact event was already stored under this id; nothing changed. Also the answer for an id whose event `roompulse retention` has deleted: nothing is stored again (the dashboard has counted it), and the body is the event as posted, whose content could not be compared (retention keeps only the ids)", body = Event),
        (status = 400, description = "The body is not a JSON object, or the request has two `Authorization` headers (`field`: `Authorization`)", body = ErrorBody),
        (status = 401, description = "The service has API keys (or INGEST_API_TOKEN) and the request carries no valid one, or a revoked one", body = ErrorBody),
        (status = 403, description = "The key is valid but may not write this event: it lacks the `ingest` scope, or the event's `hotel_id` is not one of its hotels (`field`: `hotel_id`); nothing is stored", body = ErrorBody),
        (status = 409, description = "The id is already taken by an event with different content (ids are one space for every hotel); nothing is stored. `stored` shows that event only to a key that may read it (the `read` scope and that event's hotel); anyone else learns only that the id is taken, the same answer whichever hotel holds it", body = ErrorBody),
        (status = 413, description = "The body is over 1 MiB", body = ErrorBody),
        (status = 415, description = "The `Content-Type` is not JSON (`application/json` or `application/*+json`): e.g. `text/plain`, or the form encoding `curl -d` sends without `-H 'Content-Type: application/json'`. A request without a `Content-Type` is read as JSON", body = ErrorBody),
        (status = 422, description = "A field is missing or invalid; `fields` lists each", body = ErrorBody),
        (status = 503, description = "The events database is unreachable, or the service is at MAX_CONCURRENT_REQUESTS (then with `Retry-After`)", body = ErrorBody),
    )
)]
pub async fn create_event(
    State(state): State<ApiState>,
    caller: Caller,
    headers: header::HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    json_content_type(&headers)?;
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge { limit: BODY_LIMIT }
        } else {
            ApiError::BadRequest {
                field: None,
                message: format!("cannot read the request body: {e}"),
            }
        }
    })?;
    let raw = raw_from_json(&body).map_err(|e| ApiError::BadRequest {
        field: None,
        message: e.to_string(),
    })?;
    let new = raw.validate(IdRule::Optional)?;
    caller.check(new.hotel_id)?;
    let response = match store::insert_one(&state.events_db, new).await? {
        Stored::Created(event) => {
            event_posted(true);
            (StatusCode::CREATED, Json(event)).into_response()
        }
        // A replay as far as the client can tell: the id was stored, nothing changes, and a
        // client retrying the post stops (see the 200 in the OpenAPI annotations).
        Stored::Replayed(event) | Stored::Retired(event) => {
            event_posted(false);
            (StatusCode::OK, Json(event)).into_response()
        }
        // Ids are one space for every hotel: the 409 says the id is taken, and shows what it
        // holds only to a caller that may read that event. Whether the id is taken by another
        // hotel or by the caller's own event is not said (nor echoed) to anyone else.
        Stored::Conflict { stored } => {
            let shown = caller
                .reads(stored.hotel_id)
                .then(|| serde_json::to_value(&stored).ok())
                .flatten();
            return Err(ApiError::Conflict { stored: shown });
        }
        Stored::UnassignedId => {
            return Err(ApiError::Invalid(vec![super::event::FieldError::new(
                    "id",
                    format!(
                        "must be below {}; ids from there up are assigned by the service, and this one was not",
                        super::event::ASSIGNED_ID_FLOOR
                    ),
            )]))
        }
    };
    Ok(response)
}

/// Refuses a body declared as anything but JSON: read as JSON anyway, a form post or a text
/// would be answered 400 or 422 about its content rather than about what was sent. A body
/// without a `Content-Type` is read as JSON.
pub fn json_content_type(headers: &header::HeaderMap) -> Result<(), ApiError> {
    let Some(given) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let essence = given
        .to_str()
        .ok()
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    let json = essence.as_deref().is_some_and(|e| {
        e == "application/json"
            || e.strip_prefix("application/")
                .is_some_and(|sub| sub.len() > "+json".len() && sub.ends_with("+json"))
    });
    if json {
        return Ok(());
    }
    Err(ApiError::UnsupportedMediaType(format!(
        "the body must be JSON, sent with `Content-Type: application/json`; got `{}`",
        String::from_utf8_lossy(given.as_bytes())
            .chars()
            .take(100)
            .collect::<String>()
    )))
}

/// Query parameters of `GET /events`. The seed's single-underscore spellings (`updated_gte`,
/// `updated_gt`, `updated_lte`, `night_of_stay_gte`, `night_of_stay_lte`) and the names `status`
/// and `room_reservation_id` are accepted too. Empty values count as absent.
///
/// Each value is checked as it is read, so the first parameter at fault in the query string is
/// the one named; `cursor` is checked last, against `order`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    // No examples: Swagger UI's "Try it out" would send every one of them together.
    /// Only this hotel's events. With a per-hotel key it must be one of the key's hotels (403
    /// otherwise); without it, such a key lists its own hotels' events.
    #[param(minimum = 1, maximum = 2147483647)]
    #[serde(default, deserialize_with = "hotel_id")]
    hotel_id: Option<i32>,
    /// Events whose `event_timestamp` is at or after this instant (RFC 3339, or
    /// `YYYY-MM-DD HH:MM:SS` in UTC).
    #[serde(rename = "updated__gte", alias = "updated_gte")]
    #[serde(default, deserialize_with = "timestamp")]
    updated_gte: Option<DateTime<Utc>>,
    /// Events whose `event_timestamp` is strictly after this instant.
    #[serde(rename = "updated__gt", alias = "updated_gt")]
    #[serde(default, deserialize_with = "timestamp")]
    updated_gt: Option<DateTime<Utc>>,
    /// Events whose `event_timestamp` is at or before this instant.
    #[serde(rename = "updated__lte", alias = "updated_lte")]
    #[serde(default, deserialize_with = "timestamp")]
    updated_lte: Option<DateTime<Utc>>,
    /// Events whose `event_timestamp` is strictly before this instant.
    #[serde(rename = "updated__lt", alias = "updated_lt")]
    #[serde(default, deserialize_with = "timestamp")]
    updated_lt: Option<DateTime<Utc>>,
    /// 1 = bookings only, 2 = cancellations only.
    #[param(minimum = 1, maximum = 2)]
    #[serde(rename = "rpg_status", alias = "status")]
    #[serde(default, deserialize_with = "status")]
    status: Option<i16>,
    /// Only this reservation's events (UUID, any case).
    // Documented as a plain string: any case is accepted.
    #[param(value_type = Option<String>)]
    #[serde(rename = "room_id", alias = "room_reservation_id")]
    #[serde(default, deserialize_with = "uuid")]
    room_reservation_id: Option<Uuid>,
    /// Events for nights on or after this date (`YYYY-MM-DD`).
    #[serde(rename = "night_of_stay__gte", alias = "night_of_stay_gte")]
    #[serde(default, deserialize_with = "date")]
    night_of_stay_gte: Option<NaiveDate>,
    /// Events for nights on or before this date (`YYYY-MM-DD`).
    #[serde(rename = "night_of_stay__lte", alias = "night_of_stay_lte")]
    #[serde(default, deserialize_with = "date")]
    night_of_stay_lte: Option<NaiveDate>,
    /// Page size, 1 to 10000 (default 1000).
    #[param(minimum = 1, maximum = 10000)]
    #[serde(default, deserialize_with = "limit")]
    limit: Option<i64>,
    /// Where the page starts: copy it from the previous page's `Link: <…>; rel="next"` header.
    /// Opaque; a cursor from one `order` is refused by the other.
    cursor: Option<String>,
    /// `timestamp` (default): by `event_timestamp`, then `id`. `stored`: the order in which the
    /// events were stored, for readers that must see every event exactly once (a change feed):
    /// it never returns an event behind a cursor already issued, including events that are
    /// stored later with an old `event_timestamp`. Events of a batch still being stored are
    /// held back until it commits, and the response always carries a `next` link, to poll
    /// for events stored later. With filters (or a per-hotel key), one request looks at most
    /// at the next 10,000 events of the feed: a page may then hold fewer events than `limit`,
    /// or none, before the end of the feed; its `next` link moves past the events looked at
    /// (so that following it never walks them again), and never names an event the caller
    /// was not given.
    #[param(inline)]
    #[serde(default, deserialize_with = "order")]
    order: Option<OrderParam>,
    /// With `order=stored` only: seconds (1 to 30) to hold an empty page at the end of the feed
    /// until matching events after the cursor are stored, then answer at once with them (a long
    /// poll). When none come within the wait, the empty page is answered as without it. A page
    /// that has events, or that did not reach the end of the feed (see `order`), is answered
    /// at once, as without `wait`. The wait ends early (with the empty page) when the service
    /// shuts down, and never runs past the service's request timeout.
    #[param(minimum = 1, maximum = 30, value_type = Option<u64>)]
    #[serde(default, deserialize_with = "wait")]
    wait: Option<u64>,
}

/// The values `order` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum OrderParam {
    Timestamp,
    Stored,
}

/// A parameter's value, read by `parse`; its error message follows the parameter's name.
fn checked<'de, D: Deserializer<'de>, T>(
    d: D,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<Option<T>, D::Error> {
    let text = String::deserialize(d)?;
    parse(&text).map(Some).map_err(serde::de::Error::custom)
}

fn hotel_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i32>, D::Error> {
    checked(d, |v| parse_hotel_id(&Scalar::Text(Cow::Borrowed(v))))
}

fn timestamp<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    checked(d, parse_timestamp)
}

fn status<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i16>, D::Error> {
    checked(d, |v| parse_status(&Scalar::Text(Cow::Borrowed(v))))
}

fn uuid<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Uuid>, D::Error> {
    checked(d, parse_uuid)
}

fn date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
    checked(d, parse_date)
}

fn limit<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    checked(d, |v| {
        v.parse::<i64>()
            .ok()
            .filter(|l| (1..=MAX_LIMIT).contains(l))
            .ok_or_else(|| format!("must be an integer from 1 to {MAX_LIMIT}"))
    })
}

fn wait<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    checked(d, |v| {
        v.parse::<u64>()
            .ok()
            .filter(|w| (1..=MAX_WAIT_SECS).contains(w))
            .ok_or_else(|| format!("must be a whole number of seconds from 1 to {MAX_WAIT_SECS}"))
    })
}

fn order<'de, D: Deserializer<'de>>(d: D) -> Result<Option<OrderParam>, D::Error> {
    checked(d, |v| match v {
        "timestamp" => Ok(OrderParam::Timestamp),
        "stored" => Ok(OrderParam::Stored),
        _ => Err("must be `timestamp` or `stored`".into()),
    })
}

/// Lists events in `event_timestamp` order (ties by `id`), a page at a time.
///
/// When more events match, the response carries `Link: </events?…&cursor=…>; rel="next"`;
/// follow it until there is none. Pages never overlap or skip an event.
///
/// With `order=stored` the events come in the order they were stored and the `next` link is
/// always there: follow it now or later to get the events stored since (the dashboard's sync
/// does). Add `wait=25` to have an empty page held until new events are stored (a long poll):
/// they arrive as soon as they commit, without polling.
#[utoipa::path(
    get,
    path = "/events",
    tag = "events",
    security((), ("api_key" = ["read"])),
    params(ListParams),
    responses(
        (status = 200, description = "A page of events (a bare JSON array)", body = [Event],
            headers(("Link" = String, description = "`<URL of the next page>; rel=\"next\"`, present when more events match (always, with `order=stored`)"))),
        (status = 400, description = "A query parameter is malformed or out of range (a date not exactly `YYYY-MM-DD`); `field` names it. Also two `Authorization` headers (`field`: `Authorization`)", body = ErrorBody),
        (status = 401, description = "The service has API keys (or READ_API_TOKEN) and the request carries no valid one, or a revoked one", body = ErrorBody),
        (status = 403, description = "The key is valid but may not read this: it lacks the `read` scope, or `hotel_id` names a hotel that is not one of its hotels (`field`: `hotel_id`). Without `hotel_id`, a per-hotel key lists its hotels' events only (the change feed too)", body = ErrorBody),
        (status = 503, description = "The events database is unreachable, the service is at MAX_CONCURRENT_REQUESTS (then with `Retry-After`), or (with `wait`) half that many requests are already waiting", body = ErrorBody),
    )
)]
pub async fn list_events(
    State(state): State<ApiState>,
    caller: Caller,
    OriginalUri(uri): OriginalUri,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let mut q = parse_list_query(query.as_deref().unwrap_or(""))?;
    match q.filter.hotel_id {
        Some(hotel) => caller.check(hotel)?,
        None => q.filter.hotels = caller.hotels(),
    }
    if let ListOrder::Stored(after) = q.order {
        return list_stored(
            &state,
            uri.path(),
            query.as_deref().unwrap_or(""),
            &q,
            after,
        )
        .await;
    }
    // A listing may come from a standby (its pages keyed on the events themselves, not on the
    // snapshot); the change feed above never does.
    let (filter, cursor, limit) = (&q.filter, q.cursor, q.limit + 1);
    let mut events = state
        .event_reads
        .read(|pool| async move { store::list(&pool, filter, cursor, limit).await })
        .await?;
    let next = if events.len() as i64 > q.limit {
        events.truncate(q.limit as usize);
        events.last().map(|last| {
            next_link(
                uri.path(),
                query.as_deref().unwrap_or(""),
                &encode_cursor(&ListCursor {
                    event_timestamp: last.event_timestamp,
                    id: last.id,
                }),
            )
        })
    } else {
        None
    };
    let mut response = Json(events).into_response();
    if let Some(link) = next {
        if let Ok(value) = header::HeaderValue::from_str(&link) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    Ok(response)
}

/// `GET /events?order=stored`: a page of the change feed, whose `next` link is always there.
async fn list_stored(
    state: &ApiState,
    path: &str,
    query: &str,
    q: &ListQuery,
    after: StoredCursor,
) -> Result<Response, ApiError> {
    let look = |after| feed::page(&state.events_db, &q.filter, after, q.limit);
    let page = match q.wait {
        None => look(after).await?,
        Some(wait) => {
            let interest = q
                .filter
                .only_hotels()
                .map_or(Interest::Every, Interest::Hotels);
            state.feed_wait.hold(wait, &interest, after, look).await?
        }
    };
    let next = page.next;
    let events: Vec<Event> = page.rows.into_iter().map(|(event, _)| event).collect();
    let mut response = Json(events).into_response();
    let link = next_link(path, query, &encode_stored_cursor(&next));
    if let Ok(value) = header::HeaderValue::from_str(&link) {
        response.headers_mut().insert(header::LINK, value);
    }
    Ok(response)
}

#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    pub filter: EventFilter,
    /// The `timestamp` order's cursor (`None` with `order=stored`, whose cursor is in `order`).
    pub cursor: Option<ListCursor>,
    pub limit: i64,
    pub order: ListOrder,
    /// `order=stored`'s long poll: how long an empty page may be held.
    pub wait: Option<std::time::Duration>,
}

/// `GET /events`'s `order`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListOrder {
    /// By `(event_timestamp, id)`.
    Timestamp,
    /// By `(tx_id, id)`, after this position.
    Stored(StoredCursor),
}

/// Reads `GET /events`'s query string, naming the parameter at fault.
pub fn parse_list_query(query: &str) -> Result<ListQuery, ApiError> {
    let p: ListParams = parse_query(query)?;
    let filter = EventFilter {
        hotel_id: p.hotel_id,
        hotels: None,
        event_timestamp_gte: p.updated_gte,
        event_timestamp_gt: p.updated_gt,
        event_timestamp_lte: p.updated_lte,
        event_timestamp_lt: p.updated_lt,
        status: p.status,
        room_reservation_id: p.room_reservation_id,
        night_of_stay_gte: p.night_of_stay_gte,
        night_of_stay_lte: p.night_of_stay_lte,
    };
    // The cursor's meaning depends on `order`: read last, by the order it is given with.
    let bad_cursor = |m: &str| ApiError::bad_param("cursor", m);
    let foreign = "is not a cursor this service issued; copy it from a Link header";
    let (cursor, order) = match (p.order.unwrap_or(OrderParam::Timestamp), p.cursor) {
        (OrderParam::Timestamp, None) => (None, ListOrder::Timestamp),
        (OrderParam::Timestamp, Some(c)) => {
            let cursor = decode_cursor(&c).ok_or_else(|| {
                if decode_stored_cursor(&c).is_some() {
                    bad_cursor(
                        "belongs to `order=stored`; give that order with it, or drop the cursor",
                    )
                } else {
                    bad_cursor(foreign)
                }
            })?;
            (Some(cursor), ListOrder::Timestamp)
        }
        (OrderParam::Stored, None) => (None, ListOrder::Stored(StoredCursor::START)),
        (OrderParam::Stored, Some(c)) => {
            let after = decode_stored_cursor(&c).ok_or_else(|| {
                if decode_cursor(&c).is_some() {
                    bad_cursor("belongs to the `timestamp` order, not to `order=stored`")
                } else {
                    bad_cursor(foreign)
                }
            })?;
            (None, ListOrder::Stored(after))
        }
    };
    if p.wait.is_some() && order == ListOrder::Timestamp {
        return Err(ApiError::bad_param(
            "wait",
            "only applies to `order=stored` (the change feed); add it, or drop `wait`",
        ));
    }
    Ok(ListQuery {
        filter,
        cursor,
        limit: p.limit.unwrap_or(DEFAULT_LIMIT),
        order,
        wait: p.wait.map(std::time::Duration::from_secs),
    })
}

/// 32 hex digits: the microsecond timestamp and the id of the last event on the page.
pub fn encode_cursor(c: &ListCursor) -> String {
    format!(
        "{:016x}{:016x}",
        c.event_timestamp.timestamp_micros() as u64,
        c.id as u64
    )
}

pub fn decode_cursor(s: &str) -> Option<ListCursor> {
    if s.len() != 32 || !s.is_ascii() {
        return None;
    }
    let micros = u64::from_str_radix(&s[..16], 16).ok()? as i64;
    let id = u64::from_str_radix(&s[16..], 16).ok()? as i64;
    let event_timestamp = DateTime::from_timestamp_micros(micros)?;
    // Any representable instant, not only the years accepted for new events: a row stored
    // before a validation rule tightened must still give a cursor that pages on.
    (id > 0).then_some(ListCursor {
        event_timestamp,
        id,
    })
}

/// The next page's URL: the same query with the cursor replaced.
fn next_link(path: &str, query: &str, cursor: &str) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        if k != "cursor" {
            out.append_pair(&k, &v);
        }
    }
    out.append_pair("cursor", cursor);
    format!("<{path}?{}>; rel=\"next\"", out.finish())
}

/// `POST /events` stored its event (`true`) or found it stored already.
fn event_posted(created: bool) {
    let name = if created {
        crate::metrics::EVENTS_STORED
    } else {
        crate::metrics::EVENTS_DUPLICATES
    };
    ::metrics::counter!(name).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn aliases_mean_the_same_filter() {
        let a = parse_list_query("updated_gte=2022-01-01%2000:00:00&status=2&room_reservation_id=0013E338-0158-4D5C-8698-AEBE00CBA360&night_of_stay_lte=2022-02-01").unwrap();
        let b = parse_list_query("updated__gte=2022-01-01T00:00:00Z&rpg_status=2&room_id=0013e338-0158-4d5c-8698-aebe00cba360&night_of_stay__lte=2022-02-01").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.filter.status, Some(2));
    }

    #[test]
    fn a_parameter_given_twice_under_two_names_is_refused() {
        assert!(parse_list_query("status=1&rpg_status=1").is_err());
    }

    #[test]
    fn values_are_trimmed_and_empty_ones_are_absent() {
        let q =
            parse_list_query("hotel_id=%203%20&hotel_id=&status=&rpg_status=2&foo=bar").unwrap();
        assert_eq!((q.filter.hotel_id, q.filter.status), (Some(3), Some(2)));
    }

    #[test]
    fn the_first_parameter_at_fault_in_the_query_string_is_named() {
        let error = |q: &str| parse_list_query(q).unwrap_err().to_string();
        assert_eq!(
            error("limit=0&hotel_id=x&cursor=zz"),
            "query parameter `limit` must be an integer from 1 to 10000"
        );
        assert_eq!(
            error("hotel_id=1&hotel_id=x"),
            "query parameter `hotel_id` is given more than once"
        );
        assert!(error("room_reservation_id=zz&hotel_id=0")
            .starts_with("query parameter `room_reservation_id` "));
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let c = ListCursor {
            event_timestamp: DateTime::from_timestamp(1_656_075_656, 123_000).unwrap(),
            id: 42,
        };
        assert_eq!(decode_cursor(&encode_cursor(&c)), Some(c));
        // A row stored as 2101-01-01 (a leap second once slipped past the year rule) still
        // pages on: a cursor the service issued is never refused.
        let past_range = ListCursor {
            event_timestamp: DateTime::from_timestamp(4_133_980_800, 0).unwrap(),
            id: 7,
        };
        assert_eq!(decode_cursor(&encode_cursor(&past_range)), Some(past_range));
        for bad in [
            "",
            "zz",
            "ffffffffffffffffffffffffffffffff",
            "é0000000000000000000000000000000",
        ] {
            assert_eq!(decode_cursor(bad), None, "{bad}");
        }
    }

    #[test]
    fn stored_cursors_round_trip_and_never_pass_for_timestamp_cursors() {
        let c = StoredCursor {
            tx_id: 7_654_321,
            id: 19_291_943,
        };
        let text = encode_stored_cursor(&c);
        assert_eq!(decode_stored_cursor(&text), Some(c));
        assert_eq!(decode_cursor(&text), None);
        let ts = encode_cursor(&ListCursor {
            event_timestamp: DateTime::from_timestamp(1_656_075_656, 0).unwrap(),
            id: 42,
        });
        assert_eq!(decode_stored_cursor(&ts), None);
        for bad in [
            "s",
            "s+0000000000000000000000000000000",
            "sffffffffffffffff0000000000000000",
        ] {
            assert_eq!(decode_stored_cursor(bad), None, "{bad}");
        }
    }

    #[test]
    fn order_and_cursor_must_agree() {
        let stored = encode_stored_cursor(&StoredCursor { tx_id: 5, id: 9 });
        let q = parse_list_query(&format!("cursor={stored}&order=stored&hotel_id=3")).unwrap();
        assert_eq!(q.order, ListOrder::Stored(StoredCursor { tx_id: 5, id: 9 }));
        assert_eq!(q.filter.hotel_id, Some(3));
        assert_eq!(
            parse_list_query("order=stored").unwrap().order,
            ListOrder::Stored(StoredCursor::START)
        );
        assert_eq!(
            parse_list_query("order=timestamp").unwrap().order,
            ListOrder::Timestamp
        );
        let ts = encode_cursor(&ListCursor {
            event_timestamp: DateTime::from_timestamp(1_656_075_656, 0).unwrap(),
            id: 42,
        });
        for query in [
            format!("cursor={stored}"),
            format!("order=timestamp&cursor={stored}"),
            format!("order=stored&cursor={ts}"),
            "order=stored&cursor=nonsense".to_string(),
        ] {
            match parse_list_query(&query) {
                Err(ApiError::BadRequest { field, .. }) => {
                    assert_eq!(field.as_deref(), Some("cursor"), "{query}")
                }
                other => panic!("{query}: {other:?}"),
            }
        }
        match parse_list_query("order=newest") {
            Err(ApiError::BadRequest { field, .. }) => assert_eq!(field.as_deref(), Some("order")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_next_link_keeps_the_filters_and_replaces_the_cursor() {
        let link = next_link("/events/", "hotel_id=1&cursor=old&limit=2", "new");
        assert_eq!(
            link,
            "</events/?hotel_id=1&limit=2&cursor=new>; rel=\"next\""
        );
    }

    proptest! {
        #[test]
        fn any_query_string_parses_or_names_a_parameter(q in "[a-z_=&%0-9:. -]{0,120}") {
            if let Err(ApiError::BadRequest { field, .. }) = parse_list_query(&q) {
                prop_assert!(field.is_some());
            }
        }
    }
}
