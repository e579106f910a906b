//! The revenue manager's figures, from the counts per hotel, night of stay and event day that
//! the sync keeps (`dashboard_pace`: per hotel, night and event day, the counts and the
//! night's running totals up to that day):
//!
//! - `GET /dashboard/pace`: on the books per night as of a day, pickup over 1 to 5 windows, and
//!   the same time last year (364 days earlier, the same weekday);
//! - `GET /dashboard/booking-curve`: one night's on the books as of each of the days before it;
//! - `GET /dashboard/lead-time`: bookings and cancellations of a range of nights by days before
//!   arrival.
//!
//! All days are UTC dates; an event's day is the UTC date of its `event_timestamp`. Every
//! figure is a stored running total, a difference of two, or (the lead time) a sum of stored
//! counts, so it is exact for any as-of day, from the first event on; on the books and pickup
//! cost a few index lookups per night, whatever the number of event days behind them.
//!
//! Dates: every date parameter must lie in the years the service accepts events in
//! (`MIN_YEAR`–`MAX_YEAR`). Dates derived from them (a year earlier, days before a night) may
//! fall before `MIN_YEAR`: they are answered as computed, with zeros, since no event can be
//! dated there. The one derived date that could pass `MAX_YEAR`, the default `to`, stops at
//! its last day.

use std::future::Future;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use chrono::{NaiveDate, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::answers::AnswerCache;
use super::book::{Book, LeadDays, NightDay, NightPace, NightRange};
use super::ApiState;
use super::{MAX_YEAR, MIN_YEAR};
use crate::auth::Caller;
use crate::error::{parse_query_refusing_empty as parse_query, ApiError, ErrorBody};

/// Nights one request may ask for: two years.
pub const MAX_NIGHTS: i64 = 732;
/// Nights `GET /dashboard/pace` answers without `to`.
pub const DEFAULT_NIGHTS: i64 = 90;
/// Pickup windows: how many, and how long each may be.
pub const MAX_WINDOWS: usize = 5;
pub const MAX_WINDOW_DAYS: i64 = 365;
pub const DEFAULT_WINDOWS: [i32; 3] = [1, 7, 30];
/// The booking curve's reach before the night, and its default.
pub const MAX_CURVE_DAYS: i64 = 730;
pub const DEFAULT_CURVE_DAYS: i64 = 90;
/// Same time last year: 52 weeks back, so that a Saturday compares with a Saturday.
pub const STLY_DAYS: i64 = 364;

/// Query parameters of `GET /dashboard/pace`. An empty value (`pickup=`) is refused, naming the
/// parameter: leave an optional parameter out for its default. Unknown parameters are ignored.
///
/// Read as text and checked afterwards in a fixed order (`parse_pace_query`), so that the
/// parameter named is the first at fault, whatever order the query string gives them in.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PaceParams {
    /// The hotel. A hotel without events gets zeros.
    // Examples on required parameters only: Swagger UI's "Try it out" sends every example.
    #[param(value_type = i32, required = true, minimum = 1, maximum = 2147483647, example = 4101)]
    hotel_id: Option<String>,
    /// The first night, `YYYY-MM-DD` (default: `as_of`).
    #[param(value_type = Option<NaiveDate>)]
    from: Option<String>,
    /// The last night (default: `from` + 89 days); at most 732 nights from `from`.
    #[param(value_type = Option<NaiveDate>)]
    to: Option<String>,
    /// The day the figures are as of: events whose UTC day is after it are not counted
    /// (default: the latest event day counted for the hotel, so that a hotel whose events
    /// stopped still shows its last figures; today, UTC, for a hotel without events).
    #[param(value_type = Option<NaiveDate>)]
    as_of: Option<String>,
    /// Pickup windows in days, comma-separated: 1 to 5 lengths, each 1 to 365 (default
    /// `1,7,30`). A window of n days counts the events of the days `as_of` − n + 1 … `as_of`.
    pickup: Option<String>,
}

/// Query parameters of `GET /dashboard/booking-curve`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CurveParams {
    /// The hotel. A hotel without events gets zeros.
    #[param(value_type = i32, required = true, minimum = 1, maximum = 2147483647, example = 4101)]
    hotel_id: Option<String>,
    /// The night of stay, `YYYY-MM-DD`.
    #[param(value_type = NaiveDate, required = true, example = "2016-06-23")]
    night: Option<String>,
    /// How many days before the night the curve starts, 0 to 730 (default 90).
    #[param(value_type = Option<u32>, minimum = 0, maximum = 730)]
    days: Option<String>,
}

