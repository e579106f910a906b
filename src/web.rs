//! `GET /`: a page for people. What the service is, where its API is described, and a form that
//! draws a hotel's dashboard as bar charts, from the same figures `GET /dashboard` answers.
//!
//! Everything is in the one response (inline CSS, inline SVG drawn here, no script), so the page
//! works offline; the Content-Security-Policy makes the browser hold it to that.

use std::fmt::Write;

use axum::extract::{RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use chrono::Datelike;

use crate::app::AppState;
use crate::dashboard::api::{parse_dashboard_query, rows, DashboardQuery, DashboardRow};
use crate::dashboard::store;
use crate::error::ApiError;

/// The parameters the form sends; any of them in the query means the form was submitted.
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
.key{display:inline-block;width:.8em;height:.8em;margin:0 .3em 0 1em}
.axis{stroke:#8a949e}.grid{stroke:#e3e7eb}.tick{font-size:11px;fill:#5a6570}
table{border-collapse:collapse;margin-top:.5rem;background:#fff;font-variant-numeric:tabular-nums}
th,td{border:1px solid #d8dde3;padding:.2rem .6rem}td{text-align:right}
tfoot th,tfoot td{font-weight:600}
";

/// The form's values as sent, echoed back into the form.
#[derive(Debug, Default)]
pub struct Form {
    pub hotel_id: String,
    pub year: String,
    pub basis: String,
    pub month: String,
    submitted: bool,
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
                _ => continue,
            };
            form.submitted = true;
            if slot.is_empty() {
                *slot = value.trim().to_string();
            }
        }
        form
    }
}

pub async fn index(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let query = query.unwrap_or_default();
    let mut form = Form::from_query(&query);
    if !form.submitted {
        form.year = chrono::Utc::now().year().to_string();
        return page(StatusCode::OK, &form, "");
    }
    match charts(&state, &query).await {
        Ok(body) => page(StatusCode::OK, &form, &body),
        Err(e) => {
            let (status, message) = error_parts(e);
            let body = format!(r#"<p class="error" role="alert">{}</p>"#, esc(&message));
            page(status, &form, &body)
        }
    }
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
        if FORM_FIELDS.contains(&key.as_ref()) && (with_month || key != "month") {
            q.append_pair(&key, &value);
        }
    }
    q.append_pair("period", period);
    parse_dashboard_query(&q.finish())
}

async fn charts(state: &AppState, query: &str) -> Result<String, ApiError> {
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
    let year = by_month.from.year();
    let mut out = section(
        "by-month",
        &format!(
            "Hotel {}, {year}, per month ({} basis)",
            by_month.hotel_id,
            by_month.basis.name()
        ),
        "Month",
        &fetch(state, &by_month).await?,
    );
    if let Some(q) = by_day {
        let month = MONTHS[q.from.month0() as usize];
        out += &section(
            "by-day",
            &format!(
                "Hotel {}, {month} {year}, per day ({} basis)",
                q.hotel_id,
                q.basis.name()
            ),
            "Day",
            &fetch(state, &q).await?,
        );
    }
    Ok(out)
}

/// Exactly what `GET /dashboard` answers for `q`.
async fn fetch(state: &AppState, q: &DashboardQuery) -> Result<Vec<DashboardRow>, ApiError> {
    let days = store::daily(&state.dashboard_db, q.hotel_id, q.basis, q.from, q.to).await?;
    Ok(rows(q, &days))
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

pub fn page(status: StatusCode, form: &Form, body: &str) -> Response {
    let html = format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>roompulse</title><style>{STYLE}</style></head>
<body><main>
<h1>roompulse</h1>
<p>roompulse takes in hotel booking events, one per room-night booked or cancelled, through its
Data Provider (<code>POST /events</code>, or in bulk from a CSV export through a Redis queue and
workers), and serves each hotel's bookings, cancellations and net booking count per month or per
day through its Dashboard (<code>GET /dashboard</code>), which a scheduled sync keeps up to date.
Figures are counted on the event date (when the business came in) or on the night of stay.</p>
<nav><a href="/swagger-ui/">Swagger UI</a><a href="/api-docs/data-provider.json">Data Provider OpenAPI</a><a href="/api-docs/dashboard.json">Dashboard OpenAPI</a></nav>
<h2>A hotel's figures</h2>
{form}
{body}
</main></body></html>
"#,
        form = form_html(form),
    );
    (status, [(header::CONTENT_SECURITY_POLICY, CSP)], Html(html)).into_response()
}

fn form_html(form: &Form) -> String {
    let selected = |on: bool| if on { " selected" } else { "" };
    let stay = form.basis == "stay";
    let mut months = String::new();
    for (i, name) in MONTHS.iter().enumerate() {
        let value = (i + 1).to_string();
        let _ = write!(
            months,
            r#"<option value="{value}"{}>{name}</option>"#,
            selected(form.month == value)
        );
    }
    format!(
        r#"<form method="get" action="/">
<label>Hotel id<input type="number" name="hotel_id" min="1" required value="{hotel}"></label>
<label>Year<input type="number" name="year" min="1900" max="2100" required value="{year}"></label>
<label>Basis<select name="basis"><option value="event"{event}>event date</option><option value="stay"{stay}>night of stay</option></select></label>
<label>Month (per-day chart)<select name="month"><option value="">none</option>{months}</select></label>
<button type="submit">Show</button>
</form>"#,
        hotel = esc(&form.hotel_id),
        year = esc(&form.year),
        event = selected(!stay),
        stay = selected(stay),
    )
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

/// One chart with its legend and its table.
pub fn section(id: &str, caption: &str, bucket_name: &str, rows: &[DashboardRow]) -> String {
    format!(
        r#"<section id="{id}"><h2>{caption}</h2>
<p class="legend"><span class="key bookings"></span>bookings<span class="key cancellations"></span>cancellations</p>
{svg}
{table}</section>
"#,
        id = esc(id),
        caption = esc(caption),
        svg = bar_chart(caption, rows),
        table = table(bucket_name, rows),
    )
}

const W: f64 = 960.0;
const H: f64 = 260.0;
const LEFT: f64 = 52.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 26.0;

/// A horizontal line across the plot at `y`, labelled `value` on the left.
fn rule(svg: &mut String, class: &str, y: f64, value: i64) {
    let _ = write!(
        svg,
        r#"<line class="{class}" x1="{LEFT}" y1="{y}" x2="{x2}" y2="{y}"/><text class="tick" x="{lx}" y="{ty}" text-anchor="end">{value}</text>"#,
        x2 = W - RIGHT,
        lx = LEFT - 6.0,
        ty = y + 4.0,
    );
}

/// Bookings and cancellations side by side per bucket, heights proportional to the largest
/// figure. A zero draws no bar (the table still shows it).
pub fn bar_chart(caption: &str, rows: &[DashboardRow]) -> String {
    let base = H - BOTTOM;
    let plot_h = base - TOP;
    let max = rows
        .iter()
        .flat_map(|r| [r.bookings, r.cancellations])
        .max()
        .unwrap_or(0);
    let mut svg = format!(
        r#"<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-label="{}">"#,
        esc(caption)
    );
    if max > 0 {
        rule(&mut svg, "grid", TOP, max);
    }
    rule(&mut svg, "axis", base, 0);
    let slot = (W - LEFT - RIGHT) / rows.len().max(1) as f64;
    let bar_w = slot * 0.38;
    for (i, r) in rows.iter().enumerate() {
        let (_, axis, name) = bucket(r);
        let start = LEFT + slot * i as f64 + slot * 0.12;
        for (j, (class, value)) in [("bookings", r.bookings), ("cancellations", r.cancellations)]
            .into_iter()
            .enumerate()
        {
            if value <= 0 {
                continue;
            }
            let h = value as f64 / max as f64 * plot_h;
            let _ = write!(
                svg,
                r#"<rect class="bar {class}" x="{x:.2}" y="{y:.2}" width="{bar_w:.2}" height="{h:.2}"><title>{name}: {value} {class}</title></rect>"#,
                x = start + bar_w * j as f64,
                y = base - h,
                name = esc(&name),
            );
        }
        let _ = write!(
            svg,
            r#"<text class="tick" x="{x:.2}" y="{y}" text-anchor="middle">{axis}</text>"#,
            x = LEFT + slot * (i as f64 + 0.5),
            y = H - 8.0,
            axis = esc(&axis),
        );
    }
    svg + "</svg>"
}

/// One row per bucket, and the totals.
pub fn table(bucket_name: &str, rows: &[DashboardRow]) -> String {
    let mut t = format!(
        r#"<table><thead><tr><th scope="col">{}</th><th scope="col">Bookings</th><th scope="col">Cancellations</th><th scope="col">Booking count</th></tr></thead><tbody>"#,
        esc(bucket_name)
    );
    let (mut b, mut c) = (0i64, 0i64);
    for r in rows {
        let (key, _, name) = bucket(r);
        b += r.bookings;
        c += r.cancellations;
        let _ = write!(
            t,
            r#"<tr data-bucket="{}"><th scope="row">{}</th><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            esc(&key),
            esc(&name),
            r.bookings,
            r.cancellations,
            r.booking_count
        );
    }
    let _ = write!(
        t,
        r#"</tbody><tfoot><tr><th scope="row">Total</th><td>{b}</td><td>{c}</td><td>{}</td></tr></tfoot></table>"#,
        b - c
    );
    t
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
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

    #[test]
    fn bar_heights_are_proportional_to_the_figures() {
        let rows = [row(1, None, 10, 5), row(2, None, 0, 0), row(3, None, 4, 1)];
        let b = bars(&bar_chart("c", &rows));
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
        let html = section("by-day", "June", "Day", &rows);
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
    fn no_figures_draw_no_bars_on_a_valid_page() {
        let zeros: Vec<DashboardRow> = (1..=12).map(|m| row(m, None, 0, 0)).collect();
        for rows in [&zeros[..], &[]] {
            let html = section("by-month", "Nothing", "Month", rows);
            assert!(bars(&html).is_empty(), "{html}");
            assert!(!html.contains("NaN") && !html.contains("inf"), "{html}");
            assert_eq!(html.matches("<svg").count(), html.matches("</svg>").count());
            assert_eq!(html.matches("<tr data-bucket").count(), rows.len());
        }
        let form = Form::from_query("hotel_id=7&year=2022");
        let body = section("by-month", "Nothing", "Month", &zeros);
        let response = page(StatusCode::OK, &form, &body);
        assert_eq!(response.status(), StatusCode::OK);
    }

    #[test]
    fn everything_interpolated_is_escaped() {
        assert_eq!(
            esc(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        let form = Form::from_query("hotel_id=%22%3E%3Cscript%3Ex%3C%2Fscript%3E&year=<b>");
        let html = form_html(&form);
        assert!(
            !html.contains("<script>") && !html.contains("<b>"),
            "{html}"
        );
        assert!(html.contains(r#"value="&quot;&gt;&lt;script&gt;x&lt;/script&gt;""#));
        let html = section("<i>", "<script>", "<u>", &[row(1, None, 1, 0)]);
        assert!(!html.contains("<script>") && !html.contains("<i>") && !html.contains("<u>"));
    }

    #[test]
    fn the_form_echoes_the_values_sent() {
        let form = Form::from_query("hotel_id=12&year=2021&basis=stay&month=4&other=1");
        let html = form_html(&form);
        assert!(html.contains(r#"name="hotel_id" min="1" required value="12""#));
        assert!(html.contains(r#"<option value="stay" selected>"#));
        assert!(html.contains(r#"<option value="4" selected>Apr</option>"#));
        assert!(!Form::from_query("other=1").submitted);
        assert!(Form::from_query("hotel_id=").submitted);
    }
}
