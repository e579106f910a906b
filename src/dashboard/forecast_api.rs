//! The forecast's endpoints: where each night will end, how accurate that has been on
//! the hotel's own history, and which nights' pace has left its usual range.
//!
//! Each reads the hotel's night book (`book`): the lead matrix built from its rows, the day model
//! of the as-of day and the alert ranges, kept until an event dated before that day arrives. The
//! engine is `forecast` (pure computation); this module parses, checks, and shapes the answers.
//! Everything "as of day a" reads only events dated on or before a.

use axum::extract::{RawQuery, State};
use axum::response::Response;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::answers::AnswerCache;
use super::book::{Book, Span};
use super::forecast::accuracy::{accuracy, Wape};
use super::forecast::alerts::{alerts, Check};
use super::forecast::lead::{self, Day, KCAP};
use super::pace::{self, iso_date, STLY_DAYS};
use super::params::{self, HotelParam, NightsParams, ReadRefusals};
use super::ApiState;
use crate::auth::Caller;
use crate::error::{parse_query_refusing_empty as parse_query, ApiError, ErrorBody};

/// The leads the backtest reports by default.
pub const DEFAULT_LEADS: [usize; 6] = [1, 7, 14, 30, 60, 90];
/// Leads one backtest may ask for, and the longest.
pub const MAX_LEADS: usize = 10;
pub const MAX_LEAD: usize = 365;
/// The alerts' default and longest horizon (days after the as-of day).
pub const DEFAULT_HORIZON: usize = 90;
pub const MAX_HORIZON: usize = 365;

/// Query parameters of `GET /dashboard/forecast`. Defaults as `GET /dashboard/pace`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ForecastParams {
    #[param(ignore)]
    hotel_id: Option<String>,
    #[param(ignore)]
    from: Option<String>,
    #[param(ignore)]
    to: Option<String>,
    /// The day the forecast is made as of: it reads only events whose UTC day is on or before
    /// it, so a past day gets what the service would have said that day (default: the latest
    /// event day counted for the hotel; today for a hotel without events).
    #[param(value_type = Option<NaiveDate>)]
    as_of: Option<String>,
}

/// Query parameters of `GET /dashboard/forecast/accuracy`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AccuracyParams {
    #[param(ignore)]
    hotel_id: Option<String>,
    /// The first night scored, `YYYY-MM-DD`.
    #[param(value_type = NaiveDate, required = true, example = "2016-01-01")]
    from: Option<String>,
    /// The last night scored; at most 732 nights from `from`. Nights not over yet (today and
    /// later, UTC) have no final and are not scored.
    #[param(value_type = NaiveDate, required = true, example = "2016-12-31")]
    to: Option<String>,
    /// Leads in days, comma-separated: 1 to 10 of them, each 0 to 365 (default
    /// `1,7,14,30,60,90`).
    leads: Option<String>,
}

/// Query parameters of `GET /dashboard/alerts`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertsParams {
    #[param(ignore)]
    hotel_id: Option<String>,
    /// The day the nights' pace is looked at as of (default: the latest event day counted for
    /// the hotel; today for a hotel without events).
    #[param(value_type = Option<NaiveDate>)]
    as_of: Option<String>,
    /// Nights looked at: `as_of` … `as_of` + horizon, 0 to 365 (default 90).
    #[param(value_type = Option<u32>, minimum = 0, maximum = 365)]
    horizon: Option<String>,
}

/// A valid `GET /dashboard/forecast` query, defaults applied.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ForecastQuery {
    pub hotel_id: i32,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub as_of: NaiveDate,
}

/// A valid `GET /dashboard/forecast/accuracy` query.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AccuracyQuery {
    pub hotel_id: i32,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub leads: Vec<usize>,
}

/// A valid `GET /dashboard/alerts` query, defaults applied.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AlertsQuery {
    pub hotel_id: i32,
    pub as_of: NaiveDate,
    pub horizon: usize,
}

/// The expected final of a night and its p10–p90 band.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ForecastFigures {
    /// The expected final (room-nights on the books on the night).
    #[serde(rename = "final")]
    #[schema(example = 187.4)]
    pub expected: f64,
    /// The band the final falls in 8 times in 10 at this lead (from the hotel's own recent
    /// errors); `null` while the hotel's history at this lead is too short.
    #[schema(example = 171.0)]
    pub p10: Option<f64>,
    #[schema(example = 201.0)]
    pub p90: Option<f64>,
    /// `final` − `on_the_books`: what is still expected to come.
    #[schema(example = 23.4)]
    pub pickup_expected: f64,
}