/// Query parameters of `GET /dashboard/lead-time`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LeadTimeParams {
    /// The hotel. A hotel without events gets zeros.
    #[param(value_type = i32, required = true, minimum = 1, maximum = 2147483647, example = 4101)]
    hotel_id: Option<String>,
    /// The first night, `YYYY-MM-DD`.
    #[param(value_type = NaiveDate, required = true, example = "2016-01-01")]
    from: Option<String>,
    /// The last night; at most 732 nights from `from`.
    #[param(value_type = NaiveDate, required = true, example = "2016-12-31")]
    to: Option<String>,
}

/// Bookings, cancellations and net of one night over one pickup window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Pickup {
    /// The window's length, as asked.
    #[schema(example = 7)]
    pub days: i32,
    #[schema(example = 3)]
    pub bookings: i64,
    #[schema(example = 1)]
    pub cancellations: i64,
    /// `bookings` − `cancellations`.
    #[schema(example = 2)]
    pub net: i64,
}

/// The same night and as-of day a year (364 days) earlier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Stly {
    #[schema(example = "2016-03-02")]
    #[serde(serialize_with = "iso_date")]
    pub night: NaiveDate,
    #[schema(example = "2016-02-11")]
    #[serde(serialize_with = "iso_date")]
    pub as_of: NaiveDate,
    #[schema(example = 9)]
    pub on_the_books: i64,
}

/// One night's pace. `Deserialize` too: the chart page reads this endpoint's answers back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PaceNight {
    #[schema(example = 4101)]
    pub hotel_id: i32,
    #[schema(example = "2017-03-01")]
    #[serde(serialize_with = "iso_date")]
    pub night: NaiveDate,
    #[schema(example = "2017-02-10")]
    #[serde(serialize_with = "iso_date")]
    pub as_of: NaiveDate,
    /// Bookings − cancellations of the night counted on or before `as_of`.
    #[schema(example = 12)]
    pub on_the_books: i64,
    /// One per window, in the order asked.
    pub pickup: Vec<Pickup>,
    pub stly: Stly,
}

/// One point of a booking curve.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CurvePoint {
    #[schema(example = 30)]
    pub days_before: i64,
    /// The night − `days_before`.
    #[schema(example = "2016-05-31")]
    #[serde(serialize_with = "iso_date")]
    pub as_of: NaiveDate,
    /// The night's on the books as of `as_of`.
    #[schema(example = 4)]
    pub on_the_books: i64,
    /// The night 364 days earlier, as of 364 days before `as_of`.
    #[schema(example = 3)]
    pub stly_on_the_books: i64,
}

/// Bookings and cancellations made a range of days before the night.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct LeadTimeBucket {
    /// `after`, `0`, `1`, `2-3`, `4-7`, `8-14`, `15-30`, `31-60`, `61-90`, `91-180`,
    /// `181-365`, `366+`. `0` is the night's own day (walk-ins, same-day cancellations);
    /// `after` holds events dated after the night: mostly cancellations and no-shows a hotel's
    /// system records once the night is over. They are counted here (the night's history) but
    /// never on its books as of the night itself.
    #[schema(example = "8-14")]
    pub bucket: &'static str,
    /// Null where open-ended.
    #[schema(example = 8)]
    pub min_days: Option<i32>,
    #[schema(example = 14)]
    pub max_days: Option<i32>,
    #[schema(example = 41)]
    pub bookings: i64,
    #[schema(example = 6)]
    pub cancellations: i64,
}

/// The lead-time buckets, in answer order: name, least and most days before arrival.
const BUCKETS: [(&str, Option<i32>, Option<i32>); 12] = [
    ("after", None, Some(-1)),
    ("0", Some(0), Some(0)),
    ("1", Some(1), Some(1)),
    ("2-3", Some(2), Some(3)),
    ("4-7", Some(4), Some(7)),
    ("8-14", Some(8), Some(14)),
    ("15-30", Some(15), Some(30)),
    ("31-60", Some(31), Some(60)),
    ("61-90", Some(61), Some(90)),
    ("91-180", Some(91), Some(180)),
    ("181-365", Some(181), Some(365)),
    ("366+", Some(366), None),
];

