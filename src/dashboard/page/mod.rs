//! `GET /`: a page for people. What the service is, where its API is described, and a form that
//! draws a hotel's dashboard as bar charts, from the same figures `GET /dashboard` answers. The
//! form offers the hotels that have figures; without a choice it shows the hotel and year with
//! the most events (a hotel chosen without a year: its latest year with figures).
//!
//! Its parts: the document around every view (`frame`), the form (`form`), the SVG axes and bars
//! (`svg`), the charts per month and day (`charts`), and the Pace view (`pace`).
//!
//! The Pace view (`view=pace`) shows a hotel's next 90 nights as of a day (by default the latest
//! event day counted for it): on the books, the same time last year, the 7-day net pickup and
//! each night's forecast with its p10–p90 band; above them the nights whose pace has left its
//! usual range (the alerts); the booking curve of a night picked from its table or an alert;
//! and the lead time of the 90 nights before the as-of day. Its parameters are read by the
//! endpoints' own parsing and its figures are their own typed reads of the hotel's night book
//! (`pace::pace_of`, `pace::curve_of`, `forecast_api::forecast_of`, `forecast_api::alerts_of`,
//! the book's lead days): the page only draws them.
//!
//! Everything is in the one response (inline CSS, inline SVG drawn here, no script), so the page
//! works offline; the Content-Security-Policy makes the browser hold it to that. The markup is
//! written with maud, which escapes every value spliced into it: nothing here escapes by hand.

mod charts;
mod form;
mod frame;
mod pace;
mod svg;
#[cfg(test)]
mod tests;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use chrono::Datelike;
use maud::{html, Markup};

use super::store::{self, HotelYears};
use super::ApiState;
use super::Basis;
use crate::auth::{page_cookie, Auth};
use crate::error::ApiError;

use charts::charts;
use form::form_html;
pub use form::Form;
pub(super) use frame::frame;
use pace::pace_view;

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
        if hotels.is_empty() {
            let body = match caller.hotels() {
                Some(_) => no_figures_for_the_key(),
                None => no_figures_yet(),
            };
            return page(StatusCode::OK, &form, &hotels, body);
        }
        // Something worth seeing first: the hotel and year with the most events.
        let basis = if form.basis == "stay" && view == View::Charts {
            Basis::Stay
        } else {
            Basis::Event
        };
        match busiest_hotel_year(&state, caller.hotels(), basis).await {
            Ok(Some((hotel_id, year))) => {
                form.hotel_id = hotel_id.to_string();
                if form.year.is_empty() {
                    form.year = year.to_string();
                }
            }
            Ok(None) => {
                if let Some(first) = hotels.first() {
                    form.hotel_id = first.hotel_id.to_string();
                }
            }
            Err(e) => return error_page(e, &form, &hotels),
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

/// The hotel and year with the most events on `basis` among `hotels` (`None`: every hotel).
async fn busiest_hotel_year(
    state: &ApiState,
    hotels: Option<Vec<i32>>,
    basis: Basis,
) -> Result<Option<(i32, i32)>, ApiError> {
    Ok(state
        .reads
        .read(|pool| {
            let hotels = hotels.clone();
            async move { super::busiest::busiest_hotel_year(&pool, hotels.as_deref(), basis).await }
        })
        .await?)
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
