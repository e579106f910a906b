//! `roompulse load-test`: an open-loop load at a fixed request rate against a running service,
//! for BENCHMARKS.md. Latency is measured from each request's scheduled start, so a server that
//! falls behind shows it in the percentiles instead of slowing the load down (no coordinated
//! omission).

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Mutex, Semaphore};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// `POST /events`, each a new event (ids from 3,000,000,000 up, hotels 1–50).
    PostEvents,
    /// `GET /events?hotel_id=…&limit=100`, hotels 2600–2649 (the bench's data).
    GetEvents,
    /// `GET /dashboard?hotel_id=…&period=day&year=2022`, hotels 2600–2649.
    GetDashboard,
}

#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub url: String,
    pub scenario: Scenario,
    pub rate: u32,
    pub duration: Duration,
    /// Requests in flight at most; a request that finds none free is counted as not sent.
    pub max_in_flight: usize,
    pub token: Option<String>,
}

#[derive(Debug, Default)]
struct Tally {
    latencies_us: Vec<u64>,
    by_status: std::collections::BTreeMap<u16, u64>,
    transport_errors: u64,
}

#[derive(Debug, thiserror::Error)]
#[error("load test: {0}")]
pub struct LoadError(String);

pub async fn run(opts: &LoadOptions) -> Result<String, LoadError> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(opts.max_in_flight)
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| LoadError(e.to_string()))?;
    let tally = Arc::new(Mutex::new(Tally::default()));
    let slots = Arc::new(Semaphore::new(opts.max_in_flight));
    let period = Duration::from_secs_f64(1.0 / f64::from(opts.rate.max(1)));
    let started = Instant::now();
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let (mut sent, mut not_sent) = (0u64, 0u64);
    let mut tasks = tokio::task::JoinSet::new();
    while started.elapsed() < opts.duration {
        ticker.tick().await;
        let scheduled = Instant::now();
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            not_sent += 1;
            continue;
        };
        let request = build(&client, opts, sent);
        sent += 1;
        let tally = tally.clone();
        tasks.spawn(async move {
            let status = match request.send().await {
                Ok(r) => {
                    let status = r.status().as_u16();
                    // The body is part of the answer's latency.
                    r.bytes().await.ok().map(|_| status)
                }
                Err(_) => None,
            };
            let elapsed = scheduled.elapsed().as_micros() as u64;
            drop(permit);
            let mut t = tally.lock().await;
            match status {
                Some(s) => *t.by_status.entry(s).or_default() += 1,
                None => t.transport_errors += 1,
            }
            t.latencies_us.push(elapsed);
        });
        // Reap finished tasks so the set does not grow for the whole run.
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    let elapsed = started.elapsed().as_secs_f64();
    let mut t = tally.lock().await;
    t.latencies_us.sort_unstable();
    let pct = |p: f64| -> f64 {
        if t.latencies_us.is_empty() {
            return 0.0;
        }
        let i = ((t.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        t.latencies_us[i] as f64 / 1000.0
    };
    let ok: u64 = t
        .by_status
        .iter()
        .filter(|(s, _)| (200..300).contains(*s))
        .map(|(_, n)| n)
        .sum();
    let errors = sent - ok;
    Ok(format!(
        "| {:?} | {} | {:.0} | {:.0} | {:.2} ms | {:.2} ms | {:.2} ms | {} | {:?}, transport errors {} |",
        opts.scenario,
        opts.rate,
        sent as f64 / elapsed,
        ok as f64 / elapsed,
        pct(0.5),
        pct(0.99),
        pct(1.0),
        errors + not_sent,
        t.by_status,
        t.transport_errors,
    ))
}

fn build(client: &reqwest::Client, opts: &LoadOptions, n: u64) -> reqwest::RequestBuilder {
    let hotel = 2600 + (n % 50);
    let request = match opts.scenario {
        Scenario::PostEvents => {
            let body = format!(
                r#"{{"id":{},"hotel_id":{},"event_timestamp":"2022-{:02}-{:02}T{:02}:00:00Z","status":{},"room_reservation_id":"{}","night_of_stay":"2022-{:02}-{:02}"}}"#,
                3_000_000_000u64 + n,
                1 + n % 50,
                1 + n % 12,
                1 + n % 28,
                n % 24,
                1 + u64::from(n.is_multiple_of(7)),
                uuid::Uuid::from_u128(u128::from(n) * 0x9E37_79B9_7F4A_7C15),
                1 + (n + 1) % 12,
                1 + n % 28,
            );
            client
                .post(format!("{}/events", opts.url))
                .header("content-type", "application/json")
                .body(body)
        }
        Scenario::GetEvents => {
            client.get(format!("{}/events?hotel_id={hotel}&limit=100", opts.url))
        }
        Scenario::GetDashboard => client.get(format!(
            "{}/dashboard?hotel_id={hotel}&period=day&year=2022",
            opts.url
        )),
    };
    match &opts.token {
        Some(t) => request.bearer_auth(t),
        None => request,
    }
}