/// A valid `GET /dashboard/pace` query, defaults applied.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PaceQuery {
    pub hotel_id: i32,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub as_of: NaiveDate,
    pub windows: Vec<i32>,
}

/// A valid `GET /dashboard/booking-curve` query.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CurveQuery {
    pub hotel_id: i32,
    pub night: NaiveDate,
    pub days: i64,
}

/// A valid `GET /dashboard/lead-time` query.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LeadTimeQuery {
    pub hotel_id: i32,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// Any of the three, as the answer cache keys them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Question {
    Pace(PaceQuery),
    Curve(CurveQuery),
    LeadTime(LeadTimeQuery),
}

impl Question {
    /// About the bytes of the JSON answer, so that it is written into one buffer rather than
    /// grown by doubling (a 366-night pace answer is ~110 KB).
    fn answer_bytes(&self) -> usize {
        match self {
            Question::Pace(q) => {
                let nights = (q.to - q.from).num_days().max(0) as usize + 1;
                nights * (200 + 60 * q.windows.len())
            }
            Question::Curve(q) => (q.days.max(0) as usize + 1) * 90,
            Question::LeadTime(_) => 1_200,
        }
    }
}

/// Dates as `YYYY-MM-DD`, written in one piece: chrono's own serialisation formats through
/// `Display` a character at a time, and a pace answer holds four dates a night (BENCHMARKS.md,
/// "Figures behind comments in the code").
pub(super) fn iso_date<S: serde::Serializer>(date: &NaiveDate, s: S) -> Result<S::Ok, S::Error> {
    use chrono::Datelike;
    let year = date.year();
    if !(0..=9999).contains(&year) {
        return s.collect_str(date);
    }
    let digit = |n: u32| b'0' + (n % 10) as u8;
    let (y, m, d) = (year as u32, date.month(), date.day());
    let text = [
        digit(y / 1000),
        digit(y / 100),
        digit(y / 10),
        digit(y),
        b'-',
        digit(m / 10),
        digit(m),
        b'-',
        digit(d / 10),
        digit(d),
    ];
    s.serialize_str(std::str::from_utf8(&text).map_err(serde::ser::Error::custom)?)
}

/// Each night from `from` to `to` (zero-filled), as of `as_of`: on the books, pickup over each
/// window, and the same time last year.
#[utoipa::path(
    get,
    path = "/dashboard/pace",
    tag = "dashboard",
    security((), ("api_key" = ["read"])),
    params(PaceParams),
    responses(
        (status = 200, description = "One object per night, by date", body = [PaceNight]),
        (status = 400, description = "A parameter is missing, empty (`pickup=`: leave an optional parameter out for its default) or invalid (a date not exactly `YYYY-MM-DD`); `field` names it. Also two `Authorization` headers (`field`: `Authorization`)", body = ErrorBody),
        (status = 401, description = "The service has API keys (or READ_API_TOKEN) and the request carries no valid one, or a revoked one", body = ErrorBody),
        (status = 403, description = "The key is valid but may not read this hotel's figures: it lacks the `read` scope, or `hotel_id` is not one of its hotels (`field`: `hotel_id`)", body = ErrorBody),
        (status = 503, description = "The dashboard database is unreachable, or the service is at MAX_CONCURRENT_REQUESTS (then with `Retry-After`)", body = ErrorBody),
    )
)]
pub async fn get_pace(
    State(state): State<ApiState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let ask = parse_pace_ask(query.as_deref().unwrap_or(""))?;
    caller.check(ask.hotel_id)?;
    let book = state.book(ask.hotel_id).await?;
    let q = ask.resolve(book.last_event_day().unwrap_or_else(today))?;
    answer(&state, Question::Pace(q.clone()), async {
        pace_of(&book, &q)
    })
    .await
}

/// The pace of `q` from the hotel's book.
pub fn pace_of(book: &Book, q: &PaceQuery) -> Result<Vec<PaceNight>, ApiError> {
    let stly = NightRange {
        from: year_before(q.from)?,
        to: year_before(q.to)?,
        as_of: year_before(q.as_of)?,
    };
    let now = NightRange {
        from: q.from,
        to: q.to,
        as_of: q.as_of,
    };
    pace_nights(q, &book.pace(now, &q.windows), &book.pace(stly, &[]))
}

