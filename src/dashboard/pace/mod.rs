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

mod compute;
mod query;

use std::future::Future;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;

use super::answers::AnswerCache;
use super::book::Book;
use super::book::NightRange;
use super::params::today;
use super::params::{HotelParam, NightsParams, ReadRefusals};
use super::ApiState;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};

pub use super::params::MAX_NIGHTS;
pub use compute::{curve, lead_time, pace_nights};
use compute::{shift, year_before};
pub use query::{
    parse_curve_query, parse_lead_time_query, parse_pace_ask, parse_pace_query, CurveParams,
    CurveQuery, LeadTimeParams, LeadTimeQuery, PaceAsk, PaceParams, PaceQuery,
};

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

/// Bookings, cancellations and net of one night over one pickup window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
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

/// One night's pace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
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

/// The key of a pace, booking-curve or lead-time answer in [`PaceCache`]: the valid query.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PaceKey {
    Pace(PaceQuery),
    Curve(CurveQuery),
    LeadTime(LeadTimeQuery),
}

impl PaceKey {
    /// About the bytes of the JSON answer, so that it is written into one buffer rather than
    /// grown by doubling.
    fn answer_bytes(&self) -> usize {
        match self {
            PaceKey::Pace(q) => {
                let nights = (q.to - q.from).num_days().max(0) as usize + 1;
                nights * (200 + 60 * q.windows.len())
            }
            PaceKey::Curve(q) => (q.days.max(0) as usize + 1) * 90,
            PaceKey::LeadTime(_) => 1_200,
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
    params(HotelParam, NightsParams, PaceParams),
    responses(
        (status = 200, description = "One object per night, by date", body = [PaceNight]),
        (status = 400, description = "A parameter is missing, empty (`pickup=`: leave an optional parameter out for its default) or invalid (a date not exactly `YYYY-MM-DD`); `field` names it. Also two `Authorization` headers (`field`: `Authorization`)", body = ErrorBody),
        ReadRefusals,
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
    answer(&state, PaceKey::Pace(q.clone()), async {
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
    params(HotelParam, CurveParams),
    responses(
        (status = 200, description = "One object per day before the night, from `days` down to 0", body = [CurvePoint]),
        (status = 400, description = "A parameter is missing, empty (`pickup=`: leave an optional parameter out for its default) or invalid (a date not exactly `YYYY-MM-DD`); `field` names it. Also two `Authorization` headers (`field`: `Authorization`)", body = ErrorBody),
        ReadRefusals,
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
    answer(&state, PaceKey::Curve(q.clone()), async {
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
    params(HotelParam, LeadTimeParams),
    responses(
        (status = 200, description = "The twelve buckets, from events after the night to 366 days and more before it", body = [LeadTimeBucket]),
        (status = 400, description = "A parameter is missing, empty (`pickup=`: leave an optional parameter out for its default) or invalid (a date not exactly `YYYY-MM-DD`); `field` names it. Also two `Authorization` headers (`field`: `Authorization`)", body = ErrorBody),
        ReadRefusals,
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
    answer(&state, PaceKey::LeadTime(q.clone()), async {
        Ok(lead_time(&book.lead_days(q.from, q.to)))
    })
    .await
}

/// The JSON answer to the query `key`: from the recent answers, or computed and kept.
async fn answer<T: Serialize>(
    state: &ApiState,
    key: PaceKey,
    compute: impl Future<Output = Result<T, ApiError>>,
) -> Result<Response, ApiError> {
    let generation = state.generation(state.pace_cache.is_on());
    let bytes = key.answer_bytes();
    state.pace_cache.json(generation, key, bytes, compute).await
}

/// Recent answers of the pace endpoints, as JSON (see [`AnswerCache`]).
pub type PaceCache = AnswerCache<PaceKey, Bytes>;

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

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
}