/// The same night a year (364 days) earlier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ForecastStly {
    #[serde(serialize_with = "iso_date")]
    #[schema(example = "2016-03-02")]
    pub night: NaiveDate,
    /// What that night ended with; `null` when it ended after `as_of` (not known then).
    #[serde(rename = "final")]
    #[schema(example = 176)]
    pub ended: Option<i64>,
    /// Its on the books 364 days before `as_of`: the same lead.
    #[schema(example = 150)]
    pub on_the_books: i64,
}

/// One night's forecast.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ForecastNight {
    #[schema(example = 4101)]
    pub hotel_id: i32,
    #[serde(serialize_with = "iso_date")]
    #[schema(example = "2017-03-01")]
    pub night: NaiveDate,
    #[serde(serialize_with = "iso_date")]
    #[schema(example = "2017-02-10")]
    pub as_of: NaiveDate,
    /// `night` − `as_of` in days (negative for a night already over).
    #[schema(example = 20)]
    pub lead: i64,
    #[schema(example = 164)]
    pub on_the_books: i64,
    /// `null` for a night before `as_of` (it is over: `on_the_books` is what it ended with).
    pub forecast: Option<ForecastFigures>,
    pub stly: ForecastStly,
}

/// A WAPE over the nights it could be computed on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Score {
    /// Σ |forecast − final| / Σ final; `null` when no night counts or they ended with 0.
    #[schema(example = 0.031)]
    pub wape: Option<f64>,
    #[schema(example = 396)]
    pub nights: usize,
}

/// The backtest at one lead: the forecast and the four textbook baselines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LeadScore {
    #[schema(example = 7)]
    pub lead: usize,
    /// Nights scored (each forecast made as of night − lead from what was known then).
    #[schema(example = 396)]
    pub nights: usize,
    pub forecast: Score,
    pub stly_final: Score,
    pub stly_pickup: Score,
    pub additive_pickup: Score,
    pub multiplicative_pickup: Score,
    /// The lowest WAPE of the baselines present on every night.
    #[schema(example = "additive_pickup")]
    pub best_baseline: Option<String>,
    /// The forecast's WAPE ÷ the best baseline's (below 1: better).
    #[schema(example = 0.82)]
    pub ratio_to_best: Option<f64>,
    /// Share of the nights whose final fell inside [p10, p90] (a night without a band counts as
    /// outside).
    #[schema(example = 0.8)]
    pub coverage: Option<f64>,
}

/// The hotel's own backtest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Accuracy {
    #[schema(example = 4101)]
    pub hotel_id: i32,
    #[serde(serialize_with = "iso_date")]
    #[schema(example = "2016-01-01")]
    pub from: NaiveDate,
    /// The last night scored (`to`, or yesterday when earlier).
    #[serde(serialize_with = "iso_date")]
    #[schema(example = "2016-12-31")]
    pub to: NaiveDate,
    pub leads: Vec<LeadScore>,
}

/// One figure of a night outside its usual range at this lead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Surprise {
    /// `on_the_books` (against what similar nights had on the books at this lead, as a
    /// difference from it), `pickup_1d` or `pickup_7d` (net pickup over the last 1 or 7 days).
    #[schema(example = "pickup_7d")]
    pub figure: String,
    #[schema(example = 31.0)]
    pub actual: f64,
    /// The usual range: the 1 % and 99 % quantiles of this figure over the hotel's nights at
    /// leads within 3 days of this one, as of the 91 days before `as_of`.
    #[schema(example = -2.0)]
    pub expected_low: f64,
    #[schema(example = 6.0)]
    pub expected_high: f64,
    #[schema(example = 1.0)]
    pub expected_median: f64,
    /// Distance from the median in robust standard deviations (at least one room-night).
    #[schema(example = 9.3)]
    pub score: f64,
}

/// A night whose pace has left its usual range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Alert {
    #[schema(example = 4101)]
    pub hotel_id: i32,
    #[serde(serialize_with = "iso_date")]
    #[schema(example = "2017-03-21")]
    pub night: NaiveDate,
    #[serde(serialize_with = "iso_date")]
    #[schema(example = "2017-02-10")]
    pub as_of: NaiveDate,
    #[schema(example = 40)]
    pub lead: usize,
    #[schema(example = 58)]
    pub on_the_books: i64,
    /// The highest score of its surprises.
    #[schema(example = 9.3)]
    pub score: f64,
    /// The figures outside their range, most surprising first.
    pub surprises: Vec<Surprise>,
}

