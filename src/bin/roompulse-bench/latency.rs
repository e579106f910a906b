//! Read latency under load, measured with wrk when it is installed: `GET /dashboard` and the
//! pace endpoints.

/// One measured view: what to ask, of which server, with how many connections.
pub struct View {
    pub path: String,
    pub connections: u32,
}

/// The views BENCHMARKS.md reports, for a hotel in the middle of the generated ones. The pace
/// views are the yardsticks: 366 nights with three pickup windows and STLY, and a
/// booking curve of 365 days; the generated data (2022–2023 bookings) fills both years.
pub fn views(hotels: u32) -> Vec<View> {
    let hotel = 2600 + hotels.saturating_sub(1) / 2;
    vec![
        (format!("/dashboard?hotel_id={hotel}&period=month&year=2022"), 50),
        (format!("/dashboard?hotel_id={hotel}&period=day&year=2022"), 50),
        (
            format!("/dashboard?hotel_id={hotel}&period=day&year=2023&basis=stay"),
            50,
        ),
        (
            format!(
                "/dashboard/pace?hotel_id={hotel}&from=2023-03-01&to=2024-02-29&as_of=2023-03-01&pickup=1,7,30"
            ),
            10,
        ),
        (
            format!("/dashboard/booking-curve?hotel_id={hotel}&night=2023-06-15&days=365"),
            10,
        ),
        (
            format!("/dashboard/booking-curve?hotel_id={hotel}&night=2023-06-15&days=365"),
            1,
        ),
        (
            format!("/dashboard/lead-time?hotel_id={hotel}&from=2023-01-01&to=2023-12-31"),
            10,
        ),
    ]
    .into_iter()
    .map(|(path, connections)| View { path, connections })
    .collect()
}

/// `wrk` against each view for 10 s; a Markdown row per view, or one line saying why none.
pub async fn measure(base_url: &str, label: &str, views: &[View]) -> Vec<String> {
    let mut out = Vec::new();
    for view in views {
        let url = format!("{base_url}{}", view.path);
        let connections = view.connections.to_string();
        let threads = view.connections.min(2).to_string();
        let run = tokio::process::Command::new("wrk")
            .args([
                "-t",
                &threads,
                "-c",
                &connections,
                "-d10s",
                "--latency",
                &url,
            ])
            .output()
            .await;
        match run {
            Ok(o) if o.status.success() => {
                let text = String::from_utf8_lossy(&o.stdout);
                let pick = |prefix: &str| {
                    text.lines()
                        .find(|l| l.trim_start().starts_with(prefix))
                        .map(|l| l.split_whitespace().nth(1).unwrap_or("?").to_string())
                        .unwrap_or_else(|| "?".into())
                };
                let errors = text
                    .lines()
                    .find(|l| l.contains("Non-2xx") || l.contains("Socket errors"))
                    .unwrap_or("no errors");
                out.push(format!(
                    "| `GET {}` ({}) | {} | {} | {} | {} | {} |",
                    view.path,
                    label,
                    view.connections,
                    pick("50%"),
                    pick("99%"),
                    pick("Requests/sec:"),
                    errors.trim()
                ));
            }
            _ => {
                out.push("wrk is not installed (apt-get install wrk): latency not measured".into());
                break;
            }
        }
    }
    out
}
