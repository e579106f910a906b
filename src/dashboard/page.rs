//! `GET /`: a page for people. What the service is, where its API is described, and a form that
//! draws a hotel's dashboard as bar charts, from the same figures `GET /dashboard` answers. The
//! form offers the hotels that have figures; without a choice it shows the first of them, in
//! the latest year it has figures for.
//!
//! The Pace view (`view=pace`) shows a hotel's next 90 nights as of a day (by default the latest
//! event day counted for it): on the books, the same time last year and the 7-day net pickup,
//! and the booking curve of a night picked from its table. Its figures are the answers of
//! `GET /dashboard/pace` and `GET /dashboard/booking-curve`, produced by those endpoints' own
//! code (parsing, queries, recent answers) and read back here.
//!
//! Everything is in the one response (inline CSS, inline SVG drawn here, no script), so the page
//! works offline; the Content-Security-Policy makes the browser hold it to that. The markup is
//! written with maud, which escapes every value spliced into it: nothing here escapes by hand.

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Extension;
use chrono::{Datelike, NaiveDate};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use serde::de::DeserializeOwned;

use super::api::{figures, parse_dashboard_query, DashboardQuery, DashboardRow};
use super::pace::{self, CurvePoint, CurveQuery, PaceNight};
use super::store::{self, HotelYears};
use super::ApiState;
use super::Basis;
use crate::auth::{page_cookie, Auth, Caller};
use crate::error::ApiError;

/// The parameters the form sends.
const FORM_FIELDS: [&str; 4] = ["hotel_id", "year", "basis", "month"];

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
                   base-uri 'none'; frame-ancestors 'none'";