/// One night's on the books as of each day from `days` days before it to the night itself,
/// beside the same night and days a year (364 days) earlier.
#[utoipa::path(
    get,
    path = "/dashboard/booking-curve",
    tag = "dashboard",
    security((), ("api_key" = ["read"])),
    params(CurveParams),
    responses(
        (status = 200, description = "One object per day before the night, from `days` down to 0", body = [CurvePoint]),
        (status = 400, description = "A parameter is missing, empty (`pickup=`: leave an optional parameter out for its default) or invalid (a date not exactly `YYYY-MM-DD`); `field` names it. Also two `Authorization` headers (`field`: `Authorization`)", body = ErrorBody),
        (status = 401, description = "The service has API keys (or READ_API_TOKEN) and the request carries no valid one, or a revoked one", body = ErrorBody),
        (status = 403, description = "The key is valid but may not read this hotel's figures: it lacks the `read` scope, or `hotel_id` is not one of its hotels (`field`: `hotel_id`)", body = ErrorBody),
        (status = 503, description = "The dashboard database is unreachable, or the service is at MAX_CONCURRENT_REQUESTS (then with `Retry-After`)", body = ErrorBody),
    )
)]
pub async fn get_booking_curve(
    State(state): State<ApiState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let q = parse_curve_query(query.as_deref().unwrap_or(""))?;
    caller.check(q.hotel_id)?;
    let book = state.book(q.hotel_id).await?;
    answer(&state, Question::Curve(q.clone()), async {
        curve_of(&book, &q)
    })
    .await
}

/// The booking curve of `q` from the hotel's book.
pub fn curve_of(book: &Book, q: &CurveQuery) -> Result<Vec<CurvePoint>, ApiError> {
    let first = shift(q.night, -q.days)
        .ok_or_else(|| ApiError::Internal(format!("{} − {} days", q.night, q.days)))?;
    let nights = [
        (q.night, first),
        (year_before(q.night)?, year_before(first)?),
    ];
    curve(q, &book.night_history(&nights))
}

/// Bookings and cancellations of the nights `from` … `to` by days before arrival (the night −
/// the event's day), in twelve buckets, all present.
#[utoipa::path(
    get,
    path = "/dashboard/lead-time",
    tag = "dashboard",
    security((), ("api_key" = ["read"])),
    params(LeadTimeParams),
    responses(
        (status = 200, description = "The twelve buckets, from events after the night to 366 days and more before it", body = [LeadTimeBucket]),
        (status = 400, description = "A parameter is missing, empty (`pickup=`: leave an optional parameter out for its default) or invalid (a date not exactly `YYYY-MM-DD`); `field` names it. Also two `Authorization` headers (`field`: `Authorization`)", body = ErrorBody),
        (status = 401, description = "The service has API keys (or READ_API_TOKEN) and the request carries no valid one, or a revoked one", body = ErrorBody),
        (status = 403, description = "The key is valid but may not read this hotel's figures: it lacks the `read` scope, or `hotel_id` is not one of its hotels (`field`: `hotel_id`)", body = ErrorBody),
        (status = 503, description = "The dashboard database is unreachable, or the service is at MAX_CONCURRENT_REQUESTS (then with `Retry-After`)", body = ErrorBody),
    )
)]
pub async fn get_lead_time(
    State(state): State<ApiState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let q = parse_lead_time_query(query.as_deref().unwrap_or(""))?;
    caller.check(q.hotel_id)?;
    let book = state.book(q.hotel_id).await?;
    answer(&state, Question::LeadTime(q.clone()), async {
        Ok(lead_time(&book.lead_days(q.from, q.to)))
    })
    .await
}

/// The JSON answer to `question`: from the recent answers, or computed and kept.
async fn answer<T: Serialize>(
    state: &ApiState,
    question: Question,
    compute: impl Future<Output = Result<T, ApiError>>,
) -> Result<Response, ApiError> {
    let generation = state.generation(state.pace_cache.is_on());
    let bytes = question.answer_bytes();
    state
        .pace_cache
        .json(generation, question, bytes, compute)
        .await
}

/// Recent answers of the pace endpoints, as JSON (see `answers.rs`).
pub type PaceCache = AnswerCache<Question, Bytes>;

pub(super) fn today() -> NaiveDate {
    Utc::now().date_naive()
}

/// `date` moved by `days`; `None` only beyond chrono's range, which the accepted dates and the
/// shifts used here never reach.
fn shift(date: NaiveDate, days: i64) -> Option<NaiveDate> {
    date.checked_add_signed(TimeDelta::try_days(days)?)
}

