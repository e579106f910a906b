//! The Pace view: a hotel's next 90 nights as of a day (on the books, the same time last year,
//! the net pickup, the forecast and its p10–p90 band), the alerts of those nights, the booking
//! curve of a night picked from its table or an alert, and when the nights before the as-of day
//! were booked and cancelled (the lead time).

use chrono::{NaiveDate, TimeDelta};
use maud::{html, Markup};

use super::defaulted;
use super::form::Form;
use super::svg::{at, bar, Axis, LEFT, RIGHT, W};
use crate::auth::Caller;
use crate::dashboard::book::{Book, NightRange};
use crate::dashboard::forecast_api::{
    self, Alert, AlertsQuery, ForecastFigures, ForecastNight, ForecastQuery,
};
use crate::dashboard::pace::{self, CurvePoint, CurveQuery, LeadTimeBucket, PaceNight};
use crate::dashboard::ApiState;
use crate::error::ApiError;

/// The Pace view: the alerts and the 90 nights from the as-of day with their forecast, when a
/// night is picked its booking curve, and the lead time. Every parameter is checked by the
/// endpoints' own parsing before anything is read, so a bad one is refused (naming it) whatever
/// the figures; the figures are the endpoints' own typed reads of the hotel's book.
pub(super) async fn pace_view(
    state: &ApiState,
    caller: &Caller,
    query: &str,
    form: &Form,
) -> Result<Markup, ApiError> {
    let hotel = [("hotel_id", form.hotel_id.as_str())];
    let ask = pace::parse_pace_ask(&defaulted(
        query,
        |k| matches!(k, "hotel_id" | "as_of"),
        &hotel,
    ))?;
    caller.check(ask.hotel_id)?;
    let curve = if form.night.is_empty() {
        None
    } else {
        Some(pace::parse_curve_query(&defaulted(
            query,
            |k| matches!(k, "hotel_id" | "night"),
            &hotel,
        ))?)
    };
    let hotel_id = ask.hotel_id;
    let book = state.book(hotel_id).await?;
    let Some(as_of) = ask.as_of.or_else(|| default_as_of(&book)) else {
        return Ok(html! {
            p.empty role="status" {
                "No figures for hotel " (hotel_id) ": the dashboard has counted no events for \
                 it, so it has no latest day to show the pace as of. Pick a hotel with figures, \
                 or an as-of day."
            }
        });
    };
    // The endpoints' defaults: the nights from the as-of day, the usual pickup windows.
    let q = ask.resolve(as_of)?;
    let nights = pace::pace_of(&book, &q)?;
    let forecast_q = ForecastQuery {
        hotel_id,
        from: q.from,
        to: q.to,
        as_of,
    };
    let forecasts = forecast_api::forecast_of(&book, &forecast_q).await?;
    let alerts_q = AlertsQuery {
        hotel_id,
        as_of,
        horizon: nights.len().saturating_sub(1),
    };
    let alerts = forecast_api::alerts_of(&book, &alerts_q).await?;
    let picked = curve.as_ref().map(|q| q.night);
    let curve = match curve {
        Some(q) => Some(curve_section(&q, &pace::curve_of(&book, &q)?)),
        None => None,
    };
    let (from, to) = (as_of - LEAD_NIGHTS, as_of - TimeDelta::days(1));
    let lead = pace::lead_time(&book.lead_days(from, to));
    Ok(html! {
        (alerts_section(hotel_id, as_of, nights.len(), &alerts))
        (pace_sections(hotel_id, as_of, &nights, &forecasts, picked, curve))
        (lead_time_section(from, to, &lead))
    })
}

/// The as-of day when none is asked for: the latest event day counted for the hotel (as the
/// endpoints default to), or earlier when the hotel's nights end sooner than 90 nights after it,
/// so that every night shown can have figures: a history that has ended (a sample export) then
/// opens on its last 90 nights rather than on nights nobody booked. `None`: no events.
fn default_as_of(book: &Book) -> Option<NaiveDate> {
    let latest = book.last_event_day()?;
    // The last night with figures, looked for up to the 90th night from the latest event day
    // and back over the two years before it.
    let range = NightRange {
        from: latest - LOOK_BACK,
        to: latest + LAST_SHOWN,
        as_of: latest,
    };
    let last_night = book.pace(range, &[]).last().map(|n| n.night);
    Some(match last_night {
        Some(night) => latest.min(night - LAST_SHOWN),
        None => latest,
    })
}

/// How far back the last night with figures is looked for.
const LOOK_BACK: TimeDelta = TimeDelta::days(732);