/// The key of a forecast, accuracy or alerts answer in [`ForecastCache`]: the valid query.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ForecastKey {
    Forecast(ForecastQuery),
    Accuracy(AccuracyQuery),
    Alerts(AlertsQuery),
}

impl ForecastKey {
    /// About the bytes of the JSON answer, so that it is written into one buffer.
    fn answer_bytes(&self) -> usize {
        match self {
            ForecastKey::Forecast(q) => ((q.to - q.from).num_days().max(0) as usize + 1) * 260,
            ForecastKey::Accuracy(q) => 200 + q.leads.len() * 500,
            ForecastKey::Alerts(q) => 64 + q.horizon * 40,
        }
    }
}

/// Recent answers of the forecast endpoints, as JSON (see [`AnswerCache`]).
pub type ForecastCache = AnswerCache<ForecastKey, axum::body::Bytes>;

/// The JSON answer to the query `key`: from the recent answers, or computed and kept.
async fn answer<T: Serialize>(
    state: &ApiState,
    key: ForecastKey,
    compute: impl std::future::Future<Output = Result<T, ApiError>>,
) -> Result<Response, ApiError> {
    let generation = state.generation(state.forecast_cache.is_on());
    let bytes = key.answer_bytes();
    state
        .forecast_cache
        .json(generation, key, bytes, compute)
        .await
}

fn figure_name(check: Check) -> &'static str {
    match check {
        Check::OnTheBooks => "on_the_books",
        Check::Pickup1d => "pickup_1d",
        Check::Pickup7d => "pickup_7d",
    }
}

/// Reads `GET /dashboard/forecast`'s query string; the default as-of day is applied by
/// [`pace::PaceAsk::resolve`] once the book is at hand.
pub fn parse_forecast_ask(query: &str) -> Result<pace::PaceAsk, ApiError> {
    let ForecastParams {
        hotel_id,
        from,
        to,
        as_of,
    } = parse_query(query)?;
    let as_of = as_of.map(|v| params::date("as_of", &v)).transpose()?;
    let from = from.map(|v| params::date("from", &v)).transpose()?;
    let to = to.map(|v| params::date("to", &v)).transpose()?;
    Ok(pace::PaceAsk {
        hotel_id: params::hotel_id(hotel_id)?,
        from,
        to,
        as_of,
        windows: Vec::new(),
    })
}

/// Reads `GET /dashboard/forecast/accuracy`'s query string, naming the parameter at fault.
pub fn parse_accuracy_query(query: &str) -> Result<AccuracyQuery, ApiError> {
    let AccuracyParams {
        hotel_id,
        from,
        to,
        leads,
    } = parse_query(query)?;
    let hotel_id = params::hotel_id(hotel_id)?;
    let from = params::date("from", &params::required("from", from)?)?;
    let to = params::date("to", &params::required("to", to)?)?;
    params::check_nights(from, to)?;
    let leads = match leads {
        None => DEFAULT_LEADS.to_vec(),
        Some(list) => {
            let bad = || {
                ApiError::bad_param(
                    "leads",
                    format!(
                        "must be 1 to {MAX_LEADS} comma-separated leads in days, each 0 to {MAX_LEAD}"
                    ),
                )
            };
            let leads = list
                .split(',')
                .map(|l| {
                    params::integer("leads", l.trim(), 0, MAX_LEAD as i64)
                        .map(|n| n as usize)
                        .map_err(|_| bad())
                })
                .collect::<Result<Vec<_>, _>>()?;
            if leads.len() > MAX_LEADS {
                return Err(bad());
            }
            leads
        }
    };
    Ok(AccuracyQuery {
        hotel_id,
        from,
        to,
        leads,
    })
}

/// Reads `GET /dashboard/alerts`'s query string: the hotel, the as-of day if given, the horizon.
pub fn parse_alerts_ask(query: &str) -> Result<(i32, Option<NaiveDate>, usize), ApiError> {
    let AlertsParams {
        hotel_id,
        as_of,
        horizon,
    } = parse_query(query)?;
    let hotel_id = params::hotel_id(hotel_id)?;
    let as_of = as_of.map(|v| params::date("as_of", &v)).transpose()?;
    let horizon = match horizon {
        Some(v) => params::integer("horizon", &v, 0, MAX_HORIZON as i64)? as usize,
        None => DEFAULT_HORIZON,
    };
    Ok((hotel_id, as_of, horizon))
}