fn year_before(date: NaiveDate) -> Result<NaiveDate, ApiError> {
    shift(date, -STLY_DAYS).ok_or_else(|| ApiError::Internal(format!("{date} − 364 days")))
}

fn first_day() -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(MIN_YEAR, 1, 1)
}

fn last_day() -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(MAX_YEAR, 12, 31)
}

pub(super) fn required(name: &str, value: Option<String>) -> Result<String, ApiError> {
    value.ok_or_else(|| ApiError::bad_param(name, "is required"))
}

pub(super) fn integer(name: &str, value: &str, lo: i64, hi: i64) -> Result<i64, ApiError> {
    value
        .parse::<i64>()
        .ok()
        .filter(|n| (lo..=hi).contains(n))
        .ok_or_else(|| ApiError::bad_param(name, format!("must be an integer from {lo} to {hi}")))
}

pub(super) fn hotel_id(value: Option<String>) -> Result<i32, ApiError> {
    let id = integer(
        "hotel_id",
        &required("hotel_id", value)?,
        1,
        i64::from(i32::MAX),
    )?;
    i32::try_from(id).map_err(|_| ApiError::bad_param("hotel_id", "is out of range"))
}

/// A `YYYY-MM-DD` date within the years the service accepts events in: exactly four digits,
/// two and two (chrono's `%Y-%m-%d` alone also takes `2023-1-1` and `+2023-01-01`).
pub(super) fn date(name: &str, value: &str) -> Result<NaiveDate, ApiError> {
    let (first, last) = (first_day(), last_day());
    let shape = value.len() == 10
        && value.bytes().enumerate().all(|(i, c)| match i {
            4 | 7 => c == b'-',
            _ => c.is_ascii_digit(),
        });
    shape
        .then(|| NaiveDate::parse_from_str(value, "%Y-%m-%d").ok())
        .flatten()
        .filter(|d| Some(*d) >= first && Some(*d) <= last)
        .ok_or_else(|| {
            ApiError::bad_param(
                name,
                format!("must be a date YYYY-MM-DD from {MIN_YEAR}-01-01 to {MAX_YEAR}-12-31"),
            )
        })
}

/// `to` not before `from` and at most `MAX_NIGHTS` nights from it.
pub(super) fn check_nights(from: NaiveDate, to: NaiveDate) -> Result<(), ApiError> {
    if to < from {
        return Err(ApiError::bad_param("to", "must not be before `from`"));
    }
    if (to - from).num_days() + 1 > MAX_NIGHTS {
        return Err(ApiError::bad_param(
            "to",
            format!("must be at most {MAX_NIGHTS} nights from `from` (inclusive)"),
        ));
    }
    Ok(())
}

/// A `GET /dashboard/pace` query as written: checked, its defaults not yet applied (the default
/// as-of day is the hotel's latest event day, known once its figures are at hand).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaceAsk {
    pub hotel_id: i32,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub as_of: Option<NaiveDate>,
    pub windows: Vec<i32>,
}

impl PaceAsk {
    /// The query with its defaults: `as_of` (when absent) is `default_as_of`, `from` is `as_of`,
    /// `to` is `from` + 89 days.
    pub fn resolve(self, default_as_of: NaiveDate) -> Result<PaceQuery, ApiError> {
        let as_of = self.as_of.unwrap_or(default_as_of);
        let from = self.from.unwrap_or(as_of);
        let to = match self.to {
            Some(to) => to,
            None => default_to(from),
        };
        check_nights(from, to)?;
        Ok(PaceQuery {
            hotel_id: self.hotel_id,
            from,
            to,
            as_of,
            windows: self.windows,
        })
    }
}

/// `from` + 89 days, stopping at the last accepted day.
pub(super) fn default_to(from: NaiveDate) -> NaiveDate {
    match (shift(from, DEFAULT_NIGHTS - 1), last_day()) {
        (Some(d), Some(last)) => d.min(last),
        _ => from,
    }
}

/// Reads `GET /dashboard/pace`'s query string, naming the parameter at fault; `today` is the
/// default `as_of`.
pub fn parse_pace_query(query: &str, today: NaiveDate) -> Result<PaceQuery, ApiError> {
    parse_pace_ask(query)?.resolve(today)
}