/// The last of the view's 90 nights, after its first.
const LAST_SHOWN: TimeDelta = TimeDelta::days(89);

/// The pickup window the pace chart draws under the nights, in days.
pub(super) const CHART_PICKUP_DAYS: i32 = 7;

/// The lead time is shown for the nights just before the as-of day: nights that are over, so
/// that every bucket, "after" included, can have figures.
const LEAD_NIGHTS: TimeDelta = TimeDelta::days(90);

/// The height of the pickup chart: pickup is a small figure beside on the books, so it has its
/// own axis, under the nights' chart and aligned with it.
const PICKUP_H: f64 = 200.0;

/// `Fri 1 Mar 2024`.
pub(super) fn long_date(d: NaiveDate) -> String {
    d.format("%a %-d %b %Y").to_string()
}

/// The net pickup of `n` over the window of `days`, when it was asked for.
pub(super) fn net_pickup(n: &PaceNight, days: i32) -> i64 {
    n.pickup
        .iter()
        .find(|p| p.days == days)
        .map_or(0, |p| p.net)
}

/// The Pace view's address for a night of the hotel, as of a day.
pub(super) fn night_link(hotel_id: i32, as_of: NaiveDate, night: NaiveDate) -> String {
    format!("/?view=pace&hotel_id={hotel_id}&as_of={as_of}&night={night}#curve")
}

