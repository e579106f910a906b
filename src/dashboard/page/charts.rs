//! The charts view: a hotel's bookings, cancellations and net bookings per month of a year
//! and, for a month picked, per day, each with its table. The figures are `GET /dashboard`'s.

use chrono::{Datelike, Months, NaiveDate, Weekday};
use maud::{html, Markup};

use super::form::{years, FORM_FIELDS, MONTHS};
use super::svg::{at, Axis, LEFT, RIGHT, TOP, W};
use crate::auth::Caller;
use crate::dashboard::api::{figures, parse_dashboard_query, DashboardQuery, DashboardRow};
use crate::dashboard::store::HotelYears;
use crate::dashboard::{ApiState, MIN_YEAR};
use crate::error::ApiError;

/// The page's query as a `GET /dashboard` query with `period` set, so that
/// `parse_dashboard_query` checks it and names the field at fault. Every occurrence is kept, so a
/// repeated parameter is refused as it is there.
pub(super) fn dashboard_query(
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

pub(super) async fn charts(
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
    let months = dashboard_rows(state, &by_month).await?;
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
    let last_year = match year_earlier(&by_month) {
        Some(q) => dashboard_rows(state, &q).await?,
        None => Vec::new(),
    };
    let month_section = section(
        "by-month",
        &format!(
            "Hotel {}, {year}, per month ({} basis)",
            by_month.hotel_id,
            by_month.basis.name()
        ),
        "Month",
        &months,
        &last_year,
    );
    let day_section = match by_day {
        Some(q) => {
            let month = MONTHS[q.from.month0() as usize];
            let caption = format!(
                "Hotel {}, {month} {year}, per day ({} basis)",
                q.hotel_id,
                q.basis.name()
            );
            Some(section(
                "by-day",
                &caption,
                "Day",
                &dashboard_rows(state, &q).await?,
                &[],
            ))
        }
        None => None,
    };
    Ok(html! {
        (month_section)
        @if let Some(day_section) = day_section { (day_section) }
    })
}

/// The months of `q` a year earlier, unless that year is before the years the Dashboard answers
/// for.
fn year_earlier(q: &DashboardQuery) -> Option<DashboardQuery> {
    let year = q.from.year() - 1;
    if year < MIN_YEAR {
        return None;
    }
    Some(DashboardQuery {
        from: NaiveDate::from_ymd_opt(year, q.from.month(), q.from.day())?,
        to: NaiveDate::from_ymd_opt(year, q.to.month(), 1)?
            .checked_add_months(Months::new(1))?
            .pred_opt()?,
        ..q.clone()
    })
}

/// The rows `GET /dashboard` answers for `q`, read through the same recent answers.
pub(super) async fn dashboard_rows(
    state: &ApiState,
    q: &DashboardQuery,
) -> Result<Vec<DashboardRow>, ApiError> {
    Ok(figures(state, q.clone()).await?.rows.clone())
}

/// The day a daily row is for; `None` for a monthly one.
fn day_of(r: &DashboardRow) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(r.year, r.month, r.day?)
}

/// A row's bucket: its key (`2022-06`, `2022-06-03`), its axis label and its full name (with
/// the weekday for a day: `Fri 3 Jun 2022`).
pub(super) fn bucket(r: &DashboardRow) -> (String, String, String) {
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
            match day_of(r) {
                Some(day) => format!("{} {d} {month} {}", day.format("%a"), r.year),
                None => format!("{d} {month} {}", r.year),
            },
        ),
    }
}

/// Saturday and Sunday: shaded on the daily chart, so that a week's shape can be read at a
/// glance.
fn weekend(day: NaiveDate) -> bool {
    matches!(day.weekday(), Weekday::Sat | Weekday::Sun)
}

/// No bookings and no cancellations in any of `rows` (or no rows).
pub(super) fn no_events(rows: &[DashboardRow]) -> bool {
    rows.iter().all(|r| r.bookings == 0 && r.cancellations == 0)
}

/// The row of `earlier` for the same month (and day) as `r`, a year before it.
fn same_bucket<'a>(earlier: &'a [DashboardRow], r: &DashboardRow) -> Option<&'a DashboardRow> {
    earlier
        .iter()
        .find(|e| e.month == r.month && e.day == r.day && e.year + 1 == r.year)
}

/// One chart with its legend and its table; a range without events says so instead. `earlier`
/// holds the same buckets a year before (empty: not drawn).
pub fn section(
    id: &str,
    caption: &str,
    bucket_name: &str,
    rows: &[DashboardRow],
    earlier: &[DashboardRow],
) -> Markup {
    let last_year = rows.first().map(|r| r.year - 1);
    let daily = rows.iter().any(|r| r.day.is_some());
    html! {
        section id=(id) {
            h2 { (caption) }
            @if no_events(rows) {
                p.empty role="status" { "No events for this hotel in this period." }
            } @else {
                p.legend {
                    span.key.bookings {} "bookings"
                    span.key.cancellations {} "cancellations"
                    span.key.line.net {} "net bookings (bookings − cancellations)"
                    @if let (false, Some(y)) = (earlier.is_empty(), last_year) {
                        span.key.line.last-year {} "net bookings in " (y)
                    }
                    @if daily {
                        span.key.weekend {} "Saturday and Sunday"
                    }
                }
                (bar_chart(caption, rows, earlier))
                (table(bucket_name, rows, earlier))
            }
        }
    }
}

