//! The page's drawing, checked on its markup: the browser tests (`tests/it/web_page.rs`) check
//! it against the endpoints' answers.

use axum::http::StatusCode;
use chrono::NaiveDate;

use super::charts::{bar_chart, section};
use super::form::form_html;
use super::pace::{
    alerts_section, curve_chart, lead_time_section, pace_chart, pickup_chart, CHART_PICKUP_DAYS,
};
use super::svg::{tick_step, BOTTOM, H, TOP};
use super::{page, with_defaults, Form};
use crate::dashboard::api::DashboardRow;
use crate::dashboard::book::LeadDays;
use crate::dashboard::forecast_api::{Alert, ForecastFigures, Surprise};
use crate::dashboard::pace::{self, CurvePoint, PaceNight};
use crate::dashboard::store::HotelYears;
use crate::dashboard::Basis;

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
        .filter(|rest| rest.starts_with("bar "))
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
        .filter(|rest| rest.starts_with(r#"class="grid""#) || rest.starts_with(r#"class="axis""#))
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

/// The `y1` of the first `<line class="{class}"`.
fn line_y(svg: &str, class: &str) -> f64 {
    let rest = svg
        .split(&format!(r#"<line class="{class}""#))
        .nth(1)
        .unwrap();
    let v = rest.split(r#"y1=""#).nth(1).unwrap();
    v.split('"').next().unwrap().parse().unwrap()
}

#[test]
fn pace_bars_stand_on_the_zero_line_stly_marks_its_height_and_pickup_has_its_own_axis() {
    let nights = [night("2024-03-01", 10, 5, -5)];
    let svg = pace_chart("c", &nights, &[]).into_string();
    let zero = line_y(&svg, "axis");
    let (otb_y, otb_h) = shape(&svg, "bar otb");
    assert!((otb_y + otb_h - zero).abs() < 0.02, "{svg}");
    assert!(
        !svg.contains("bar pickup"),
        "pickup is not drawn over on the books: {svg}"
    );
    assert!(
        (line_y(&svg, "stly") - (zero - otb_h / 2.0)).abs() < 0.02,
        "{svg}"
    );
    // Pickup on its own axis, so a pickup of 5 beside 10 on the books is as tall as the chart
    // allows: from the zero line down to −5, on an axis from −6 to 0 (steps of 2).
    let svg = pickup_chart("c", &nights).into_string();
    let zero = line_y(&svg, "axis");
    let (pickup_y, pickup_h) = shape(&svg, "bar pickup");
    let plot = y_labels(&svg);
    let full = plot.last().unwrap().1 - plot.first().unwrap().1;
    assert!((pickup_y - zero).abs() < 0.02, "{svg}");
    assert!(
        (pickup_h - full.abs() * 5.0 / 6.0).abs() < 0.02,
        "{pickup_h} of {full}: {svg}"
    );
    assert!(svg.contains("<title>Fri 1 Mar 2024: -5 net pickup over 7 days</title>"));
    // Zeros everywhere: every night keeps its shapes, nothing is out of the frame.
    let zeros = [night("2024-03-01", 0, 0, 0)];
    let svg = pace_chart("c", &zeros, &[]).into_string();
    assert_eq!(shape(&svg, "bar otb").1, 0.0);
    assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
    let svg = pickup_chart("c", &zeros).into_string();
    assert_eq!(shape(&svg, "bar pickup").1, 0.0);
    assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
}

#[test]
fn every_chart_titles_its_axes() {
    let rows = [row(1, None, 3, 1)];
    let nights = [night("2024-03-01", 10, 5, 2)];
    let point = CurvePoint {
        days_before: 0,
        as_of: "2024-03-01".parse().unwrap(),
        on_the_books: 4,
        stly_on_the_books: 3,
    };
    for (svg, x) in [
        (bar_chart("c", &rows, &[]), "month of 2022"),
        (
            bar_chart("c", &[row(6, Some(3), 1, 0)], &[]),
            "day of Jun 2022 (weekday under it)",
        ),
        (
            pace_chart("c", &nights, &[]),
            "night (labelled every 7th, a Friday)",
        ),
        (
            pickup_chart("c", &nights),
            "night (labelled every 7th, a Friday)",
        ),
        (curve_chart("c", &[point]), "days before the night"),
    ] {
        let svg = svg.into_string();
        assert!(
            svg.contains(r#"<text class="axis-title y" x="16""#)
                && svg.contains(">room-nights</text>"),
            "{svg}"
        );
        assert!(
            svg.contains(&format!(r#"text-anchor="middle">{x}</text>"#)),
            "{x}: {svg}"
        );
    }
}

#[test]
fn the_tick_labels_are_larger_than_11_px() {
    let size: f64 = super::frame::STYLE
        .split(".tick{font-size:")
        .nth(1)
        .and_then(|rest| rest.split("px").next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(size > 11.0, "{size}");
}

#[test]
fn the_y_axis_is_labelled_in_even_round_steps_covering_every_figure() {
    assert_eq!(
        [1, 4, 5, 8, 9, 10, 37, 400, 1234].map(tick_step),
        [1, 1, 2, 2, 5, 5, 10, 100, 500]
    );
    let rows = [row(1, None, 37, 3), row(2, None, 1, 9)];
    let labels = y_labels(&bar_chart("c", &rows, &[]).into_string());
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
    let svg = bar_chart("c", &rows, &[]).into_string();
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
    let b = bars(&bar_chart("c", &rows, &[]).into_string());
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
    let html = section("by-day", "June", "Day", &rows, &[]).into_string();
    assert!(
        html.contains("<title>Fri 3 Jun 2022: 5 bookings</title>"),
        "{html}"
    );
    assert!(html.contains("<title>Fri 3 Jun 2022: 2 cancellations</title>"));
    assert!(html.contains(
        r#"<tr data-bucket="2022-06-03"><th scope="row">Fri 3 Jun 2022</th><td>5</td><td>2</td><td>3</td></tr>"#
    ));
    assert!(html.contains(r#"<tr data-bucket="2022-06-04"><th scope="row">Sat 4 Jun 2022</th><td>0</td><td>0</td><td>0</td></tr>"#));
    assert!(html.contains("<tfoot><tr><th scope=\"row\">Total</th><td>5</td><td>2</td><td>3</td>"));
}

#[test]
fn the_daily_chart_marks_each_weekday_and_shades_the_weekends() {
    // 1 to 30 June 2022: Wednesday to Thursday, four weekends.
    let rows: Vec<DashboardRow> = (1..=30).map(|d| row(6, Some(d), 1, 0)).collect();
    let svg = bar_chart("c", &rows, &[]).into_string();
    let weekdays: Vec<&str> = svg
        .split(r#"<text class="tick weekday"#)
        .skip(1)
        .map(|t| t.split('>').nth(1).unwrap().split('<').next().unwrap())
        .collect();
    assert_eq!(weekdays.len(), 30, "{svg}");
    assert_eq!(&weekdays[..7], ["We", "Th", "Fr", "Sa", "Su", "Mo", "Tu"]);
    assert_eq!(svg.matches(r#"<rect class="weekend""#).count(), 8, "{svg}");
    assert!(svg.contains("<title>Saturday</title>") && svg.contains("<title>Sunday</title>"));
    assert!(!svg.contains("<title>Monday</title>"));
    // The monthly chart has neither.
    let svg = bar_chart("c", &[row(1, None, 3, 1)], &[]).into_string();
    assert!(
        !svg.contains("weekday") && !svg.contains("weekend"),
        "{svg}"
    );
}

#[test]
fn the_monthly_chart_draws_last_year_beside_this_year() {
    let rows: Vec<DashboardRow> = (1..=12)
        .map(|m| row(m, None, 10 + i64::from(m), 2))
        .collect();
    let earlier: Vec<DashboardRow> = (1..=12)
        .map(|m| DashboardRow {
            year: 2021,
            ..row(m, None, 40 - i64::from(m), 1)
        })
        .collect();
    let html = section("by-month", "c", "Month", &rows, &earlier).into_string();
    assert!(html.contains("net bookings in 2021"), "{html}");
    let points = html
        .split(r#"<polyline class="last-year" points=""#)
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    assert_eq!(points.split(' ').count(), 12);
    // The y axis covers last year's figures too (38 net in Jan 2021).
    let labels = y_labels(&html);
    assert!(labels.last().unwrap().0 >= 38, "{labels:?}");
    assert!(
        html.contains("<title>Jan 2021: 38 net bookings</title>"),
        "{html}"
    );
    assert!(html
        .contains(r#"<th scope="col">Net bookings</th><th scope="col">Net bookings in 2021</th>"#));
    assert!(html.contains(
        r#"<tr data-bucket="2022-01"><th scope="row">Jan 2022</th><td>11</td><td>2</td><td>9</td><td>38</td></tr>"#
    ), "{html}");
    let total: i64 = earlier.iter().map(|e| e.booking_count).sum();
    assert!(
        html.contains(&format!("<td>{total}</td></tr></tfoot>")),
        "{html}"
    );
    // The table says what the legend says.
    assert!(!html.contains("Booking count"));
}

#[test]
fn the_lead_time_explains_its_buckets_after_included() {
    let days = [
        LeadDays {
            days_before: -2,
            bookings: 0,
            cancellations: 3,
        },
        LeadDays {
            days_before: 0,
            bookings: 4,
            cancellations: 1,
        },
        LeadDays {
            days_before: 45,
            bookings: 7,
            cancellations: 0,
        },
        LeadDays {
            days_before: 400,
            bookings: 2,
            cancellations: 0,
        },
    ];
    let from = "2024-01-01".parse().unwrap();
    let to = "2024-03-30".parse().unwrap();
    let html = lead_time_section(from, to, &pace::lead_time(&days)).into_string();
    for (bucket, meaning, figures) in [
        ("after", "counted after the night had passed", [0, 3, -3]),
        ("0", "on the day of the night itself", [4, 1, 3]),
        ("1", "1 day before the night", [0, 0, 0]),
        ("31-60", "31 to 60 days before the night", [7, 0, 7]),
        ("366+", "366 days or more before the night", [2, 0, 2]),
    ] {
        let want = format!(
            r#"<tr data-bucket="{bucket}"><th scope="row">{bucket}</th><td class="meaning">{meaning}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            figures[0], figures[1], figures[2]
        );
        assert!(html.contains(&want), "{want}: {html}");
    }
    assert!(html.contains("once the night had passed"), "{html}");
    let none = lead_time_section(from, to, &pace::lead_time(&[])).into_string();
    assert!(none.contains("No bookings or cancellations counted for these nights."));
    assert!(!none.contains("<table"));
}

#[test]
fn no_figures_say_so_instead_of_an_empty_frame() {
    let zeros: Vec<DashboardRow> = (1..=12).map(|m| row(m, None, 0, 0)).collect();
    for rows in [&zeros[..], &[]] {
        let html = section("by-month", "Nothing", "Month", rows, &[]).into_string();
        assert!(!html.contains("<svg") && !html.contains("<table"), "{html}");
        assert!(html.contains("No events for this hotel in this period."));
        let svg = bar_chart("c", rows, &[]).into_string();
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
        assert!(bars(&svg).is_empty());
    }
    let form = Form::from_query("hotel_id=7&year=2022");
    let body = section("by-month", "Nothing", "Month", &zeros, &[]);
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
    let html = section("<i>", "<script>", "<u>", &[row(1, None, 1, 0)], &[]).into_string();
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
        html.contains(r#"<option value="&lt;i&gt;9" selected>&lt;i&gt;9 (no figures)</option>"#),
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

#[test]
fn the_forecast_is_a_dot_on_its_p10_p90_band_and_the_axis_covers_the_band() {
    let nights = [night("2024-03-01", 10, 5, 2), night("2024-03-02", 8, 6, 1)];
    let with_band = ForecastFigures {
        expected: 18.4,
        p10: Some(15.0),
        p90: Some(23.0),
        pickup_expected: 8.4,
    };
    let without = ForecastFigures {
        expected: 12.0,
        p10: None,
        p90: None,
        pickup_expected: 4.0,
    };
    let svg = pace_chart("c", &nights, &[Some(&with_band), Some(&without)]).into_string();
    assert_eq!(svg.matches(r#"<rect class="band""#).count(), 1, "{svg}");
    assert_eq!(
        svg.matches(r#"<circle class="forecast""#).count(),
        2,
        "{svg}"
    );
    assert!(svg.contains("<title>Fri 1 Mar 2024: forecast range 15 to 23 (p10–p90)</title>"));
    assert!(svg.contains("<title>Fri 1 Mar 2024: forecast 18.4 room-nights at the end</title>"));
    assert!(svg.contains("<title>Sat 2 Mar 2024: forecast 12 room-nights at the end</title>"));
    // 0 to 23 in steps of 10: up to 30, the band inside the frame.
    let labels = y_labels(&svg);
    assert_eq!(labels.last().unwrap().0, 30, "{labels:?}");
    let (band_y, band_h) = shape(&svg, "band");
    let zero = line_y(&svg, "axis");
    let per_room = (zero - labels.last().unwrap().1) / 30.0;
    assert!((band_y - (zero - 23.0 * per_room)).abs() < 0.02, "{svg}");
    assert!((band_h - 8.0 * per_room).abs() < 0.02, "{svg}");
}

#[test]
fn the_alerts_are_listed_most_surprising_first_each_linking_to_its_curve() {
    let alert = |night: &str, score: f64| Alert {
        hotel_id: 7,
        night: night.parse().unwrap(),
        as_of: "2024-03-01".parse().unwrap(),
        lead: 40,
        on_the_books: 58,
        score,
        surprises: vec![Surprise {
            figure: "pickup_1d".into(),
            actual: 31.0,
            expected_low: -2.0,
            expected_high: 6.0,
            expected_median: 1.0,
            score,
        }],
    };
    let as_of = "2024-03-01".parse().unwrap();
    let html = alerts_section(
        7,
        as_of,
        90,
        &[alert("2024-03-05", 4.2), alert("2024-04-10", 9.3)],
    )
    .into_string();
    let first = html.find(r#"<li data-night="2024-04-10">"#).unwrap();
    let second = html.find(r#"<li data-night="2024-03-05">"#).unwrap();
    assert!(first < second, "{html}");
    assert!(html.contains(
        r#"<a href="/?view=pace&amp;hotel_id=7&amp;as_of=2024-03-01&amp;night=2024-04-10#curve">Wed 10 Apr 2024</a>, 40 days out, 58 on the books (score 9.3): net pickup over the last day: 31 (usually -2 to 6)"#
    ), "{html}");
    assert!(html.contains("2 of these 90 nights"));
    let none = alerts_section(7, as_of, 90, &[]).into_string();
    assert!(
        none.contains("None of these 90 nights has left the range"),
        "{none}"
    );
    assert!(!none.contains("<ol"));
}