/// The forecast of `q`'s nights from the hotel's book.
pub async fn forecast_of(book: &Book, q: &ForecastQuery) -> Result<Vec<ForecastNight>, ApiError> {
    let a = lead::day(q.as_of);
    let (from, to) = (lead::day(q.from), lead::day(q.to));
    let leads = usize::try_from(to - a).unwrap_or(0).min(KCAP);
    let (m, model) = if to >= a {
        let (m, model) = book.day_model(a, leads).await;
        (m, Some(model))
    } else {
        // Nights that are over: their otb and last year's, no model.
        let span = Span {
            earliest_as_of: from,
            last_night: to,
        };
        (book.matrix(span), None)
    };
    let mut out = Vec::with_capacity((to - from + 1).max(0) as usize);
    for n in from..=to {
        let night = date_of(n)?;
        let ly = n - STLY_DAYS;
        let forecast = model
            .as_ref()
            .and_then(|d| d.forecast(&m, n))
            .map(|f| ForecastFigures {
                expected: round(f.expected),
                p10: f.p10.map(round),
                p90: f.p90.map(round),
                pickup_expected: round(f.pickup_expected),
            });
        out.push(ForecastNight {
            hotel_id: q.hotel_id,
            night,
            as_of: q.as_of,
            lead: n - a,
            on_the_books: i64::from(m.otb(n, a)),
            forecast,
            stly: ForecastStly {
                night: date_of(ly)?,
                ended: (ly <= a).then(|| i64::from(m.final_of(ly))),
                on_the_books: i64::from(m.otb(ly, a - STLY_DAYS)),
            },
        });
    }
    Ok(out)
}

/// The backtest of `q` from the hotel's book (off the async threads: a year and six leads is a
/// few million reads).
pub async fn accuracy_of(book: &Book, q: &AccuracyQuery) -> Result<Accuracy, ApiError> {
    // Only nights that are over have a final: up to yesterday (UTC).
    let yesterday = params::today().pred_opt().unwrap_or(q.to);
    let last = q.to.min(yesterday);
    let (from, to) = (lead::day(q.from), lead::day(last));
    let leads = q.leads.clone();
    let longest = leads.iter().copied().max().unwrap_or(0) as i64;
    let m = book.matrix(Span {
        earliest_as_of: from - longest,
        last_night: to,
    });
    let scored = tokio::task::spawn_blocking(move || {
        if to < from {
            Vec::new()
        } else {
            accuracy(&m, from, to, &leads)
        }
    })
    .await
    .map_err(|e| ApiError::Internal(format!("the backtest stopped: {e}")))?;
    let score = |w: &Wape| Score {
        wape: w.wape.map(round6),
        nights: w.nights,
    };
    let mut leads = Vec::new();
    for (lead, got) in q.leads.iter().zip(&scored) {
        let best = got.best_baseline();
        leads.push(LeadScore {
            lead: *lead,
            nights: got.nights,
            forecast: score(&got.method),
            stly_final: score(&got.baselines[0]),
            stly_pickup: score(&got.baselines[1]),
            additive_pickup: score(&got.baselines[2]),
            multiplicative_pickup: score(&got.baselines[3]),
            best_baseline: best.map(|(b, _)| b.name().to_string()),
            ratio_to_best: best
                .and_then(|(_, w)| Some(got.method.wape? / w).filter(|r| r.is_finite()))
                .map(round6),
            coverage: got.coverage.map(round6),
        });
    }
    Ok(Accuracy {
        hotel_id: q.hotel_id,
        from: q.from,
        to: if to < from { q.from } else { last },
        leads,
    })
}

/// The alerts of `q` from the hotel's book.
pub async fn alerts_of(book: &Book, q: &AlertsQuery) -> Result<Vec<Alert>, ApiError> {
    let a = lead::day(q.as_of);
    let (m, ranges) = book.alert_ranges(a, q.horizon).await;
    let partial_day = q.as_of == params::today();
    alerts(&m, &ranges, partial_day)
        .into_iter()
        .map(|al| {
            Ok(Alert {
                hotel_id: q.hotel_id,
                night: date_of(al.night)?,
                as_of: q.as_of,
                lead: al.lead,
                on_the_books: i64::from(al.on_the_books),
                score: round(al.score),
                surprises: al
                    .surprises
                    .iter()
                    .map(|s| Surprise {
                        figure: figure_name(s.check).to_string(),
                        actual: round(s.value),
                        expected_low: round(s.range.q01),
                        expected_high: round(s.range.q99),
                        expected_median: round(s.range.median),
                        score: round(s.score),
                    })
                    .collect(),
            })
        })
        .collect()
}

