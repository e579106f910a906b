//! `GET /dashboard` under load, measured with wrk when it is installed.

/// `wrk` against `GET /dashboard` (50 connections, 10 s each view), when wrk is installed.
pub async fn dashboard_latency(base_url: &str, hotels: u32, label: &str) -> Vec<String> {
    let mut out = Vec::new();
    let hotel = 2600 + hotels.saturating_sub(1) / 2;
    for view in [
        format!("hotel_id={hotel}&period=month&year=2022"),
        format!("hotel_id={hotel}&period=day&year=2022"),
        format!("hotel_id={hotel}&period=day&year=2023&basis=stay"),
    ] {
        let url = format!("{base_url}/dashboard?{view}");
        let run = tokio::process::Command::new("wrk")
            .args(["-t2", "-c50", "-d10s", "--latency", &url])
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
                    "| `GET /dashboard?{view}` ({label}) | {} | {} | {} | {} |",
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
