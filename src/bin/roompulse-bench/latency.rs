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

/// CPU time spent by the service (this process, which serves the API in-process) and by the
/// PostgreSQL backends of the database it reads, in clock ticks: on a shared 2-core machine the
/// latency under load depends on what else runs, the CPU a request costs much less.
pub struct CpuProbe {
    pub database: tokio_postgres::Client,
}

/// USER_HZ, the unit of the times in `/proc/<pid>/stat`: 100 on Linux whatever the kernel's HZ.
const TICKS_PER_SECOND: f64 = 100.0;

/// utime + stime of a process, from `/proc/<pid>/stat` (fields 14 and 15, counted after the
/// command name, which may hold spaces); 0 when it is gone or unreadable.
fn cpu_ticks(pid: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let after_name = &stat[stat.rfind(')')? + 1..];
            let fields: Vec<&str> = after_name.split_whitespace().collect();
            Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
        })
        .unwrap_or(0)
}

impl CpuProbe {
    async fn backends(&self) -> Vec<String> {
        self.database
            .query(
                "SELECT pid::text FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
                &[],
            )
            .await
            .map(|rows| rows.iter().map(|r| r.get::<_, String>(0)).collect())
            .unwrap_or_default()
    }

    /// The service's and PostgreSQL's ticks so far (PostgreSQL's over `backends`).
    fn read(backends: &[String]) -> (u64, u64) {
        let service = cpu_ticks("self");
        let database = backends.iter().map(|pid| cpu_ticks(pid)).sum();
        (service, database)
    }
}

/// `wrk` against each view for 10 s; a Markdown row per view, or one line saying why none.
/// With `cpu`, each row also gives the CPU milliseconds a request cost the service and
/// PostgreSQL (a 2 s warm-up first opens every pooled connection, whose backends are counted).
pub async fn measure(
    base_url: &str,
    label: &str,
    views: &[View],
    cpu: Option<&CpuProbe>,
) -> Vec<String> {
    let mut out = Vec::new();
    for view in views {
        let url = format!("{base_url}{}", view.path);
        let connections = view.connections.to_string();
        let threads = view.connections.min(2).to_string();
        let wrk = |secs: &'static str| {
            tokio::process::Command::new("wrk")
                .args(["-t", &threads, "-c", &connections, secs, "--latency", &url])
                .output()
        };
        let mut backends = Vec::new();
        if let Some(probe) = cpu {
            let _ = wrk("-d2s").await;
            backends = probe.backends().await;
        }
        let before = CpuProbe::read(&backends);
        let run = wrk("-d10s").await;
        let after = CpuProbe::read(&backends);
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
                let requests = text
                    .lines()
                    .find(|l| l.contains("requests in"))
                    .and_then(|l| l.split_whitespace().next())
                    .and_then(|n| n.parse::<f64>().ok())
                    .filter(|&n| n > 0.0);
                let per_request = |ticks: u64| match (cpu, requests) {
                    (Some(_), Some(n)) => {
                        format!("{:.2}", ticks as f64 * 1000.0 / TICKS_PER_SECOND / n)
                    }
                    _ => "–".into(),
                };
                out.push(format!(
                    "| `GET {}` ({}) | {} | {} | {} | {} | {} | {} | {} |",
                    view.path,
                    label,
                    view.connections,
                    pick("50%"),
                    pick("99%"),
                    pick("Requests/sec:"),
                    per_request(after.0.saturating_sub(before.0)),
                    per_request(after.1.saturating_sub(before.1)),
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