/// The forecast of `q`'s nights (the typed read the chart page uses).
pub async fn forecast_nights(
    state: &ApiState,
    ask: pace::PaceAsk,
) -> Result<(ForecastQuery, Vec<ForecastNight>), ApiError> {
    let book = state.book(ask.hotel_id).await?;
    let q = resolve_forecast(&book, ask)?;
    let nights = forecast_of(&book, &q).await?;
    Ok((q, nights))
}

/// The alerts of a hotel as of a day (the typed read the chart page uses).
pub async fn alert_list(state: &ApiState, q: &AlertsQuery) -> Result<Vec<Alert>, ApiError> {
    let book = state.book(q.hotel_id).await?;
    alerts_of(&book, q).await
}

fn resolve_forecast(book: &Book, ask: pace::PaceAsk) -> Result<ForecastQuery, ApiError> {
    let q = ask.resolve(book.last_event_day().unwrap_or_else(params::today))?;
    Ok(ForecastQuery {
        hotel_id: q.hotel_id,
        from: q.from,
        to: q.to,
        as_of: q.as_of,
    })
}

fn date_of(day: Day) -> Result<NaiveDate, ApiError> {
    lead::date(day).ok_or_else(|| ApiError::Internal(format!("day {day} out of range")))
}

/// Room-nights to one decimal: the forecast is no more precise, and the answers stay short.
fn round(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// Each night from `from` to `to` as of `as_of`: on the books, the expected final with its
/// p10–p90 band, and the same night last year.
#[utoipa::path(
    get,
    path = "/dashboard/forecast",
    tag = "dashboard",
    security((), ("api_key" = ["read"])),
    params(HotelParam, NightsParams, ForecastParams),
    responses(
        (status = 200, description = "One object per night, by date", body = [ForecastNight]),
        (status = 400, description = "A parameter is missing, empty or invalid; `field` names it. Also two `Authorization` headers (`field`: `Authorization`)", body = ErrorBody),
        ReadRefusals,
    )
)]
pub async fn get_forecast(
    State(state): State<ApiState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let ask = parse_forecast_ask(query.as_deref().unwrap_or(""))?;
    caller.check(ask.hotel_id)?;
    let book = state.book(ask.hotel_id).await?;
    let q = resolve_forecast(&book, ask)?;
    answer(
        &state,
        ForecastKey::Forecast(q.clone()),
        forecast_of(&book, &q),
    )
    .await
}

/// The hotel's own backtest: per lead, the WAPE of the forecast and of the four textbook
/// baselines over the nights `from` … `to`, each forecast made as of night − lead from what was
/// known then, and how often the final fell inside the p10–p90 band.
#[utoipa::path(
    get,
    path = "/dashboard/forecast/accuracy",
    tag = "dashboard",
    security((), ("api_key" = ["read"])),
    params(HotelParam, AccuracyParams),
    responses(
        (status = 200, description = "The scores per lead, in the order asked", body = Accuracy),
        (status = 400, description = "A parameter is missing, empty or invalid; `field` names it. Also two `Authorization` headers (`field`: `Authorization`)", body = ErrorBody),
        ReadRefusals,
    )
)]
pub async fn get_accuracy(
    State(state): State<ApiState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let q = parse_accuracy_query(query.as_deref().unwrap_or(""))?;
    caller.check(q.hotel_id)?;
    let book = state.book(q.hotel_id).await?;
    answer(
        &state,
        ForecastKey::Accuracy(q.clone()),
        accuracy_of(&book, &q),
    )
    .await
}

/// The nights `as_of` … `as_of` + `horizon` whose pace has left its usual range for their lead:
/// on the books, or net pickup over the last 1 or 7 days; most surprising first.
#[utoipa::path(
    get,
    path = "/dashboard/alerts",
    tag = "dashboard",
    security((), ("api_key" = ["read"])),
    params(HotelParam, AlertsParams),
    responses(
        (status = 200, description = "The listed nights, most surprising first (often none)", body = [Alert]),
        (status = 400, description = "A parameter is missing, empty or invalid; `field` names it. Also two `Authorization` headers (`field`: `Authorization`)", body = ErrorBody),
        ReadRefusals,
    )
)]
pub async fn get_alerts(
    State(state): State<ApiState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let (hotel_id, as_of, horizon) = parse_alerts_ask(query.as_deref().unwrap_or(""))?;
    caller.check(hotel_id)?;
    let book = state.book(hotel_id).await?;
    let q = AlertsQuery {
        hotel_id,
        as_of: as_of.unwrap_or_else(|| book.last_event_day().unwrap_or_else(params::today)),
        horizon,
    };
    answer(&state, ForecastKey::Alerts(q.clone()), alerts_of(&book, &q)).await
}
