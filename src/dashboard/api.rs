//! `GET /dashboard`: a hotel's bookings, cancellations and net booking count per month or per
//! day, on the event or the stay basis, from the Dashboard's own tables.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::answers::{AnswerCache, Weight};
use super::params::{HotelParam, ReadRefusals};
use super::store::{self, DayFigures};
use super::ApiState;
use super::Basis;
use super::{MAX_YEAR, MIN_YEAR};
use crate::auth::Caller;
use crate::error::{parse_query_refusing_empty as parse_query, ApiError, ErrorBody};

/// Query parameters of `GET /dashboard`. An empty value (`month=`) is refused, naming the
/// parameter: leave an optional parameter out for its default. Unknown parameters are ignored.
///
/// Read as text and checked afterwards in this order (`parse_dashboard_query`), so that the
/// parameter named is the first at fault here, whatever order the query string gives them in.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DashboardParams {
    #[param(ignore)]
    hotel_id: Option<String>,
    /// `month`: one row per month. `day`: one row per day.
    #[param(value_type = Period, required = true, inline, example = "month")]
    period: Option<String>,
    /// The year, 1900 to 2100.
    #[param(value_type = i32, required = true, minimum = 1900, maximum = 2100, example = 2016)]
    year: Option<String>,
    /// Narrows the answer to this month, 1 to 12 (with `period=month`, one row).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 12)]
    month: Option<String>,
    /// With `period=day` and `month`: narrows the answer to this day of the month (one row). It
    /// must exist (no 30 February).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 31)]
    day: Option<String>,
    /// `event` (default): counted on the UTC date of each event's `event_timestamp` (when the
    /// business came in). `stay`: counted on each event's `night_of_stay` (room-nights on the
    /// books per night).
    #[param(value_type = Option<Basis>, inline)]
    basis: Option<String>,
}

/// The values `period` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum Period {
    Month,
    Day,
}

impl Period {
    fn name(self) -> &'static str {
        match self {
            Period::Month => "month",
            Period::Day => "day",
        }
    }
}

/// One bucket's figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(example = json!({"hotel_id": 4101, "period": "month", "year": 2016, "month": 6, "day": null,
                          "bookings": 412, "cancellations": 57, "booking_count": 355}))]
pub struct DashboardRow {
    #[schema(example = 4101)]
    pub hotel_id: i32,
    /// `month` or `day`, as asked.
    #[schema(example = "month")]
    pub period: &'static str,
    #[schema(example = 2016)]
    pub year: i32,
    #[schema(example = 6)]
    pub month: u32,
    /// The day of the month; null in monthly rows.
    #[schema(example = json!(null))]
    pub day: Option<u32>,
    /// Events with status 1 (booking) in the bucket.
    #[schema(example = 412)]
    pub bookings: i64,
    /// Events with status 2 (cancellation) in the bucket.
    #[schema(example = 57)]
    pub cancellations: i64,
    /// `bookings` − `cancellations`: the net room-nights (the original system's figure).
    #[schema(example = 355)]
    pub booking_count: i64,
}

/// A valid `GET /dashboard` query: the hotel, the shape of the answer and its date range.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DashboardQuery {
    pub hotel_id: i32,
    pub period: Period,
    pub basis: Basis,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// A hotel's figures per month or per day, every bucket of the range present (zero-filled),
/// sorted by date.
///
/// `period=month&year=2022` answers 12 rows, `period=day&year=2022` 365, adding `month=6`
/// narrows to June (1 row by month, 30 by day), adding `day=24` to one day. The figures come
/// from the Dashboard's own tables, which the sync keeps up with the Data Provider by following
/// its change feed.
#[utoipa::path(
    get,
    path = "/dashboard",
    tag = "dashboard",
    security((), ("api_key" = ["read"])),
    params(HotelParam, DashboardParams),
    responses(
        (status = 200, description = "One row per bucket, by date", body = [DashboardRow]),
        (status = 400, description = "A parameter is missing, empty (`pickup=`: leave an optional parameter out for its default) or invalid (a date not exactly `YYYY-MM-DD`); `field` names it. Also two `Authorization` headers (`field`: `Authorization`)", body = ErrorBody),
        ReadRefusals,
    )
)]
pub async fn get_dashboard(
    State(state): State<ApiState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let q = parse_dashboard_query(query.as_deref().unwrap_or(""))?;
    caller.check(q.hotel_id)?;
    let answer = figures(&state, q).await?;
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        answer.json.clone(),
    )
        .into_response())
}

