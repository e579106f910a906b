//! The page's frame: the HTML document around every view and the sign-in form, its style
//! sheet and its content security policy.

use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use maud::{html, Markup, PreEscaped, DOCTYPE};

const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
                   base-uri 'none'; frame-ancestors 'none'";

pub(super) const STYLE: &str = "
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
.empty{background:#fff;border:1px solid #d8dde3;padding:.6rem 1rem;border-radius:6px}
.key{display:inline-block;width:.8em;height:.8em;margin:0 .3em 0 1em}
.key.line{width:1.6em;height:0;background:none;border-top:2px solid;vertical-align:middle}
.key.line.net{border-color:#1d7a46}.key.line.otb{border-color:#2f6db5}
.key.line.stly{border-color:#b8322a}.key.line.last-year{border-color:#7a6bb0;border-top-style:dashed}
polyline.last-year{fill:none;stroke:#7a6bb0;stroke-width:2;stroke-dasharray:6 4}
circle.last-year{fill:#7a6bb0}
rect.weekend{fill:#eef1f5}.key.weekend{background:#eef1f5;outline:1px solid #c8ced6}
text.weekday.weekend{font-weight:600;fill:#1d2733}
.axis{stroke:#8a949e}.grid{stroke:#e3e7eb}.tick{font-size:13px;fill:#4a5560}
.axis-title{font-size:14px;fill:#1d2733}
table{border-collapse:collapse;margin-top:.5rem;background:#fff;font-variant-numeric:tabular-nums}
th,td{border:1px solid #d8dde3;padding:.2rem .6rem}td{text-align:right}
tfoot th,tfoot td{font-weight:600}
nav.views{margin:.25rem 0 .75rem}
nav.views a[aria-current]{font-weight:600;color:inherit;text-decoration:none;
  border-bottom:2px solid #2f6db5}
.bar.otb,.key.otb{fill:#2f6db5;background:#2f6db5}
.bar.pickup,.key.pickup{fill:#1d7a46;background:#1d7a46}
line.stly{stroke:#b8322a;stroke-width:2}
polyline.otb{fill:none;stroke:#2f6db5;stroke-width:2}circle.otb{fill:#2f6db5}
polyline.stly{fill:none;stroke:#b8322a;stroke-width:2;stroke-dasharray:5 4}circle.stly{fill:#b8322a}
rect.band,.key.band{fill:#e8a33d;fill-opacity:.45;background:rgba(232,163,61,.45)}
circle.forecast{fill:#7a3f00;stroke:#fff;stroke-width:.8}
.key.dot{border-radius:50%;width:.6em;height:.6em}.key.forecast{background:#7a3f00}
ol.alerts{background:#fff;border:1px solid #d8dde3;border-radius:6px;padding:.5rem 1rem .5rem 2.5rem}
ol.alerts li{margin:.2rem 0}
tr.picked{background:#e8f0fa}
td.meaning{text-align:left}
details{margin-top:.5rem}
form.account{background:none;border:0;padding:0;margin:.5rem 0;align-items:center;gap:.5rem}
";

/// The page around `content`: what the service is, where its API is described, and a sign-out
/// button when the browser is `signed_in` (holds the page's cookie).
pub(in crate::dashboard) fn frame(
    status: StatusCode,
    signed_in: bool,
    content: Markup,
) -> Response {
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
                     bulk from a CSV export through a Redis queue and workers). Its Dashboard \
                     follows the Data Provider's change feed and counts each event within a \
                     second of its arrival, so the figures below are current when the page is \
                     loaded."
                }
                p {
                    "Two views: " strong { "bookings per month and day" } " (bookings, \
                     cancellations and net bookings of a year, beside the year before, counted \
                     on the event date, when the business came in, or on the night of stay; "
                    code { "GET /dashboard" } ") and " strong { "Pace" } " (for the 90 nights \
                     from any day: what is on the books as of that day, the same time last \
                     year, the last week's pickup, where each night is forecast to end with \
                     its p10–p90 range, the nights whose pace has left its usual range, each \
                     night's booking curve, and when nights were booked; "
                    code { "GET /dashboard/pace" } ", " code { "/dashboard/forecast" } ", "
                    code { "/dashboard/alerts" } ", " code { "/dashboard/booking-curve" } ", "
                    code { "/dashboard/lead-time" } ")."
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
