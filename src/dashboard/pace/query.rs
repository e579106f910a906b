//! The pace endpoints' query strings: their OpenAPI parameters, and what a valid query is.

use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::IntoParams;

use super::compute::shift;
use super::{
    DEFAULT_CURVE_DAYS, DEFAULT_NIGHTS, DEFAULT_WINDOWS, MAX_CURVE_DAYS, MAX_WINDOWS,
    MAX_WINDOW_DAYS,
};
use crate::dashboard::params::{check_nights, date, hotel_id, integer, last_day, required};
use crate::error::{parse_query_refusing_empty as parse_query, ApiError};

/// Query parameters of `GET /dashboard/pace`. An empty value (`pickup=`) is refused, naming the
/// parameter: leave an optional parameter out for its default. Unknown parameters are ignored.
///
/// Read as text and checked afterwards in a fixed order (`parse_pace_query`), so that the
/// parameter named is the first at fault, whatever order the query string gives them in.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PaceParams {
    #[param(ignore)]
    hotel_id: Option<String>,
    #[param(ignore)]
    from: Option<String>,
    #[param(ignore)]
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
    #[param(ignore)]
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
    #[param(ignore)]
    hotel_id: Option<String>,
    /// The first night, `YYYY-MM-DD`.
    #[param(value_type = NaiveDate, required = true, example = "2016-01-01")]
    from: Option<String>,
    /// The last night; at most 732 nights from `from`.
    #[param(value_type = NaiveDate, required = true, example = "2016-12-31")]
    to: Option<String>,
}

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

#[cfg(test)]
mod tests {
    use super::super::MAX_NIGHTS;
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
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
}