/// The x axis's title of a chart of `rows`.
fn x_title(rows: &[DashboardRow]) -> String {
    match rows.first() {
        Some(r) if r.day.is_some() => {
            let month = MONTHS.get(r.month.saturating_sub(1) as usize).copied();
            format!(
                "day of {} {} (weekday under it)",
                month.unwrap_or("?"),
                r.year
            )
        }
        Some(r) => format!("month of {}", r.year),
        None => String::new(),
    }
}

/// Bookings and cancellations side by side per bucket, the net bookings as a line across them
/// and, when `earlier` has them, the net bookings of the same months a year before as a dashed
/// line, over a y axis labelled every `tick_step`. A zero draws no bar (the table still shows
/// it); a negative net count goes below the zero line. A daily chart marks each day's weekday
/// under it and shades the weekends.
pub fn bar_chart(caption: &str, rows: &[DashboardRow], earlier: &[DashboardRow]) -> Markup {
    let before: Vec<Option<&DashboardRow>> = rows.iter().map(|r| same_bucket(earlier, r)).collect();
    let high = rows
        .iter()
        .flat_map(|r| [r.bookings, r.cancellations, r.booking_count])
        .chain(before.iter().flatten().map(|e| e.booking_count))
        .max()
        .unwrap_or(0)
        .max(0);
    let low = rows
        .iter()
        .map(|r| r.booking_count)
        .chain(before.iter().flatten().map(|e| e.booking_count))
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
    let earlier_points: Vec<String> = before
        .iter()
        .enumerate()
        .filter_map(|(i, e)| e.map(|e| format!("{},{}", at(centre(i)), at(y(e.booking_count)))))
        .collect();
    // Elements in SVG are closed explicitly (`{}`): HTML parsing would leave a bare `<line>` open.
    html! {
        svg.chart viewBox={ "0 0 " (W) " " (y_axis.chart_height()) } role="img" aria-label=(caption) {
            @for (i, day) in rows.iter().map(day_of).enumerate() {
                @if let Some(day) = day.filter(|d| weekend(*d)) {
                    rect.weekend x=(at(LEFT + slot * i as f64)) y=(at(TOP)) width=(at(slot))
                        height=(at(y_axis.plot_bottom() - TOP)) {
                        title { (day.format("%A")) }
                    }
                }
            }
            (y_axis.grid(&x_title(rows)))
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
                text.tick x=(at(centre(i))) y=(at(y_axis.label_y())) text-anchor="middle" { (axis) }
                @if let Some(day) = day_of(r) {
                    text.tick.weekday.weekend[weekend(day)] x=(at(centre(i)))
                        y=(at(y_axis.second_label_y())) text-anchor="middle" {
                        (day.format("%a").to_string().chars().take(2).collect::<String>())
                    }
                }
            }
            @if !earlier_points.is_empty() {
                polyline.last-year points=(earlier_points.join(" ")) {}
                @for (i, e) in before.iter().enumerate() {
                    @if let Some(e) = e {
                        circle.last-year cx=(at(centre(i))) cy=(at(y(e.booking_count))) r="3" {
                            title { (bucket(e).2) ": " (e.booking_count) " net bookings" }
                        }
                    }
                }
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

/// One row per bucket, and the totals; with `earlier`, the net bookings a year before too.
pub fn table(bucket_name: &str, rows: &[DashboardRow], earlier: &[DashboardRow]) -> Markup {
    let bookings: i64 = rows.iter().map(|r| r.bookings).sum();
    let cancellations: i64 = rows.iter().map(|r| r.cancellations).sum();
    let last_year = (!earlier.is_empty())
        .then(|| rows.first().map(|r| r.year - 1))
        .flatten();
    let earlier_net = |r: &DashboardRow| same_bucket(earlier, r).map_or(0, |e| e.booking_count);
    html! {
        table {
            thead { tr {
                th scope="col" { (bucket_name) }
                th scope="col" { "Bookings" }
                th scope="col" { "Cancellations" }
                th scope="col" { "Net bookings" }
                @if let Some(y) = last_year { th scope="col" { "Net bookings in " (y) } }
            } }
            tbody {
                @for r in rows {
                    @let (key, _, name) = bucket(r);
                    tr data-bucket=(key) {
                        th scope="row" { (name) }
                        td { (r.bookings) } td { (r.cancellations) } td { (r.booking_count) }
                        @if last_year.is_some() { td { (earlier_net(r)) } }
                    }
                }
            }
            tfoot { tr {
                th scope="row" { "Total" }
                td { (bookings) } td { (cancellations) } td { (bookings - cancellations) }
                @if last_year.is_some() {
                    td { (rows.iter().map(earlier_net).sum::<i64>()) }
                }
            } }
        }
    }
}