const STYLE: &str = "
body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1d2733;background:#f6f7f9}
main{max-width:1000px;margin:0 auto;padding:1.5rem}
h1{margin:0 0 .5rem}h2{font-size:1.15rem;margin:1.5rem 0 .25rem}
nav a{margin-right:1.25rem}
form{display:flex;flex-wrap:wrap;gap:1rem;align-items:end;background:#fff;padding:1rem;
  border:1px solid #d8dde3;border-radius:6px}
label{display:flex;flex-direction:column;font-size:.85rem}
input,select,button{font:inherit;padding:.3rem .4rem}
.error{background:#fde8e8;border:1px solid #e0a0a0;padding:.6rem 1rem;border-radius:6px}
.chart{width:100%;height:auto;background:#fff;border:1px solid #d8dde3;border-radius:6px}
.bar.bookings,.key.bookings{fill:#2f6db5;background:#2f6db5}
.bar.cancellations,.key.cancellations{fill:#d9822b;background:#d9822b}
polyline.net{fill:none;stroke:#1d7a46;stroke-width:2}circle.net{fill:#1d7a46}
.key.net{background:#1d7a46;height:.25em;vertical-align:middle}
.empty{background:#fff;border:1px solid #d8dde3;padding:.6rem 1rem;border-radius:6px}
.key{display:inline-block;width:.8em;height:.8em;margin:0 .3em 0 1em}
.axis{stroke:#8a949e}.grid{stroke:#e3e7eb}.tick{font-size:11px;fill:#5a6570}
table{border-collapse:collapse;margin-top:.5rem;background:#fff;font-variant-numeric:tabular-nums}
th,td{border:1px solid #d8dde3;padding:.2rem .6rem}td{text-align:right}
tfoot th,tfoot td{font-weight:600}
nav.views{margin:.25rem 0 .75rem}
nav.views a[aria-current]{font-weight:600;color:inherit;text-decoration:none;
  border-bottom:2px solid #2f6db5}
.bar.otb,.key.otb{fill:#2f6db5;background:#2f6db5}
.bar.pickup,.key.pickup{fill:#1d7a46;background:#1d7a46}
line.stly{stroke:#b8322a;stroke-width:2}.key.stly{background:#b8322a;height:.25em;vertical-align:middle}
polyline.otb{fill:none;stroke:#2f6db5;stroke-width:2}circle.otb{fill:#2f6db5}
polyline.stly{fill:none;stroke:#b8322a;stroke-width:2;stroke-dasharray:5 4}circle.stly{fill:#b8322a}
tr.picked{background:#e8f0fa}
details{margin-top:.5rem}
form.account{background:none;border:0;padding:0;margin:.5rem 0;align-items:center;gap:.5rem}
";

/// The form's values as sent, echoed back into the form.
#[derive(Debug, Default)]
pub struct Form {
    pub hotel_id: String,
    pub year: String,
    pub basis: String,
    pub month: String,
    pub view: String,
    pub as_of: String,
    pub night: String,
    /// The hotel asked for is one the key may not see: the form says so rather than "no
    /// figures".
    pub not_allowed: bool,
}

impl Form {
    pub fn from_query(query: &str) -> Self {
        let mut form = Form::default();
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            let slot = match key.as_ref() {
                "hotel_id" => &mut form.hotel_id,
                "year" => &mut form.year,
                "basis" => &mut form.basis,
                "month" => &mut form.month,
                "view" => &mut form.view,
                "as_of" => &mut form.as_of,
                "night" => &mut form.night,
                _ => continue,
            };
            if slot.is_empty() {
                *slot = value.trim().to_string();
            }
        }
        form
    }

    fn pace(&self) -> bool {
        self.view == "pace"
    }
}

/// The page's two views: bookings per month and day, and the pace of the coming nights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum View {
    Charts,
    Pace,
}

/// `view`: absent or empty for the charts; refused, naming it, when unknown or given twice, as
/// the other parameters are.
fn view_of(query: &str) -> Result<View, ApiError> {
    let mut view = None;
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let value = value.trim();
        if key != "view" || value.is_empty() {
            continue;
        }
        if view.is_some() {
            return Err(ApiError::bad_param("view", "is given more than once"));
        }
        view = Some(match value {
            "charts" => View::Charts,
            "pace" => View::Pace,
            _ => return Err(ApiError::bad_param("view", "must be `charts` or `pace`")),
        });
    }
    Ok(view.unwrap_or(View::Charts))
}

pub async fn index(
    State(state): State<ApiState>,
    Extension(auth): Extension<Auth>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    let caller = match auth.page_caller(&headers) {
        Ok(caller) => caller,
        Err(e) => return super::sign_in::refused(e, &query, page_cookie(&headers).is_some()),
    };
    let signed_in = page_cookie(&headers).is_some();
    let page = |status, form: &Form, hotels: &[HotelYears], body| {
        frame(status, signed_in, figures_part(form, hotels, body))
    };
    let mut form = Form::from_query(&query);
    form.not_allowed = form
        .hotel_id
        .parse::<i32>()
        .is_ok_and(|h| !caller.allows(h));
    let error_page = |e: ApiError, form: &Form, hotels: &[HotelYears]| {
        let (status, message) = error_parts(e);
        page(
            status,
            form,
            hotels,
            html! { p.error role="alert" { (message) } },
        )
    };
    let view = view_of(&query);
    let hotels = match state
        .reads
        .read(|pool| async move { store::hotel_years(&pool).await })
        .await
    {
        Ok(all) => {
            // Every counted event has both an event day and a night: the pace view lists the
            // hotels with events, on the event basis.
            let basis = if form.basis == "stay" && !matches!(view, Ok(View::Pace)) {
                Basis::Stay
            } else {
                Basis::Event
            };
            // A per-hotel key is offered its own hotels only.
            all.into_iter()
                .filter(|h| h.basis == basis && caller.allows(h.hotel_id))
                .collect::<Vec<_>>()
        }
        Err(e) => return error_page(e.into(), &form, &[]),
    };
    let view = match view {
        Ok(view) => view,
        Err(e) => return error_page(e, &form, &hotels),
    };
    if form.hotel_id.is_empty() {
        match hotels.first() {
            Some(first) => form.hotel_id = first.hotel_id.to_string(),
            None if caller.hotels().is_some() => {
                return page(StatusCode::OK, &form, &hotels, no_figures_for_the_key())
            }
            None => return page(StatusCode::OK, &form, &hotels, no_figures_yet()),
        }
    }
    if view == View::Pace {
        return match pace_view(&state, &caller, &query, &form).await {
            Ok(body) => page(StatusCode::OK, &form, &hotels, body),
            Err(e) => error_page(e, &form, &hotels),
        };
    }
    if form.year.is_empty() {
        let latest = hotel_of(&hotels, &form.hotel_id).map(|h| h.last_year);
        form.year = latest
            .unwrap_or_else(|| chrono::Utc::now().year())
            .to_string();
    }
    let query = with_defaults(&query, &form);
    match charts(&state, &caller, &query, &hotels).await {
        Ok(body) => page(StatusCode::OK, &form, &hotels, body),
        Err(e) => error_page(e, &form, &hotels),
    }
}

fn no_figures_for_the_key() -> Markup {
    html! {
        p.empty role="status" {
            "No figures for the hotels of this API key yet (a key for no hotel never has any)."
        }
    }
}

fn no_figures_yet() -> Markup {
    html! {
        p.empty role="status" {
            "No figures yet: the dashboard has counted no events. Load some ("
            code { "roompulse load-events FILE.csv" } ", or " code { "POST /events" }
            ") and they appear here after the next sync."
        }
    }
}

/// The hotel `hotel_id` names, when it has figures.
fn hotel_of<'a>(hotels: &'a [HotelYears], hotel_id: &str) -> Option<&'a HotelYears> {
    hotels
        .iter()
        .find(|h| hotel_id.parse::<i32>().ok() == Some(h.hotel_id))
}

/// `query` with an empty or missing `hotel_id` and `year` replaced by the form's defaults.
/// Everything else is kept as sent, so that a repeated parameter is still refused.
fn with_defaults(query: &str, form: &Form) -> String {
    defaulted(
        query,
        |_| true,
        &[("hotel_id", &form.hotel_id), ("year", &form.year)],
    )
}

/// The pairs of `query` that `keep` accepts, every occurrence as sent (so that a repeated
/// parameter is still refused) but the empty ones, with a missing one of `defaults` replaced by
/// its default (when that is not empty). A form's field left blank is sent empty, and means "the
/// default" here; the endpoints, read by programs, refuse an empty value instead.
fn defaulted(query: &str, keep: impl Fn(&str) -> bool, defaults: &[(&str, &str)]) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    let mut given = vec![false; defaults.len()];
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if !keep(&key) || value.trim().is_empty() {
            continue;
        }
        if let Some(i) = defaults.iter().position(|(name, _)| *name == key) {
            given[i] = true;
        }
        q.append_pair(&key, &value);
    }
    for (&(name, value), given) in defaults.iter().zip(given) {
        if !given && !value.is_empty() {
            q.append_pair(name, value);
        }
    }
    q.finish()
}

/// The page's query as a `GET /dashboard` query with `period` set, so that
/// `parse_dashboard_query` checks it and names the field at fault. Every occurrence is kept, so a
/// repeated parameter is refused as it is there.
fn dashboard_query(
    query: &str,
    period: &str,
    with_month: bool,
) -> Result<DashboardQuery, ApiError> {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let blank = value.trim().is_empty();
        if FORM_FIELDS.contains(&key.as_ref()) && (with_month || key != "month") && !blank {
            q.append_pair(&key, &value);
        }
    }
    q.append_pair("period", period);
    parse_dashboard_query(&q.finish())
}

async fn charts(
    state: &ApiState,
    caller: &Caller,
    query: &str,
    hotels: &[HotelYears],
) -> Result<Markup, ApiError> {
    let month_given = url::form_urlencoded::parse(query.as_bytes())
        .any(|(k, v)| k == "month" && !v.trim().is_empty());
    // Checked first when there is a month: that query carries every field, so the error names
    // the first one at fault whichever it is.
    let by_day = if month_given {
        Some(dashboard_query(query, "day", true)?)
    } else {
        None
    };
    let by_month = dashboard_query(query, "month", false)?;
    caller.check(by_month.hotel_id)?;
    let year = by_month.from.year();
    let months = fetch(state, &by_month).await?;
    if no_events(&months) {
        let hotel = hotels.iter().find(|h| h.hotel_id == by_month.hotel_id);
        return Ok(html! {
            p.empty role="status" {
                "No events for this hotel and year: hotel " (by_month.hotel_id) " has none in "
                (year) " on the " (by_month.basis.name()) " basis"
                @if let Some(h) = hotel { "; its figures are in " (years(h)) }
                "."
            }
        });
    }
    let month_section = section(
        "by-month",
        &format!(
            "Hotel {}, {year}, per month ({} basis)",
            by_month.hotel_id,
            by_month.basis.name()
        ),
        "Month",
        &months,
    );
    let day_section = match by_day {
        Some(q) => {
            let month = MONTHS[q.from.month0() as usize];
            let caption = format!(
                "Hotel {}, {month} {year}, per day ({} basis)",
                q.hotel_id,
                q.basis.name()
            );
            Some(section("by-day", &caption, "Day", &fetch(state, &q).await?))
        }
        None => None,
    };
    Ok(html! {
        (month_section)
        @if let Some(day_section) = day_section { (day_section) }
    })
}

/// The Pace view: the 90 nights from the as-of day and, when a night is picked, its booking
/// curve. Every parameter is checked by the endpoints' own parsing before anything is read, so
/// a bad one is refused (naming it) whatever the figures.
async fn pace_view(
    state: &ApiState,
    caller: &Caller,
    query: &str,
    form: &Form,
) -> Result<Markup, ApiError> {
    let hotel = [("hotel_id", form.hotel_id.as_str())];
    let sent = pace::parse_pace_query(
        &defaulted(query, |k| matches!(k, "hotel_id" | "as_of"), &hotel),
        chrono::Utc::now().date_naive(),
    )?;
    caller.check(sent.hotel_id)?;
    let curve = if form.night.is_empty() {
        None
    } else {
        Some(pace::parse_curve_query(&defaulted(
            query,
            |k| matches!(k, "hotel_id" | "night"),
            &hotel,
        ))?)
    };
    let as_of = if form.as_of.is_empty() {
        let hotel_id = sent.hotel_id;
        match state
            .reads
            .read(|pool| async move { store::last_event_day(&pool, hotel_id).await })
            .await?
        {
            Some(day) => day,
            None => {
                return Ok(html! {
                    p.empty role="status" {
                        "No figures for hotel " (sent.hotel_id)
                        ": the dashboard has counted no events for it, so it has no latest day                          to show the pace as of. Pick a hotel with figures, or an as-of day."
                    }
                })
            }
        }
    } else {
        sent.as_of
    };
    // Checked values only from here on: an integer and dates.
    let nights: Vec<PaceNight> = answer_of(
        pace::get_pace(
            State(state.clone()),
            caller.clone(),
            RawQuery(Some(format!("hotel_id={}&as_of={as_of}", sent.hotel_id))),
        )
        .await,
    )
    .await?;
    let picked = curve.as_ref().map(|q| q.night);
    let curve = match curve {
        Some(q) => {
            let points: Vec<CurvePoint> = answer_of(
                pace::get_booking_curve(
                    State(state.clone()),
                    caller.clone(),
                    RawQuery(Some(format!("hotel_id={}&night={}", q.hotel_id, q.night))),
                )
                .await,
            )
            .await?;
            Some(curve_section(&q, &points))
        }
        None => None,
    };
    Ok(pace_sections(sent.hotel_id, as_of, &nights, picked, curve))
}

/// The figures of an endpoint's answer, read back from the JSON it sends.
async fn answer_of<T: DeserializeOwned>(answer: Result<Response, ApiError>) -> Result<T, ApiError> {
    let body = axum::body::to_bytes(answer?.into_body(), usize::MAX)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    serde_json::from_slice(&body).map_err(|e| ApiError::Internal(e.to_string()))
}

/// Exactly what `GET /dashboard` answers for `q`, through the same recent answers.
async fn fetch(state: &ApiState, q: &DashboardQuery) -> Result<Vec<DashboardRow>, ApiError> {
    Ok(figures(state, q.clone()).await?.rows.clone())
}

/// The status comes from `ApiError`'s own mapping (which also logs 5xx reasons), so the page
/// and `GET /dashboard` fail alike; an internal error's details stay in the log.
fn error_parts(e: ApiError) -> (StatusCode, String) {
    let message = match &e {
        ApiError::Internal(_) => "internal error; the details are in the service's log".into(),
        e => e.to_string(),
    };
    (e.into_response().status(), message)
}

pub fn page(status: StatusCode, form: &Form, hotels: &[HotelYears], body: Markup) -> Response {
    frame(status, false, figures_part(form, hotels, body))
}

/// The figures' form and what it asked for.
fn figures_part(form: &Form, hotels: &[HotelYears], body: Markup) -> Markup {
    html! {
        h2 { "A hotel's figures" }
        (form_html(form, hotels))
        (body)
    }
}

/// The page around `content`: what the service is, where its API is described, and a sign-out
/// button when the browser is `signed_in` (holds the page's cookie).
pub(super) fn frame(status: StatusCode, signed_in: bool, content: Markup) -> Response {
    let html = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "roompulse" }
                // CSS is raw text, where HTML escapes would not be undone; it is a constant.
                style { (PreEscaped(STYLE)) }
            }
            body { main {
                h1 { "roompulse" }
                p {
                    "roompulse takes in hotel booking events, one per room-night booked or \
                     cancelled, through its Data Provider (" code { "POST /events" } ", or in \
                     bulk from a CSV export through a Redis queue and workers), and serves each \
                     hotel's bookings, cancellations and net booking count per month or per day \
                     through its Dashboard (" code { "GET /dashboard" } "), which a scheduled \
                     sync keeps up to date. Figures are counted on the event date (when the \
                     business came in) or on the night of stay."
                }
                nav {
                    a href="/swagger-ui/" { "Swagger UI" }
                    a href="/api-docs/data-provider.json" { "Data Provider OpenAPI" }
                    a href="/api-docs/dashboard.json" { "Dashboard OpenAPI" }
                }
                @if signed_in {
                    form.account method="post" action="/sign-out" {
                        "Signed in with an API key. "
                        button type="submit" { "Sign out" }
                    }
                }
                (content)
            } }
        }
    };
    (
        status,
        [(header::CONTENT_SECURITY_POLICY, CSP)],
        Html(html.into_string()),
    )
        .into_response()
}

/// `2022` or `2022–2024`.
fn years(h: &HotelYears) -> String {
    if h.first_year == h.last_year {
        h.first_year.to_string()
    } else {
        format!("{}–{}", h.first_year, h.last_year)
    }
}

/// The hotels with figures to choose from (each with its years), or a number to type when
/// there are none.
fn hotel_field(form: &Form, hotels: &[HotelYears]) -> Markup {
    if hotels.is_empty() {
        return html! {
            label {
                "Hotel id"
                input type="number" name="hotel_id" min="1" required value=(form.hotel_id);
            }
        };
    }
    // Asked for in the address: echoed, so that the form says what is shown.
    let unknown = !form.hotel_id.is_empty() && hotel_of(hotels, &form.hotel_id).is_none();
    html! {
        label {
            "Hotel (years with figures)"
            select name="hotel_id" required {
                @if unknown {
                    option value=(form.hotel_id) selected {
                        (form.hotel_id)
                        @if form.not_allowed { " (not allowed)" } @else { " (no figures)" }
                    }
                }
                @for h in hotels {
                    @let chosen = hotel_of(std::slice::from_ref(h), &form.hotel_id).is_some();
                    option value=(h.hotel_id) selected[chosen] { (h.hotel_id) " (" (years(h)) ")" }
                }
            }
        }
    }
}

/// Links to the two views, for the hotel shown.
fn views_nav(form: &Form) -> Markup {
    let link = |view: Option<&str>| {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        if let Some(view) = view {
            q.append_pair("view", view);
        }
        if !form.hotel_id.is_empty() {
            q.append_pair("hotel_id", &form.hotel_id);
        }
        format!("/?{}", q.finish())
    };
    let current = |pace: bool| (form.pace() == pace).then_some("page");
    html! {
        nav.views aria-label="Views" {
            a href=(link(None)) aria-current=[current(false)] { "Bookings per month and day" }
            a href=(link(Some("pace"))) aria-current=[current(true)] { "Pace" }
        }
    }
}

fn form_html(form: &Form, hotels: &[HotelYears]) -> Markup {
    let stay = form.basis == "stay";
    if form.pace() {
        return html! {
            (views_nav(form))
            form method="get" action="/" {
                input type="hidden" name="view" value="pace";
                (hotel_field(form, hotels))
                label {
                    "As of (empty: the latest day with events)"
                    input type="date" name="as_of" min="1900-01-01" max="2100-12-31"
                        value=(form.as_of);
                }
                button type="submit" { "Show" }
            }
        };
    }
    html! {
        (views_nav(form))
        form method="get" action="/" {
            (hotel_field(form, hotels))
            label {
                "Year"
                input type="number" name="year" min="1900" max="2100" required value=(form.year);
            }
            label {
                "Basis"
                select name="basis" {
                    option value="event" selected[!stay] { "event date" }
                    option value="stay" selected[stay] { "night of stay" }
                }
            }
            label {
                "Month (per-day chart)"
                select name="month" {
                    option value="" { "none" }
                    @for (i, name) in MONTHS.iter().enumerate() {
                        @let value = (i + 1).to_string();
                        option value=(value) selected[form.month == value] { (name) }
                    }
                }
            }
            button type="submit" { "Show" }
        }
    }
}

/// A row's bucket: its key (`2022-06`, `2022-06-03`), its axis label and its full name.
fn bucket(r: &DashboardRow) -> (String, String, String) {
    let month = MONTHS
        .get(r.month.saturating_sub(1) as usize)
        .copied()
        .unwrap_or("?");
    match r.day {
        None => (
            format!("{}-{:02}", r.year, r.month),
            month.to_string(),
            format!("{month} {}", r.year),
        ),
        Some(d) => (
            format!("{}-{:02}-{d:02}", r.year, r.month),
            d.to_string(),
            format!("{d} {month} {}", r.year),
        ),
    }
}

/// No bookings and no cancellations in any of `rows` (or no rows).
fn no_events(rows: &[DashboardRow]) -> bool {
    rows.iter().all(|r| r.bookings == 0 && r.cancellations == 0)
}

/// One chart with its legend and its table; a range without events says so instead.
pub fn section(id: &str, caption: &str, bucket_name: &str, rows: &[DashboardRow]) -> Markup {
    html! {
        section id=(id) {
            h2 { (caption) }
            @if no_events(rows) {
                p.empty role="status" { "No events for this hotel in this period." }
            } @else {
                p.legend {
                    span.key.bookings {} "bookings"
                    span.key.cancellations {} "cancellations"
                    span.key.net {} "net bookings (bookings − cancellations)"
                }
                (bar_chart(caption, rows))
                (table(bucket_name, rows))
            }
        }
    }
}

const W: f64 = 960.0;
const H: f64 = 260.0;
const LEFT: f64 = 52.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 26.0;

/// The distance between labelled y values: 1, 2 or 5 times a power of ten, about four of them
/// over `span`.
fn tick_step(span: i64) -> i64 {
    let mut step = 1i64;
    loop {
        for m in [1, 2, 5] {
            if step.saturating_mul(m).saturating_mul(4) >= span {
                return step.saturating_mul(m);
            }
        }
        step = step.saturating_mul(10);
    }
}

/// A coordinate as the chart writes it.
fn at(v: f64) -> String {
    format!("{v:.2}")
}

/// A chart's y axis, labelled every `tick_step`: from a multiple of the step at or below the
/// lowest value to one at or above the highest, so that its ends are labelled too.
struct Axis {
    top: i64,
    bottom: i64,
    step: i64,
}

impl Axis {
    /// An axis over `low ..= high`, which include zero.
    fn new(low: i64, high: i64) -> Self {
        let step = tick_step(high - low);
        let top = high.div_euclid(step) * step + if high % step == 0 { 0 } else { step };
        let bottom = low.div_euclid(step) * step;
        Axis { top, bottom, step }
    }

    /// An axis covering `values` and zero.
    fn over(values: impl Iterator<Item = i64> + Clone) -> Self {
        let low = values.clone().min().unwrap_or(0).min(0);
        Self::new(low, values.max().unwrap_or(0).max(0))
    }

    fn span(&self) -> f64 {
        (self.top - self.bottom).max(1) as f64
    }

    fn y(&self, v: i64) -> f64 {
        TOP + (self.top - v) as f64 / self.span() * (H - BOTTOM - TOP)
    }

    /// The height a bar of `v` (> 0) is drawn with.
    fn height(&self, v: i64) -> f64 {
        v as f64 / self.span() * (H - BOTTOM - TOP)
    }

    /// A line and a label at every labelled value; the zero line is the axis.
    fn grid(&self) -> Markup {
        let ticks = std::iter::successors(Some(self.bottom), |t| Some(t + self.step))
            .take_while(|t| *t <= self.top);
        html! {
            @for tick in ticks {
                line class=(if tick == 0 { "axis" } else { "grid" }) x1=(LEFT) y1=(at(self.y(tick)))
                    x2=(W - RIGHT) y2=(at(self.y(tick))) {}
                text.tick.y x=(LEFT - 6.0) y=(at(self.y(tick) + 4.0)) text-anchor="end" { (tick) }
            }
        }
    }
}

/// Bookings and cancellations side by side per bucket, the net booking count as a line across
/// them, over a y axis labelled every `tick_step`. A zero draws no bar (the table still shows
/// it); a negative net count goes below the zero line.
pub fn bar_chart(caption: &str, rows: &[DashboardRow]) -> Markup {
    let high = rows
        .iter()
        .flat_map(|r| [r.bookings, r.cancellations, r.booking_count])
        .max()
        .unwrap_or(0)
        .max(0);
    let low = rows
        .iter()
        .map(|r| r.booking_count)
        .min()
        .unwrap_or(0)
        .min(0);
    let y_axis = Axis::new(low, high);
    let y = |v: i64| y_axis.y(v);
    let slot = (W - LEFT - RIGHT) / rows.len().max(1) as f64;
    let bar_w = slot * 0.38;
    let centre = |i: usize| LEFT + slot * (i as f64 + 0.5);
    let points: Vec<String> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| format!("{},{}", at(centre(i)), at(y(r.booking_count))))
        .collect();
    // Elements in SVG are closed explicitly (`{}`): HTML parsing would leave a bare `<line>` open.
    html! {
        svg.chart viewBox={ "0 0 " (W) " " (H) } role="img" aria-label=(caption) {
            (y_axis.grid())
            @for (i, r) in rows.iter().enumerate() {
                @let (_, axis, name) = bucket(r);
                @let start = LEFT + slot * i as f64 + slot * 0.12;
                @let bars = [("bookings", r.bookings), ("cancellations", r.cancellations)];
                @for (j, (class, value)) in bars.into_iter().enumerate() {
                    @if value > 0 {
                        @let h = y_axis.height(value);
                        rect class={ "bar " (class) } x=(at(start + bar_w * j as f64))
                            y=(at(y(0) - h)) width=(at(bar_w)) height=(at(h)) {
                            title { (name) ": " (value) " " (class) }
                        }
                    }
                }
                text.tick x=(at(centre(i))) y=(H - 8.0) text-anchor="middle" { (axis) }
            }
            polyline.net points=(points.join(" ")) {}
            @for (i, r) in rows.iter().enumerate() {
                circle.net cx=(at(centre(i))) cy=(at(y(r.booking_count))) r="3" {
                    title { (bucket(r).2) ": " (r.booking_count) " net bookings" }
                }
            }
        }
    }
}

/// One row per bucket, and the totals.
pub fn table(bucket_name: &str, rows: &[DashboardRow]) -> Markup {
    let bookings: i64 = rows.iter().map(|r| r.bookings).sum();
    let cancellations: i64 = rows.iter().map(|r| r.cancellations).sum();
    html! {
        table {
            thead { tr {
                th scope="col" { (bucket_name) }
                th scope="col" { "Bookings" }
                th scope="col" { "Cancellations" }
                th scope="col" { "Booking count" }
            } }
            tbody {
                @for r in rows {
                    @let (key, _, name) = bucket(r);
                    tr data-bucket=(key) {
                        th scope="row" { (name) }
                        td { (r.bookings) } td { (r.cancellations) } td { (r.booking_count) }
                    }
                }
            }
            tfoot { tr {
                th scope="row" { "Total" }
                td { (bookings) } td { (cancellations) } td { (bookings - cancellations) }
            } }
        }
    }
}

/// The pickup window the pace chart draws beside each night, in days.
const CHART_PICKUP_DAYS: i32 = 7;

/// `Fri 1 Mar 2024`.
fn long_date(d: NaiveDate) -> String {
    d.format("%a %-d %b %Y").to_string()
}

/// The net pickup of `n` over the window of `days`, when it was asked for.
fn net_pickup(n: &PaceNight, days: i32) -> i64 {
    n.pickup
        .iter()
        .find(|p| p.days == days)
        .map_or(0, |p| p.net)
}

/// The Pace view's address for a night of the hotel, as of a day.
fn night_link(hotel_id: i32, as_of: NaiveDate, night: NaiveDate) -> String {
    format!("/?view=pace&hotel_id={hotel_id}&as_of={as_of}&night={night}#curve")
}

/// The chart of the nights, the booking curve of the night picked (right under it, so that
/// both are in view together), and the nights' table; or a sentence when none of the nights
/// has a figure.
pub fn pace_sections(
    hotel_id: i32,
    as_of: NaiveDate,
    nights: &[PaceNight],
    picked: Option<NaiveDate>,
    curve: Option<Markup>,
) -> Markup {
    let (Some(first), Some(last)) = (nights.first(), nights.last()) else {
        return html! {};
    };
    let caption = format!(
        "Hotel {hotel_id}: the {} nights from {} to {}, on the books as of {}",
        nights.len(),
        long_date(first.night),
        long_date(last.night),
        long_date(as_of)
    );
    let empty = nights.iter().all(|n| {
        n.on_the_books == 0
            && n.stly.on_the_books == 0
            && n.pickup
                .iter()
                .all(|p| p.bookings == 0 && p.cancellations == 0)
    });
    let windows: Vec<i32> = first.pickup.iter().map(|p| p.days).collect();
    html! {
        section id="pace" {
            h2 { (caption) }
            @if empty {
                p.empty role="status" {
                    "No room-nights on the books for these nights as of " (long_date(as_of))
                    ", none a year earlier, and no pickup."
                }
            } @else {
                p.legend {
                    span.key.otb {} "on the books"
                    span.key.stly {} "same time last year (the night 364 days earlier, as of "
                        (long_date(first.stly.as_of)) ")"
                    span.key.pickup {} "net pickup over the last " (CHART_PICKUP_DAYS) " days"
                }
                (pace_chart(&caption, nights))
                @if picked.is_none() {
                    p { "Pick a night in the table for its booking curve." }
                }
            }
        }
        @if let Some(curve) = curve { (curve) }
        @if !empty {
            section id="pace-nights" {
                h2 { "Night by night, as of " (long_date(as_of)) }
                table {
                    thead { tr {
                        th scope="col" { "Night (its booking curve)" }
                        th scope="col" { "On the books" }
                        th scope="col" { "Same time last year" }
                        @for days in &windows {
                            th scope="col" { "Net pickup, " (days) " d" }
                        }
                    } }
                    tbody {
                        @for n in nights {
                            tr data-night=(n.night) class=[(picked == Some(n.night)).then_some("picked")] {
                                th scope="row" {
                                    a href=(night_link(hotel_id, as_of, n.night)) { (long_date(n.night)) }
                                }
                                td { (n.on_the_books) }
                                td { (n.stly.on_the_books) }
                                @for p in &n.pickup { td { (p.net) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A bar from zero to `v` (below the axis when negative) with its figure on hover.
fn bar(class: &str, x: f64, width: f64, v: i64, y_axis: &Axis, title: &str) -> Markup {
    let (top, bottom) = (y_axis.y(v.max(0)), y_axis.y(v.min(0)));
    html! {
        rect class=(class) x=(at(x)) y=(at(top)) width=(at(width)) height=(at(bottom - top)) {
            title { (title) }
        }
    }
}

/// Per night: a bar of on the books, a mark across it at the same time last year, and a
/// narrower bar of the net pickup beside it. Every night has its three shapes, zero or not, so
/// that each has its figures on hover; the axis is labelled every seventh night.
pub fn pace_chart(caption: &str, nights: &[PaceNight]) -> Markup {
    let values = nights.iter().flat_map(|n| {
        [
            n.on_the_books,
            n.stly.on_the_books,
            net_pickup(n, CHART_PICKUP_DAYS),
        ]
    });
    let y_axis = Axis::over(values);
    let slot = (W - LEFT - RIGHT) / nights.len().max(1) as f64;
    html! {
        svg.chart viewBox={ "0 0 " (W) " " (H) } role="img" aria-label=(caption) {
            (y_axis.grid())
            @for (i, n) in nights.iter().enumerate() {
                @let x = LEFT + slot * i as f64;
                @let name = long_date(n.night);
                @let pickup = net_pickup(n, CHART_PICKUP_DAYS);
                (bar("bar otb", x + slot * 0.08, slot * 0.52, n.on_the_books, &y_axis,
                    &format!("{name}: {} on the books", n.on_the_books)))
                (bar("bar pickup", x + slot * 0.64, slot * 0.28, pickup, &y_axis,
                    &format!("{name}: {pickup} net pickup over {CHART_PICKUP_DAYS} days")))
                line.stly x1=(at(x + slot * 0.02)) x2=(at(x + slot * 0.66))
                    y1=(at(y_axis.y(n.stly.on_the_books))) y2=(at(y_axis.y(n.stly.on_the_books))) {
                    title { (name) ": " (n.stly.on_the_books) " on the books a year earlier" }
                }
                @if i % 7 == 0 {
                    text.tick x=(at(x + slot * 0.5)) y=(H - 8.0) text-anchor="middle" {
                        (n.night.format("%-d %b"))
                    }
                }
            }
        }
    }
}

/// The booking curve of the night `q` names, with its figures in a table under the chart.
pub fn curve_section(q: &CurveQuery, points: &[CurvePoint]) -> Markup {
    let caption = format!(
        "Hotel {}: booking curve of the night of {}",
        q.hotel_id,
        long_date(q.night)
    );
    let empty = points
        .iter()
        .all(|p| p.on_the_books == 0 && p.stly_on_the_books == 0);
    html! {
        section id="curve" {
            h2 { (caption) }
            @if empty {
                p.empty role="status" {
                    "No room-nights on the books for this night in the " (q.days)
                    " days before it, nor for the night 364 days earlier."
                }
            } @else {
                p.legend {
                    span.key.otb {} "on the books as of each day before the night"
                    span.key.stly {} "the night 364 days earlier, as many days before it"
                    " (across: days before the night)"
                }
                (curve_chart(&caption, points))
                details {
                    summary { "The figures" }
                    table {
                        thead { tr {
                            th scope="col" { "Days before" }
                            th scope="col" { "As of" }
                            th scope="col" { "On the books" }
                            th scope="col" { "Same time last year" }
                        } }
                        tbody {
                            @for p in points {
                                tr data-days-before=(p.days_before) {
                                    th scope="row" { (p.days_before) }
                                    td { (p.as_of) }
                                    td { (p.on_the_books) }
                                    td { (p.stly_on_the_books) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// On the books as a line over the days before the night, the same time last year as a dashed
/// one, a point per day with its figure on hover; the days are labelled every tenth.
pub fn curve_chart(caption: &str, points: &[CurvePoint]) -> Markup {
    let y_axis = Axis::over(
        points
            .iter()
            .flat_map(|p| [p.on_the_books, p.stly_on_the_books]),
    );
    let slot = (W - LEFT - RIGHT) / points.len().max(1) as f64;
    let x = |i: usize| LEFT + slot * (i as f64 + 0.5);
    let line = |figure: fn(&CurvePoint) -> i64| {
        let each: Vec<String> = points
            .iter()
            .enumerate()
            .map(|(i, p)| format!("{},{}", at(x(i)), at(y_axis.y(figure(p)))))
            .collect();
        each.join(" ")
    };
    html! {
        svg.chart viewBox={ "0 0 " (W) " " (H) } role="img" aria-label=(caption) {
            (y_axis.grid())
            polyline.stly points=(line(|p| p.stly_on_the_books)) {}
            polyline.otb points=(line(|p| p.on_the_books)) {}
            @for (i, p) in points.iter().enumerate() {
                @let when = format!("{} days before ({})", p.days_before, long_date(p.as_of));
                circle.stly cx=(at(x(i))) cy=(at(y_axis.y(p.stly_on_the_books))) r="2" {
                    title { (when) ": " (p.stly_on_the_books) " on the books a year earlier" }
                }
                circle.otb cx=(at(x(i))) cy=(at(y_axis.y(p.on_the_books))) r="2.5" {
                    title { (when) ": " (p.on_the_books) " on the books" }
                }
                @if p.days_before % 10 == 0 {
                    text.tick x=(at(x(i))) y=(H - 8.0) text-anchor="middle" { (p.days_before) }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(month: u32, day: Option<u32>, bookings: i64, cancellations: i64) -> DashboardRow {
        DashboardRow {
            hotel_id: 7,
            period: if day.is_some() { "day" } else { "month" },
            year: 2022,
            month,
            day,
            bookings,
            cancellations,
            booking_count: bookings - cancellations,
        }
    }

    /// `(class, height)` of every bar, in order.
    fn bars(svg: &str) -> Vec<(String, f64)> {
        svg.split(r#"<rect class=""#)
            .skip(1)
            .map(|rest| {
                let class = rest.split('"').next().unwrap().to_string();
                let h = rest.split(r#"height=""#).nth(1).unwrap();
                (class, h.split('"').next().unwrap().parse().unwrap())
            })
            .collect()
    }

    /// The labelled y values, bottom to top, with the `y` of their lines.
    fn y_labels(svg: &str) -> Vec<(i64, f64)> {
        let mut labels: Vec<(i64, f64)> = svg
            .split("<line ")
            .skip(1)
            .map(|rest| {
                let y = rest.split(r#"y1=""#).nth(1).unwrap();
                let y: f64 = y.split('"').next().unwrap().parse().unwrap();
                let label = rest.split(r#"<text class="tick y" "#).nth(1).unwrap();
                let value = label.split('>').nth(1).unwrap().split('<').next().unwrap();
                (value.parse().unwrap(), y)
            })
            .collect();
        labels.sort_by_key(|(v, _)| *v);
        labels
    }

    fn night(day: &str, otb: i64, stly: i64, pickup7: i64) -> PaceNight {
        let day: NaiveDate = day.parse().unwrap();
        PaceNight {
            hotel_id: 7,
            night: day,
            as_of: day,
            on_the_books: otb,
            pickup: vec![pace::Pickup {
                days: CHART_PICKUP_DAYS,
                bookings: pickup7.max(0),
                cancellations: (-pickup7).max(0),
                net: pickup7,
            }],
            stly: pace::Stly {
                night: day,
                as_of: day,
                on_the_books: stly,
            },
        }
    }

    /// The `(y, height)` of the first `<rect class="{class}"`.
    fn shape(svg: &str, class: &str) -> (f64, f64) {
        let rest = svg
            .split(&format!(r#"<rect class="{class}""#))
            .nth(1)
            .unwrap();
        let attr = |name: &str| -> f64 {
            let v = rest.split(&format!(r#" {name}=""#)).nth(1).unwrap();
            v.split('"').next().unwrap().parse().unwrap()
        };
        (attr("y"), attr("height"))
    }

    #[test]
    fn pace_bars_stand_on_the_zero_line_pickup_goes_below_it_and_stly_marks_its_height() {
        let nights = [night("2024-03-01", 10, 5, -5)];
        let svg = pace_chart("c", &nights).into_string();
        let axis = svg.split(r#"<line class="axis""#).nth(1).unwrap();
        let zero: f64 = axis
            .split(r#"y1=""#)
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let (otb_y, otb_h) = shape(&svg, "bar otb");
        assert!((otb_y + otb_h - zero).abs() < 0.02, "{svg}");
        let (pickup_y, pickup_h) = shape(&svg, "bar pickup");
        assert!((pickup_y - zero).abs() < 0.02 && (pickup_h - otb_h / 2.0).abs() < 0.02);
        let stly = svg.split(r#"<line class="stly""#).nth(1).unwrap();
        let stly_y: f64 = stly
            .split(r#"y1=""#)
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!((stly_y - (zero - otb_h / 2.0)).abs() < 0.02, "{svg}");
        assert!(svg.contains("<title>Fri 1 Mar 2024: -5 net pickup over 7 days</title>"));
        // Zeros everywhere: every night keeps its shapes, nothing is out of the frame.
        let svg = pace_chart("c", &[night("2024-03-01", 0, 0, 0)]).into_string();
        assert_eq!(shape(&svg, "bar otb").1, 0.0);
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
    }

    #[test]
    fn the_y_axis_is_labelled_in_even_round_steps_covering_every_figure() {
        assert_eq!(
            [1, 4, 5, 8, 9, 10, 37, 400, 1234].map(tick_step),
            [1, 1, 2, 2, 5, 5, 10, 100, 500]
        );
        let rows = [row(1, None, 37, 3), row(2, None, 1, 9)];
        let labels = y_labels(&bar_chart("c", &rows).into_string());
        let values: Vec<i64> = labels.iter().map(|(v, _)| *v).collect();
        // Net −8 to bookings 37: a span of 45 in steps of 20, from −20 to 40.
        assert_eq!(values, [-20, 0, 20, 40]);
        let gaps: Vec<f64> = labels.windows(2).map(|w| w[0].1 - w[1].1).collect();
        assert!(
            gaps.iter().all(|g| (g - gaps[0]).abs() < 0.02 && *g > 0.0),
            "{gaps:?}"
        );
        assert!((labels[3].1 - TOP).abs() < 0.01 && (labels[0].1 - (H - BOTTOM)).abs() < 0.01);
    }

    #[test]
    fn net_bookings_are_a_line_with_a_point_per_bucket() {
        let rows = [row(1, None, 10, 5), row(2, None, 0, 0), row(3, None, 1, 4)];
        let svg = bar_chart("c", &rows).into_string();
        let points = svg
            .split(r#"<polyline class="net" points=""#)
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let ys: Vec<f64> = points
            .split(' ')
            .map(|p| p.split(',').nth(1).unwrap().parse().unwrap())
            .collect();
        assert_eq!(ys.len(), 3);
        let zero = y_labels(&svg).iter().find(|(v, _)| *v == 0).unwrap().1;
        assert!(
            ys[0] < zero && (ys[1] - zero).abs() < 0.01 && ys[2] > zero,
            "{ys:?}"
        );
        assert!(svg.contains("<title>Jan 2022: 5 net bookings</title>"));
        assert!(svg.contains("<title>Mar 2022: -3 net bookings</title>"));
    }

    #[test]
    fn bar_heights_are_proportional_to_the_figures() {
        let rows = [row(1, None, 10, 5), row(2, None, 0, 0), row(3, None, 4, 1)];
        let b = bars(&bar_chart("c", &rows).into_string());
        let classes: Vec<&str> = b.iter().map(|(c, _)| c.as_str()).collect();
        assert_eq!(
            classes,
            [
                "bar bookings",
                "bar cancellations",
                "bar bookings",
                "bar cancellations"
            ]
        );
        let tallest = b[0].1;
        assert!((tallest - (H - BOTTOM - TOP)).abs() < 0.01, "{tallest}");
        for ((_, h), value) in b.iter().zip([10.0, 5.0, 4.0, 1.0]) {
            assert!(
                (h / tallest - value / 10.0).abs() < 0.001,
                "{h} for {value}"
            );
        }
    }

    #[test]
    fn every_bar_has_its_number_on_hover_and_every_bucket_a_table_row() {
        let rows = [row(6, Some(3), 5, 2), row(6, Some(4), 0, 0)];
        let html = section("by-day", "June", "Day", &rows).into_string();
        assert!(
            html.contains("<title>3 Jun 2022: 5 bookings</title>"),
            "{html}"
        );
        assert!(html.contains("<title>3 Jun 2022: 2 cancellations</title>"));
        assert!(html.contains(
            r#"<tr data-bucket="2022-06-03"><th scope="row">3 Jun 2022</th><td>5</td><td>2</td><td>3</td></tr>"#
        ));
        assert!(html.contains(r#"<tr data-bucket="2022-06-04"><th scope="row">4 Jun 2022</th><td>0</td><td>0</td><td>0</td></tr>"#));
        assert!(
            html.contains("<tfoot><tr><th scope=\"row\">Total</th><td>5</td><td>2</td><td>3</td>")
        );
    }

    #[test]
    fn no_figures_say_so_instead_of_an_empty_frame() {
        let zeros: Vec<DashboardRow> = (1..=12).map(|m| row(m, None, 0, 0)).collect();
        for rows in [&zeros[..], &[]] {
            let html = section("by-month", "Nothing", "Month", rows).into_string();
            assert!(!html.contains("<svg") && !html.contains("<table"), "{html}");
            assert!(html.contains("No events for this hotel in this period."));
            let svg = bar_chart("c", rows).into_string();
            assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
            assert!(bars(&svg).is_empty());
        }
        let form = Form::from_query("hotel_id=7&year=2022");
        let body = section("by-month", "Nothing", "Month", &zeros);
        let response = page(StatusCode::OK, &form, &[], body);
        assert_eq!(response.status(), StatusCode::OK);
    }

    #[test]
    fn everything_interpolated_is_escaped() {
        let form = Form::from_query("hotel_id=%22%3E%3Cscript%3Ex%3C%2Fscript%3E&year=<b>'%26");
        let html = form_html(&form, &[]).into_string();
        assert!(
            !html.contains("<script>") && !html.contains("<b>"),
            "{html}"
        );
        assert!(html.contains(r#"value="&quot;&gt;&lt;script&gt;x&lt;/script&gt;""#));
        assert!(html.contains(r#"value="&lt;b&gt;'&amp;""#), "{html}");
        let html = section("<i>", "<script>", "<u>", &[row(1, None, 1, 0)]).into_string();
        assert!(!html.contains("<script>") && !html.contains("<i>") && !html.contains("<u>"));
        assert!(html.contains(r#"aria-label="&lt;script&gt;""#), "{html}");
    }

    #[test]
    fn the_form_echoes_the_values_sent() {
        let form = Form::from_query("hotel_id=12&year=2021&basis=stay&month=4&other=1");
        let html = form_html(&form, &[]).into_string();
        assert!(html.contains(r#"name="hotel_id" min="1" required value="12""#));
        assert!(html.contains(r#"<option value="stay" selected>"#));
        assert!(html.contains(r#"<option value="4" selected>Apr</option>"#));
    }

    #[test]
    fn the_form_offers_the_hotels_with_figures_and_their_years() {
        let hotels = [
            HotelYears {
                hotel_id: 3,
                basis: Basis::Event,
                first_year: 2022,
                last_year: 2024,
            },
            HotelYears {
                hotel_id: 12,
                basis: Basis::Event,
                first_year: 2021,
                last_year: 2021,
            },
        ];
        let html = form_html(&Form::from_query("hotel_id=12&year=2021"), &hotels).into_string();
        assert!(html.contains(r#"<select name="hotel_id" required><option value="3">3 (2022–2024)</option><option value="12" selected>12 (2021)</option></select>"#), "{html}");
        let html = form_html(&Form::from_query("hotel_id=<i>9"), &hotels).into_string();
        assert!(
            html.contains(
                r#"<option value="&lt;i&gt;9" selected>&lt;i&gt;9 (no figures)</option>"#
            ),
            "{html}"
        );
        assert_eq!(
            with_defaults(
                "hotel_id=&month=4",
                &Form::from_query("hotel_id=3&year=2024")
            ),
            "month=4&hotel_id=3&year=2024"
        );
        assert_eq!(
            with_defaults("hotel_id=1&hotel_id=2&year=2020", &Form::default()),
            "hotel_id=1&hotel_id=2&year=2020",
            "a repeated parameter stays, to be refused"
        );
    }
}