/// Reads `GET /dashboard/pace`'s query string, naming the parameter at fault; no defaults yet.
pub fn parse_pace_ask(query: &str) -> Result<PaceAsk, ApiError> {
    let PaceParams {
        hotel_id: hotel,
        from,
        to,
        as_of,
        pickup,
    } = parse_query(query)?;
    let hotel_id = hotel_id(hotel)?;
    let as_of = as_of.map(|v| date("as_of", &v)).transpose()?;
    let from = from.map(|v| date("from", &v)).transpose()?;
    let to = to.map(|v| date("to", &v)).transpose()?;
    if let (Some(from), Some(to)) = (from.or(as_of), to) {
        check_nights(from, to)?;
    }
    let windows = match pickup {
        None => DEFAULT_WINDOWS.to_vec(),
        Some(list) => {
            let windows = list
                .split(',')
                .map(|w| {
                    integer("pickup", w.trim(), 1, MAX_WINDOW_DAYS)
                        .map(|n| n as i32)
                        .map_err(|_| {
                            ApiError::bad_param(
                                "pickup",
                                format!(
                                    "must be 1 to {MAX_WINDOWS} comma-separated window lengths, each 1 to {MAX_WINDOW_DAYS} days"
                                ),
                            )
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            if windows.len() > MAX_WINDOWS {
                return Err(ApiError::bad_param(
                    "pickup",
                    format!("has more than {MAX_WINDOWS} windows"),
                ));
            }
            windows
        }
    };
    Ok(PaceAsk {
        hotel_id,
        from,
        to,
        as_of,
        windows,
    })
}

/// Reads `GET /dashboard/booking-curve`'s query string, naming the parameter at fault.
pub fn parse_curve_query(query: &str) -> Result<CurveQuery, ApiError> {
    let CurveParams {
        hotel_id: hotel,
        night,
        days,
    } = parse_query(query)?;
    let hotel_id = hotel_id(hotel)?;
    let night = date("night", &required("night", night)?)?;
    let days = match days {
        Some(v) => integer("days", &v, 0, MAX_CURVE_DAYS)?,
        None => DEFAULT_CURVE_DAYS,
    };
    Ok(CurveQuery {
        hotel_id,
        night,
        days,
    })
}

/// Reads `GET /dashboard/lead-time`'s query string, naming the parameter at fault.
pub fn parse_lead_time_query(query: &str) -> Result<LeadTimeQuery, ApiError> {
    let LeadTimeParams {
        hotel_id: hotel,
        from,
        to,
    } = parse_query(query)?;
    let hotel_id = hotel_id(hotel)?;
    let from = date("from", &required("from", from)?)?;
    let to = date("to", &required("to", to)?)?;
    check_nights(from, to)?;
    Ok(LeadTimeQuery { hotel_id, from, to })
}

/// Every night of `q`, with the stored figures of `nights` and of `last_year` (each sorted by
/// night, within its range) and zeros elsewhere.
pub fn pace_nights(
    q: &PaceQuery,
    nights: &[NightPace],
    last_year: &[NightPace],
) -> Result<Vec<PaceNight>, ApiError> {
    let stly_as_of = year_before(q.as_of)?;
    let mut stored = nights.iter().peekable();
    let mut stored_last_year = last_year.iter().peekable();
    let mut out = Vec::new();
    let mut night = q.from;
    while night <= q.to {
        let stly_night = year_before(night)?;
        let now = stored.next_if(|n| n.night == night);
        let then = stored_last_year.next_if(|n| n.night == stly_night);
        let pickup = q
            .windows
            .iter()
            .enumerate()
            .map(|(i, &days)| {
                let c = now
                    .and_then(|n| n.pickup.get(i))
                    .copied()
                    .unwrap_or_default();
                Pickup {
                    days,
                    bookings: c.bookings,
                    cancellations: c.cancellations,
                    net: c.bookings - c.cancellations,
                }
            })
            .collect();
        out.push(PaceNight {
            hotel_id: q.hotel_id,
            night,
            as_of: q.as_of,
            on_the_books: now.map_or(0, |n| n.on_the_books),
            pickup,
            stly: Stly {
                night: stly_night,
                as_of: stly_as_of,
                on_the_books: then.map_or(0, |n| n.on_the_books),
            },
        });
        night = shift(night, 1).ok_or_else(|| ApiError::Internal(format!("{night} + 1 day")))?;
    }
    Ok(out)
}

/// The curve of `q`, from `history`: the on the books of the night and of the night a year
/// earlier as of event days up to each as-of day, sorted by night and day.
pub fn curve(q: &CurveQuery, history: &[NightDay]) -> Result<Vec<CurvePoint>, ApiError> {
    let as_ofs = (0..=q.days)
        .rev()
        .map(|k| shift(q.night, -k))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| ApiError::Internal(format!("{} − {} days", q.night, q.days)))?;
    let a_year_before = as_ofs
        .iter()
        .map(|&d| year_before(d))
        .collect::<Result<Vec<_>, _>>()?;
    let now = running_sums(history, q.night, &as_ofs);
    let then = running_sums(history, year_before(q.night)?, &a_year_before);
    Ok(as_ofs
        .iter()
        .zip(now.into_iter().zip(then))
        .zip((0..=q.days).rev())
        .map(|((&as_of, (on_the_books, stly)), days_before)| CurvePoint {
            days_before,
            as_of,
            on_the_books,
            stly_on_the_books: stly,
        })
        .collect())
}

/// On the books of `night` as of each of `as_ofs` (ascending): that of its last event day up to
/// each, in one walk.
fn running_sums(history: &[NightDay], night: NaiveDate, as_ofs: &[NaiveDate]) -> Vec<i64> {
    let mut days = history.iter().filter(|h| h.night == night).peekable();
    let mut total = 0;
    as_ofs
        .iter()
        .map(|&as_of| {
            while let Some(h) = days.next_if(|h| h.event_day <= as_of) {
                total = h.on_the_books;
            }
            total
        })
        .collect()
}

/// The twelve buckets, summed from `days` (per days before arrival).
pub fn lead_time(days: &[LeadDays]) -> Vec<LeadTimeBucket> {
    BUCKETS
        .iter()
        .map(|&(bucket, min_days, max_days)| {
            let inside =
                |d: i32| min_days.is_none_or(|lo| d >= lo) && max_days.is_none_or(|hi| d <= hi);
            let (bookings, cancellations) = days
                .iter()
                .filter(|d| inside(d.days_before))
                .fold((0, 0), |(b, c), d| (b + d.bookings, c + d.cancellations));
            LeadTimeBucket {
                bucket,
                min_days,
                max_days,
                bookings,
                cancellations,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn dates_in_answers_are_written_as_chrono_writes_them() {
        #[derive(Serialize)]
        struct Ours(#[serde(serialize_with = "iso_date")] NaiveDate);
        let first = d("1900-01-01");
        for n in (0..80_000).step_by(37).chain([73_048]) {
            let day = first + TimeDelta::days(n);
            let ours = serde_json::to_string(&Ours(day)).unwrap();
            assert_eq!(ours, serde_json::to_string(&day).unwrap());
        }
        for odd in [
            NaiveDate::MIN,
            NaiveDate::MAX,
            d("0000-01-01"),
            d("9999-12-31"),
        ] {
            let ours = serde_json::to_string(&Ours(odd)).unwrap();
            assert_eq!(ours, serde_json::to_string(&odd).unwrap());
        }
    }

    fn field(e: ApiError) -> Option<String> {
        match e {
            ApiError::BadRequest { field, .. } => field,
            other => panic!("{other}"),
        }
    }

    #[test]
    fn pace_defaults_follow_as_of_and_stop_at_the_last_accepted_day() {
        let today = d("2024-02-10");
        let q = parse_pace_query("hotel_id=7", today).unwrap();
        assert_eq!(
            (q.from, q.to, q.as_of, q.windows.clone()),
            (today, d("2024-05-09"), today, vec![1, 7, 30])
        );
        let q = parse_pace_query(
            "hotel_id=7&as_of=2023-01-01&from=2022-12-01&pickup=30,%201",
            today,
        )
        .unwrap();
        assert_eq!(
            (q.from, q.to, q.as_of, q.windows),
            (
                d("2022-12-01"),
                d("2023-02-28"),
                d("2023-01-01"),
                vec![30, 1]
            )
        );
        let q = parse_pace_query("hotel_id=7&from=2100-12-01", today).unwrap();
        assert_eq!(q.to, d("2100-12-31"));
        let q = parse_pace_query("hotel_id=7&from=2022-01-01&to=2024-01-02", today).unwrap();
        assert_eq!((q.to - q.from).num_days() + 1, MAX_NIGHTS);
    }

    #[test]
    fn bad_parameters_are_named() {
        let today = d("2024-02-10");
        for (query, name) in [
            ("", "hotel_id"),
            ("hotel_id=0", "hotel_id"),
            ("hotel_id=7&as_of=1899-12-31", "as_of"),
            ("hotel_id=7&as_of=2024-02-30", "as_of"),
            ("hotel_id=7&from=2101-01-01", "from"),
            ("hotel_id=7&from=2024-01-02&to=2024-01-01", "to"),
            ("hotel_id=7&from=2022-01-01&to=2024-01-03", "to"),
            ("hotel_id=7&to=2101-01-01", "to"),
            ("hotel_id=7&pickup=0", "pickup"),
            ("hotel_id=7&pickup=366", "pickup"),
            ("hotel_id=7&pickup=1,2,3,4,5,6", "pickup"),
            ("hotel_id=7&pickup=1,,2", "pickup"),
            ("hotel_id=7&pickup=a", "pickup"),
            ("hotel_id=7&as_of=2024-01-01&as_of=2024-01-02", "as_of"),
        ] {
            let e = parse_pace_query(query, today).unwrap_err();
            assert_eq!(field(e).as_deref(), Some(name), "{query}");
        }
        for (query, name) in [
            ("night=2024-01-01", "hotel_id"),
            ("hotel_id=7", "night"),
            ("hotel_id=7&night=24-01-01", "night"),
            ("hotel_id=7&night=2024-01-01&days=731", "days"),
            ("hotel_id=7&night=2024-01-01&days=-1", "days"),
        ] {
            let e = parse_curve_query(query).unwrap_err();
            assert_eq!(field(e).as_deref(), Some(name), "{query}");
        }
        for (query, name) in [
            ("hotel_id=7&to=2024-01-01", "from"),
            ("hotel_id=7&from=2024-01-01", "to"),
            ("hotel_id=7&from=2024-01-01&to=2026-01-02", "to"),
        ] {
            let e = parse_lead_time_query(query).unwrap_err();
            assert_eq!(field(e).as_deref(), Some(name), "{query}");
        }
        assert!(parse_lead_time_query("hotel_id=7&from=2024-01-01&to=2026-01-01").is_ok());
        let q = parse_curve_query("hotel_id=7&night=1900-01-01&days=730").unwrap();
        assert_eq!(q.days, 730);
    }

    #[test]
    fn lead_time_buckets_cover_every_day_once_in_order() {
        let days: Vec<LeadDays> = (-400..=400)
            .map(|days_before| LeadDays {
                days_before,
                bookings: 1,
                cancellations: 2,
            })
            .collect();
        let buckets = lead_time(&days);
        let names: Vec<&str> = buckets.iter().map(|b| b.bucket).collect();
        assert_eq!(
            names,
            [
                "after", "0", "1", "2-3", "4-7", "8-14", "15-30", "31-60", "61-90", "91-180",
                "181-365", "366+"
            ]
        );
        let counts: Vec<i64> = buckets.iter().map(|b| b.bookings).collect();
        assert_eq!(counts, [400, 1, 1, 2, 4, 7, 16, 30, 30, 90, 185, 35]);
        assert_eq!(
            buckets.iter().map(|b| b.cancellations).sum::<i64>(),
            2 * 801
        );
        assert!(lead_time(&[])
            .iter()
            .all(|b| b.bookings == 0 && b.cancellations == 0));
    }

    #[test]
    fn the_curve_sums_up_to_each_day_on_both_nights() {
        let q = CurveQuery {
            hotel_id: 7,
            night: d("2024-03-01"),
            days: 3,
        };
        let h = |night: &str, day: &str, on_the_books| NightDay {
            night: d(night),
            event_day: d(day),
            on_the_books,
        };
        // Running totals: the first row of each night is what it starts from.
        let history = [
            h("2023-03-03", "2023-02-01", 2),
            h("2023-03-03", "2023-03-01", 3),
            h("2024-03-01", "2024-02-27", 5),
            h("2024-03-01", "2024-02-29", 4),
        ];
        let points = curve(&q, &history).unwrap();
        let got: Vec<_> = points
            .iter()
            .map(|p| (p.days_before, p.as_of, p.on_the_books, p.stly_on_the_books))
            .collect();
        assert_eq!(
            got,
            [
                (3, d("2024-02-27"), 5, 2),
                // 364 days before 2024-02-28 is 2023-03-01: a leap day lies between.
                (2, d("2024-02-28"), 5, 3),
                (1, d("2024-02-29"), 4, 3),
                (0, d("2024-03-01"), 4, 3),
            ]
        );
    }
}