/// The answer to `q`: from the recent answers, or read from the tables and kept. `GET
/// /dashboard` and the chart page both read through here, so they show the same figures.
pub async fn figures(state: &ApiState, q: DashboardQuery) -> Result<Arc<Answer>, ApiError> {
    // Read before the tables: an answer read across a commit is kept under the generation
    // that commit ends.
    let generation = state.generation(state.cache.is_on());
    if let Some(answer) = generation.and_then(|g| state.cache.get(&q, g)) {
        return Ok(answer);
    }
    let (hotel_id, basis, from, to) = (q.hotel_id, q.basis, q.from, q.to);
    let days = state
        .reads
        .read(|pool| async move { store::daily(&pool, hotel_id, basis, from, to).await })
        .await?;
    let rows = rows(&q, &days);
    let json =
        Bytes::from(serde_json::to_vec(&rows).map_err(|e| ApiError::Internal(e.to_string()))?);
    let answer = Arc::new(Answer { rows, json });
    if let Some(g) = generation {
        state.cache.put(q, g, answer.clone());
    }
    Ok(answer)
}

/// One question's rows, and the JSON `GET /dashboard` sends for them.
#[derive(Debug)]
pub struct Answer {
    pub rows: Vec<DashboardRow>,
    pub json: Bytes,
}

/// Recent answers of `GET /dashboard` (and the chart page's charts), see `answers.rs`.
pub type DashboardCache = AnswerCache<DashboardQuery, Arc<Answer>>;

/// The JSON, and the rows it was made from: about as large again.
impl Weight for Arc<Answer> {
    fn weight(&self) -> usize {
        self.json.len() + self.rows.len() * std::mem::size_of::<DashboardRow>()
    }
}

/// Reads `GET /dashboard`'s query string, naming the parameter at fault.
pub fn parse_dashboard_query(query: &str) -> Result<DashboardQuery, ApiError> {
    let DashboardParams {
        hotel_id,
        period,
        year,
        month,
        day,
        basis,
    } = parse_query(query)?;
    use super::params::{integer as int, required};

    let hotel_id = int(
        "hotel_id",
        &required("hotel_id", hotel_id)?,
        1,
        i64::from(i32::MAX),
    )? as i32;
    let period = match required("period", period)?.as_str() {
        "month" => Period::Month,
        "day" => Period::Day,
        _ => return Err(ApiError::bad_param("period", "must be `month` or `day`")),
    };
    let year = int(
        "year",
        &required("year", year)?,
        i64::from(MIN_YEAR),
        i64::from(MAX_YEAR),
    )? as i32;
    let month = month
        .map(|m| int("month", &m, 1, 12))
        .transpose()?
        .map(|m| m as u32);
    let day = day
        .map(|d| int("day", &d, 1, 31))
        .transpose()?
        .map(|d| d as u32);
    let basis = match basis.as_deref() {
        None | Some("event") => Basis::Event,
        Some("stay") => Basis::Stay,
        Some(_) => return Err(ApiError::bad_param("basis", "must be `event` or `stay`")),
    };

    let ymd = |m: u32, d: u32| NaiveDate::from_ymd_opt(year, m, d);
    let (from, to) = match (month, day) {
        (None, None) => (ymd(1, 1), ymd(12, 31)),
        (Some(m), None) => (ymd(m, 1), last_of_month(year, m)),
        (None, Some(_)) => {
            return Err(ApiError::bad_param(
                "day",
                "needs `month` too (a day of which month?)",
            ))
        }
        (Some(m), Some(d)) => {
            if period == Period::Month {
                return Err(ApiError::bad_param(
                    "day",
                    "only narrows `period=day`; with `period=month` give `month` alone",
                ));
            }
            let date = ymd(m, d).ok_or_else(|| {
                ApiError::bad_param("day", format!("is not a day of {year}-{m:02}"))
            })?;
            (Some(date), Some(date))
        }
    };
    match (from, to) {
        (Some(from), Some(to)) => Ok(DashboardQuery {
            hotel_id,
            period,
            basis,
            from,
            to,
        }),
        // Unreachable for years 1900–2100 and months 1–12, which chrono always represents.
        _ => Err(ApiError::bad_param("year", "is out of range")),
    }
}

fn last_of_month(year: i32, month: u32) -> Option<NaiveDate> {
    let (y, m) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1)?.pred_opt()
}