/// The chart of the nights with the pickup under it, the booking curve of the night picked
/// (right under them, so that both are in view together), and the nights' table; or a
/// sentence when none of the nights has a figure.
pub fn pace_sections(
    hotel_id: i32,
    as_of: NaiveDate,
    nights: &[PaceNight],
    forecasts: &[ForecastNight],
    picked: Option<NaiveDate>,
    curve: Option<Markup>,
) -> Markup {
    let (Some(first), Some(last)) = (nights.first(), nights.last()) else {
        return html! {};
    };
    let forecast = forecast_of_each(nights, forecasts);
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
                    span.key.line.stly {} "same time last year (the night 364 days earlier, as of "
                        (long_date(first.stly.as_of)) ")"
                    span.key.dot.forecast {} "forecast: the room-nights the night is expected to \
                        end with"
                    span.key.band {} "the forecast's p10–p90 range (8 nights in 10 end inside it)"
                }
                (pace_chart(&caption, nights, &forecast))
                p.legend {
                    span.key.pickup {} "net pickup over the last " (CHART_PICKUP_DAYS)
                    " days: bookings − cancellations counted in the " (CHART_PICKUP_DAYS)
                    " days up to " (long_date(as_of)) " (below zero: more cancelled than booked)"
                }
                (pickup_chart(&format!("{caption}: net pickup over {CHART_PICKUP_DAYS} days"), nights))
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
                        th scope="col" { "Forecast" }
                        th scope="col" { "p10–p90" }
                    } }
                    tbody {
                        @for (i, n) in nights.iter().enumerate() {
                            tr data-night=(n.night) class=[(picked == Some(n.night)).then_some("picked")] {
                                th scope="row" {
                                    a href=(night_link(hotel_id, as_of, n.night)) { (long_date(n.night)) }
                                }
                                td { (n.on_the_books) }
                                td { (n.stly.on_the_books) }
                                @for p in &n.pickup { td { (p.net) } }
                                @let f = forecast[i];
                                td { (f.map_or("–".to_string(), |f| figure(f.expected))) }
                                td { (f.and_then(band_of).map_or("–".to_string(), |(lo, hi)| format!("{}–{}", figure(lo), figure(hi)))) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The x labels of a chart of nights: every seventh night, from the first.
fn night_labels(nights: &[PaceNight], slot: f64, y_axis: &Axis) -> Markup {
    html! {
        @for (i, n) in nights.iter().enumerate().step_by(7) {
            text.tick x=(at(LEFT + slot * (i as f64 + 0.5))) y=(at(y_axis.label_y()))
                text-anchor="middle" {
                (n.night.format("%-d %b"))
            }
        }
    }
}

/// The x axis's title under a chart of `nights`.
fn nights_title(nights: &[PaceNight]) -> String {
    match nights.first() {
        Some(n) => format!("night (labelled every 7th, a {})", n.night.format("%A")),
        None => "night".into(),
    }
}

/// Per night: a bar of on the books, a mark across it at the same time last year and, when
/// there is one, the forecast as a dot on its p10–p90 band (`forecast`, one per night). Every
/// night has its shapes, zero or not, so that each has its figures on hover; the axis is
/// labelled every seventh night.
pub fn pace_chart(
    caption: &str,
    nights: &[PaceNight],
    forecast: &[Option<&ForecastFigures>],
) -> Markup {
    let highest = |f: &ForecastFigures| f.p90.unwrap_or(f.expected).max(f.expected).ceil() as i64;
    let values = nights
        .iter()
        .flat_map(|n| [n.on_the_books, n.stly.on_the_books])
        .chain(forecast.iter().flatten().map(|f| highest(f)));
    let y_axis = Axis::over(values);
    let slot = (W - LEFT - RIGHT) / nights.len().max(1) as f64;
    html! {
        svg.chart viewBox={ "0 0 " (W) " " (y_axis.chart_height()) } role="img" aria-label=(caption) {
            (y_axis.grid(&nights_title(nights)))
            @for (i, n) in nights.iter().enumerate() {
                @let x = LEFT + slot * i as f64;
                @let name = long_date(n.night);
                (bar("bar otb", x + slot * 0.15, slot * 0.7, n.on_the_books, &y_axis,
                    &format!("{name}: {} on the books", n.on_the_books)))
                line.stly x1=(at(x + slot * 0.05)) x2=(at(x + slot * 0.95))
                    y1=(at(y_axis.y(n.stly.on_the_books))) y2=(at(y_axis.y(n.stly.on_the_books))) {
                    title { (name) ": " (n.stly.on_the_books) " on the books a year earlier" }
                }
                @if let Some(f) = forecast.get(i).copied().flatten() {
                    @if let Some((lo, hi)) = band_of(f) {
                        rect.band x=(at(x + slot * 0.25)) width=(at(slot * 0.5))
                            y=(at(y_axis.y_of(hi))) height=(at(y_axis.y_of(lo) - y_axis.y_of(hi))) {
                            title { (name) ": forecast range " (figure(lo)) " to " (figure(hi)) " (p10–p90)" }
                        }
                    }
                    circle.forecast cx=(at(x + slot * 0.5)) cy=(at(y_axis.y_of(f.expected))) r="2.6" {
                        title { (name) ": forecast " (figure(f.expected)) " room-nights at the end" }
                    }
                }
            }
            (night_labels(nights, slot, &y_axis))
        }
    }
}

/// The forecast of each of `nights` (in their order), from `forecasts` by night: none for a
/// night it does not have, or has none for.
fn forecast_of_each<'a>(
    nights: &[PaceNight],
    forecasts: &'a [ForecastNight],
) -> Vec<Option<&'a ForecastFigures>> {
    let by_night: std::collections::HashMap<NaiveDate, &ForecastFigures> = forecasts
        .iter()
        .filter_map(|f| f.forecast.as_ref().map(|figures| (f.night, figures)))
        .collect();
    nights
        .iter()
        .map(|n| by_night.get(&n.night).copied())
        .collect()
}

/// `(p10, p90)`, when the forecast has its band.
fn band_of(f: &ForecastFigures) -> Option<(f64, f64)> {
    Some((f.p10?, f.p90?))
}

/// Room-nights as the forecast gives them (to a tenth), without a trailing `.0`.
fn figure(v: f64) -> String {
    let tenths = (v * 10.0).round() / 10.0;
    if tenths.fract() == 0.0 {
        format!("{tenths:.0}")
    } else {
        format!("{tenths:.1}")
    }
}

/// What a surprise's figure is, in words.
fn surprise_name(figure: &str) -> &str {
    match figure {
        "on_the_books" => "on the books, less what similar nights had at this lead",
        "pickup_1d" => "net pickup over the last day",
        "pickup_7d" => "net pickup over the last 7 days",
        other => other,
    }
}

/// The nights whose pace has left its usual range, most surprising first, each linking to its
/// booking curve; `shown` is how many nights the view shows.
pub fn alerts_section(hotel_id: i32, as_of: NaiveDate, shown: usize, alerts: &[Alert]) -> Markup {
    let mut alerts: Vec<&Alert> = alerts.iter().collect();
    alerts.sort_by(|a, b| b.score.total_cmp(&a.score));
    html! {
        section id="alerts" {
            h2 { "Nights off their usual pace, as of " (long_date(as_of)) }
            @if alerts.is_empty() {
                p.empty role="status" {
                    "None of these " (shown) " nights has left the range its on the books and \
                     pickup usually keep at its lead."
                }
            } @else {
                p {
                    (alerts.len()) " of these " (shown) " nights have a figure outside the range \
                     the hotel's own nights usually keep at the same lead, most surprising first \
                     (the score is how far outside, in robust standard deviations). Each links \
                     to its booking curve."
                }
                ol.alerts {
                    @for a in &alerts {
                        li data-night=(a.night) {
                            a href=(night_link(hotel_id, as_of, a.night)) { (long_date(a.night)) }
                            ", " (a.lead) " days out, " (a.on_the_books) " on the books (score "
                            (figure(a.score)) "): "
                            @for (i, s) in a.surprises.iter().enumerate() {
                                @if i > 0 { "; " }
                                (surprise_name(&s.figure)) ": " (figure(s.actual)) " (usually "
                                (figure(s.expected_low)) " to " (figure(s.expected_high)) ")"
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Per night, the net pickup over `CHART_PICKUP_DAYS` as a bar from the zero line (below it
/// when more was cancelled than booked), on an axis of its own, the nights where they are in
/// the chart above.
pub fn pickup_chart(caption: &str, nights: &[PaceNight]) -> Markup {
    let y_axis =
        Axis::over(nights.iter().map(|n| net_pickup(n, CHART_PICKUP_DAYS))).in_height(PICKUP_H);
    let slot = (W - LEFT - RIGHT) / nights.len().max(1) as f64;
    html! {
        svg.chart.pickup viewBox={ "0 0 " (W) " " (PICKUP_H) } role="img" aria-label=(caption) {
            (y_axis.grid(&nights_title(nights)))
            @for (i, n) in nights.iter().enumerate() {
                @let x = LEFT + slot * i as f64;
                @let pickup = net_pickup(n, CHART_PICKUP_DAYS);
                (bar("bar pickup", x + slot * 0.15, slot * 0.7, pickup, &y_axis,
                    &format!("{}: {pickup} net pickup over {CHART_PICKUP_DAYS} days", long_date(n.night))))
            }
            (night_labels(nights, slot, &y_axis))
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
                    span.key.line.otb {} "on the books as of each day before the night"
                    span.key.line.stly {} "the night 364 days earlier, as many days before it"
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
        svg.chart viewBox={ "0 0 " (W) " " (y_axis.chart_height()) } role="img" aria-label=(caption) {
            (y_axis.grid("days before the night"))
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
                    text.tick x=(at(x(i))) y=(at(y_axis.label_y())) text-anchor="middle" { (p.days_before) }
                }
            }
        }
    }
}

/// What a lead-time bucket holds, in words.
fn bucket_meaning(b: &LeadTimeBucket) -> String {
    let days = |d: i32| {
        if d == 1 {
            "1 day".to_string()
        } else {
            format!("{d} days")
        }
    };
    match (b.min_days, b.max_days) {
        (None, _) => "counted after the night had passed".into(),
        (Some(0), Some(0)) => "on the day of the night itself".into(),
        (Some(lo), Some(hi)) if lo == hi => format!("{} before the night", days(lo)),
        (Some(lo), Some(hi)) => format!("{lo} to {} before the night", days(hi)),
        (Some(lo), None) => format!("{} or more before the night", days(lo)),
    }
}

/// When the nights `from` … `to` were booked and cancelled: the buckets of days before the
/// night, each explained, "after" included.
pub fn lead_time_section(from: NaiveDate, to: NaiveDate, buckets: &[LeadTimeBucket]) -> Markup {
    let empty = buckets
        .iter()
        .all(|b| b.bookings == 0 && b.cancellations == 0);
    html! {
        section id="lead-time" {
            h2 { "Lead time of the nights " (long_date(from)) " to " (long_date(to)) }
            @if empty {
                p.empty role="status" { "No bookings or cancellations counted for these nights." }
            } @else {
                p {
                    "How many days before each night its room-nights were booked and cancelled, \
                     for the 90 nights before the as-of day (every event counted so far). Days \
                     before = the night's date − the UTC day the booking or cancellation was \
                     counted on: 0 is the day of the night itself, 1 the day before, and so on. "
                    strong { "after" }
                    " holds what was counted once the night had passed: mostly cancellations \
                     entered late (a stay cut short, a booking cancelled or corrected after its \
                     date). They still change the night's final count, which is why a night's \
                     on the books can drop after it."
                }
                table.lead-time {
                    thead { tr {
                        th scope="col" { "Days before the night" }
                        th scope="col" { "Meaning" }
                        th scope="col" { "Bookings" }
                        th scope="col" { "Cancellations" }
                        th scope="col" { "Net" }
                    } }
                    tbody {
                        @for b in buckets {
                            tr data-bucket=(b.bucket) {
                                th scope="row" { (b.bucket) }
                                td.meaning { (bucket_meaning(b)) }
                                td { (b.bookings) }
                                td { (b.cancellations) }
                                td { (b.bookings - b.cancellations) }
                            }
                        }
                    }
                }
            }
        }
    }
}
