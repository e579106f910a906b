//! Query parameters shared by the Dashboard's endpoints: how a hotel, a date, an integer and a
//! range of nights are read and checked, each naming the parameter at fault.

use chrono::{NaiveDate, Utc};
use utoipa::{IntoParams, IntoResponses};

use super::{MAX_YEAR, MIN_YEAR};
use crate::error::{ApiError, ErrorBody};

/// Nights one request may ask for: two years.
pub const MAX_NIGHTS: i64 = 732;

pub(super) fn today() -> NaiveDate {
    Utc::now().date_naive()
}

fn first_day() -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(MIN_YEAR, 1, 1)
}

pub(super) fn last_day() -> Option<NaiveDate> {
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

/// The refusals every read endpoint of the Dashboard documents besides its own 400: no valid
/// key, a key that may not read the hotel, the database or the service out of reach.
#[derive(IntoResponses)]
#[allow(dead_code)] // a type for the OpenAPI document only
pub enum ReadRefusals {
    #[response(
        status = 401,
        description = "The service has API keys (or READ_API_TOKEN) and the request carries no valid one, or a revoked one"
    )]
    Unauthorized(ErrorBody),
    #[response(
        status = 403,
        description = "The key is valid but may not read this hotel's figures: it lacks the `read` scope, or `hotel_id` is not one of its hotels (`field`: `hotel_id`)"
    )]
    Forbidden(ErrorBody),
    #[response(
        status = 503,
        description = "The dashboard database is unreachable, or the service is at MAX_CONCURRENT_REQUESTS (then with `Retry-After`)"
    )]
    Unavailable(ErrorBody),
}

/// `hotel_id` as every read endpoint of the Dashboard documents it. The endpoints' own parameter
/// structs read it (and mark theirs `#[param(ignore)]`); their `params(HotelParam, …)` puts this
/// one first.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // a type for the OpenAPI document only
pub struct HotelParam {
    /// The hotel. A hotel without events gets zeros.
    // Examples on required parameters only: Swagger UI's "Try it out" fills in every example
    // and sends it. The examples are the real hotel of data/city_hotel_events.csv.gz and its
    // years.
    #[param(value_type = i32, required = true, minimum = 1, maximum = 2147483647, example = 4101)]
    hotel_id: Option<String>,
}

/// The optional range of nights of `GET /dashboard/pace` and `GET /dashboard/forecast`, documented
/// once; their parameter structs read it.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // a type for the OpenAPI document only
pub struct NightsParams {
    /// The first night, `YYYY-MM-DD` (default: `as_of`).
    #[param(value_type = Option<NaiveDate>)]
    from: Option<String>,
    /// The last night (default: `from` + 89 days); at most 732 nights from `from`.
    #[param(value_type = Option<NaiveDate>)]
    to: Option<String>,
}