/// The answer: every bucket of `q`'s range, with the stored figures of `days` (sorted by day,
/// all within the range) added in and zeros elsewhere.
pub fn rows(q: &DashboardQuery, days: &[DayFigures]) -> Vec<DashboardRow> {
    let mut out: Vec<DashboardRow> = Vec::new();
    let mut stored = days.iter().peekable();
    let mut date = q.from;
    loop {
        let (month, day) = match q.period {
            Period::Month => (date.month(), None),
            Period::Day => (date.month(), Some(date.day())),
        };
        let same_bucket = out.last().is_some_and(|r| r.month == month && r.day == day);
        if !same_bucket {
            out.push(DashboardRow {
                hotel_id: q.hotel_id,
                period: q.period.name(),
                year: date.year(),
                month,
                day,
                bookings: 0,
                cancellations: 0,
                booking_count: 0,
            });
        }
        while let Some(f) = stored.next_if(|f| f.day <= date) {
            if f.day == date {
                if let Some(row) = out.last_mut() {
                    row.bookings += f.bookings;
                    row.cancellations += f.cancellations;
                    row.booking_count = row.bookings - row.cancellations;
                }
            }
        }
        match date.succ_opt() {
            Some(next) if next <= q.to => date = next,
            _ => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn q(query: &str) -> DashboardQuery {
        parse_dashboard_query(query).unwrap()
    }

    #[test]
    fn the_answer_cache_answers_the_same_question_only_and_can_be_off() {
        let june = q("hotel_id=1&period=day&year=2022&month=6");
        let july = q("hotel_id=1&period=day&year=2022&month=7");
        let cache = DashboardCache::new(Duration::from_secs(60));
        let answer = |json: &'static [u8]| {
            Arc::new(Answer {
                rows: Vec::new(),
                json: Bytes::from_static(json),
            })
        };
        assert!(cache.get(&june, 1).is_none());
        cache.put(june.clone(), 1, answer(b"[june]"));
        assert_eq!(
            cache.get(&june, 1).map(|a| a.json.clone()),
            Some(Bytes::from_static(b"[june]"))
        );
        assert!(
            cache.get(&july, 1).is_none(),
            "another question, another answer"
        );
        assert!(
            cache.get(&june, 2).is_none(),
            "an answer kept before the figures changed is not the answer any more"
        );

        let off = DashboardCache::new(Duration::ZERO);
        off.put(june.clone(), 1, answer(b"[june]"));
        assert!(
            off.get(&june, 1).is_none(),
            "a zero TTL turns the cache off"
        );
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn parameters_are_checked_in_their_documented_order() {
        let error = |q: &str| parse_dashboard_query(q).unwrap_err().to_string();
        assert_eq!(
            error("period=week"),
            "query parameter `hotel_id` is required"
        );
        assert_eq!(
            error("year=1800&period=week&hotel_id=1"),
            "query parameter `period` must be `month` or `day`"
        );
        assert_eq!(
            error("hotel_id=1&period=day&year=2022&year=%20&year=2023"),
            "query parameter `year` is given more than once"
        );
    }

    #[test]
    fn ranges_follow_the_parameters() {
        let a = q("hotel_id=7&period=month&year=2024");
        assert_eq!(
            (a.from, a.to, a.basis),
            (d(2024, 1, 1), d(2024, 12, 31), Basis::Event)
        );
        let b = q("hotel_id=7&period=day&year=2024&month=2&basis=stay");
        assert_eq!(
            (b.from, b.to, b.basis),
            (d(2024, 2, 1), d(2024, 2, 29), Basis::Stay)
        );
        let c = q("hotel_id=7&period=day&year=2023&month=12&day=31");
        assert_eq!((c.from, c.to), (d(2023, 12, 31), d(2023, 12, 31)));
    }

    #[test]
    fn buckets_are_zero_filled_and_summed() {
        let figures = [
            DayFigures {
                day: d(2024, 1, 31),
                bookings: 3,
                cancellations: 1,
            },
            DayFigures {
                day: d(2024, 2, 1),
                bookings: 2,
                cancellations: 0,
            },
            DayFigures {
                day: d(2024, 2, 29),
                bookings: 1,
                cancellations: 4,
            },
        ];
        let months = rows(&q("hotel_id=7&period=month&year=2024"), &figures);
        assert_eq!(months.len(), 12);
        assert_eq!(
            months
                .iter()
                .map(|r| (r.month, r.bookings, r.cancellations, r.booking_count))
                .take(3)
                .collect::<Vec<_>>(),
            [(1, 3, 1, 2), (2, 3, 4, -1), (3, 0, 0, 0)]
        );
        assert!(months
            .iter()
            .all(|r| r.day.is_none() && r.year == 2024 && r.period == "month"));
        assert_eq!(
            rows(&q("hotel_id=7&period=day&year=2024"), &figures).len(),
            366
        );
        assert_eq!(rows(&q("hotel_id=7&period=day&year=2023"), &[]).len(), 365);
        let feb = rows(&q("hotel_id=7&period=day&year=2024&month=2"), &figures[1..]);
        assert_eq!(feb.len(), 29);
        assert_eq!((feb[0].day, feb[0].bookings), (Some(1), 2));
        assert_eq!((feb[28].day, feb[28].booking_count), (Some(29), -3));
        let one = rows(
            &q("hotel_id=7&period=month&year=2024&month=2"),
            &figures[1..],
        );
        assert_eq!(one.len(), 1);
        assert_eq!(
            (one[0].month, one[0].bookings, one[0].cancellations),
            (2, 3, 4)
        );
    }
}
