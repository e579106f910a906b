//! `roompulse-bench freshness`: how long an event takes to show in `GET /dashboard`, against a
//! running service, under a steady stream of events.
//!
//! Events go in at a fixed rate through `POST /events` or onto the queue (`RPUSH`, as
//! `load-events` does). Every `probe_every`-th is a probe: an event of a hotel of its own
//! (unique to the run), dated one day of 2099 per probe, so that the day's row of
//! `GET /dashboard?hotel_id=<probe hotel>&period=day&year=2099` says which probes have arrived.
//! A poller asks for that every few milliseconds; a probe's latency runs from its 201 (or from
//! the RPUSH's reply) until the first answer that counts it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{NaiveDate, TimeDelta, Utc};
use serde_json::{json, Value};
use tokio::sync::{Mutex, Semaphore};

use roompulse::data_provider::queue::{Queue, QueueKeys};

use crate::support::{fail, BenchError};

/// Where the events go in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Via {
    /// `POST /events`, one event a request.
    Api,
    /// `RPUSH` onto the events queue, one event a push.
    Queue,
}

#[derive(Debug, Clone)]
pub struct FreshnessOptions {
    pub url: String,
    pub via: Via,
    pub rate: u32,
    pub secs: u64,
    pub probe_every: u32,
    pub poll: Duration,
    pub redis_url: String,
    pub queue_key: String,
}

/// The days one probe hotel has in 2099: at most this many probes a run.
const MAX_PROBES: u64 = 365;

struct Probes {
    /// Every event has been sent: the probes not acknowledged by now never will be.
    sent_all: bool,
    /// When each probe was acknowledged (201 or RPUSH reply).
    stored: Vec<Option<Instant>>,
    /// When an answer first counted it.
    seen: Vec<Option<Instant>>,
}

/// What one run measured.
pub struct Report {
    pub sent: u64,
    pub rate_achieved: f64,
    pub errors: u64,
    pub acknowledged: usize,
    /// Each probe's time from its acknowledgement to the first answer that counted it.
    pub latencies: Vec<Duration>,
    /// Each `POST /events`'s round trip (with `--via api`).
    pub posts: Vec<Duration>,
}

/// The `q` quantile of sorted durations, in milliseconds.
pub fn quantile(sorted: &[Duration], q: f64) -> String {
    sorted
        .get(((sorted.len() as f64 * q).ceil() as usize).saturating_sub(1))
        .map_or("-".to_string(), |d| {
            format!("{:.0} ms", d.as_secs_f64() * 1000.0)
        })
}

pub async fn run(o: &FreshnessOptions) -> Result<(), BenchError> {
    let report = measure(o).await?;
    print_header();
    print_row(o, "", &report);
    Ok(())
}

pub fn print_header() {
    println!(
        "| run | via | rate asked | sent | rate achieved | errors | probes | freshness p50 | p99 | max | not seen | POST p50 | POST p99 |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
}

pub fn print_row(o: &FreshnessOptions, run: &str, r: &Report) {
    println!(
        "| {run} | {} | {}/s for {} s | {} | {:.0}/s | {} | {} | {} | {} | {} | {} | {} | {} |",
        match o.via {
            Via::Api => "`POST /events`",
            Via::Queue => "`RPUSH` (queue)",
        },
        o.rate,
        o.secs,
        r.sent,
        r.rate_achieved,
        r.errors,
        r.acknowledged,
        quantile(&r.latencies, 0.5),
        quantile(&r.latencies, 0.99),
        r.latencies.last().map_or("-".to_string(), |d| format!(
            "{:.0} ms",
            d.as_secs_f64() * 1000.0
        )),
        r.acknowledged - r.latencies.len(),
        quantile(&r.posts, 0.5),
        quantile(&r.posts, 0.99),
    );
}

/// Sends the stream and measures; prints nothing.
pub async fn measure(o: &FreshnessOptions) -> Result<Report, BenchError> {
    let total = u64::from(o.rate) * o.secs;
    let probes = (total / u64::from(o.probe_every.max(1))).min(MAX_PROBES) as usize;
    if probes == 0 {
        return Err(BenchError(
            "no probes: raise --secs or lower --probe-every".into(),
        ));
    }
    let probe_every = (total / probes as u64).max(1);
    let run_id = Utc::now().timestamp();
    // A hotel no other run or data set uses.
    let probe_hotel = 1_000_000_000 + (run_id % 1_000_000_000) as i32;
    let first_day = NaiveDate::from_ymd_opt(2099, 1, 1).ok_or_else(|| BenchError("date".into()))?;
    // Ids unique across runs, below the service's assigned range.
    let id_base = run_id * 1_000_000_000;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(512)
        .build()
        .map_err(|e| fail("HTTP client")(&e))?;
    let queue = match o.via {
        Via::Queue => Some(
            Queue::new(&o.redis_url, QueueKeys::new(&o.queue_key), 64)
                .map_err(|e| fail("queue")(&e))?,
        ),
        Via::Api => None,
    };
    let state = Arc::new(Mutex::new(Probes {
        sent_all: false,
        stored: vec![None; probes],
        seen: vec![None; probes],
    }));

    // The poller.
    let poll_stop = tokio_util::sync::CancellationToken::new();
    let poller = tokio::spawn({
        let (http, state, stop) = (http.clone(), state.clone(), poll_stop.clone());
        let url = format!(
            "{}/dashboard?hotel_id={probe_hotel}&period=day&year=2099",
            o.url
        );
        let every = o.poll;
        async move {
            let mut polls = 0u64;
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while !stop.is_cancelled() {
                tick.tick().await;
                let Ok(r) = http.get(&url).send().await else {
                    continue;
                };
                let Ok(rows) = r.json::<Vec<Value>>().await else {
                    continue;
                };
                let at = Instant::now();
                polls += 1;
                let mut s = state.lock().await;
                for (k, row) in rows.iter().take(probes).enumerate() {
                    if s.seen[k].is_none() && row["bookings"].as_i64().unwrap_or(0) > 0 {
                        s.seen[k] = Some(at);
                    }
                }
                let done = s.sent_all
                    && s.stored
                        .iter()
                        .zip(&s.seen)
                        .all(|(st, se)| st.is_none() || se.is_some());
                if done {
                    break;
                }
            }
            polls
        }
    });

    // The steady stream: `rate` events a second, in ticks of 10 ms.
    let inflight = Arc::new(Semaphore::new(512));
    let started = Instant::now();
    let per_tick = f64::from(o.rate) / 100.0;
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut sent = 0u64;
    let errors = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let posts = Arc::new(std::sync::Mutex::new(Vec::<Duration>::new()));
    let mut tasks = tokio::task::JoinSet::new();
    let mut ticks = 0u64;
    while sent < total {
        tick.tick().await;
        ticks += 1;
        let due = ((ticks as f64 * per_tick) as u64).min(total);
        while sent < due {
            let n = sent;
            sent += 1;
            let probe = (n % probe_every == probe_every - 1)
                .then_some((n / probe_every) as usize)
                .filter(|&k| k < probes);
            let now = Utc::now();
            let event = match probe {
                Some(k) => {
                    let day = first_day + TimeDelta::days(k as i64);
                    json!({
                        "id": id_base + n as i64 + 1,
                        "hotel_id": probe_hotel,
                        "event_timestamp": format!("{day}T12:00:00Z"),
                        "status": 1,
                        "room_reservation_id": "0013e338-0158-4d5c-8698-aebe00cba360",
                        "night_of_stay": day.to_string(),
                    })
                }
                None => json!({
                    "id": id_base + n as i64 + 1,
                    "hotel_id": 2600 + (n % 10) as i32,
                    "event_timestamp": now.to_rfc3339(),
                    "status": 1 + n.is_multiple_of(7) as i16,
                    "room_reservation_id": "0013e338-0158-4d5c-8698-aebe00cba360",
                    "night_of_stay": (now.date_naive() + TimeDelta::days((n % 90) as i64)).to_string(),
                }),
            };
            let permit = inflight
                .clone()
                .acquire_owned()
                .await
                .map_err(|e| fail("semaphore")(&e))?;
            let (http, queue, state, errors, posts) = (
                http.clone(),
                queue.clone(),
                state.clone(),
                errors.clone(),
                posts.clone(),
            );
            let url = format!("{}/events", o.url);
            tasks.spawn(async move {
                let _permit = permit;
                let ok = match &queue {
                    Some(q) => q.push(&[event.to_string()]).await.is_ok(),
                    None => {
                        let at = Instant::now();
                        let ok = matches!(
                            http.post(&url).json(&event).send().await,
                            Ok(r) if r.status() == reqwest::StatusCode::CREATED
                        );
                        if let Ok(mut p) = posts.lock() {
                            p.push(at.elapsed());
                        }
                        ok
                    }
                };
                if !ok {
                    errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                } else if let Some(k) = probe {
                    state.lock().await.stored[k] = Some(Instant::now());
                }
            });
            while tasks.try_join_next().is_some() {}
        }
    }
    while tasks.join_next().await.is_some() {}
    let sending = started.elapsed();
    state.lock().await.sent_all = true;
    // Probes still on their way get up to a minute.
    let polls = match tokio::time::timeout(Duration::from_secs(60), poller).await {
        Ok(Ok(polls)) => polls,
        _ => {
            poll_stop.cancel();
            0
        }
    };
    let errors = errors.load(std::sync::atomic::Ordering::Relaxed);
    let s = state.lock().await;
    let mut latencies: Vec<Duration> = s
        .stored
        .iter()
        .zip(&s.seen)
        .filter_map(|(stored, seen)| {
            Some(seen.as_ref()?.saturating_duration_since(*stored.as_ref()?))
        })
        .collect();
    latencies.sort();
    let acknowledged = s.stored.iter().filter(|t| t.is_some()).count();
    let mut posts = posts.lock().map(|p| p.clone()).unwrap_or_default();
    posts.sort();
    eprintln!(
        "probe hotel {probe_hotel}; {polls} polls of GET /dashboard every {:?}",
        o.poll
    );
    Ok(Report {
        sent,
        rate_achieved: sent as f64 / sending.as_secs_f64(),
        errors,
        acknowledged,
        latencies,
        posts,
    })
}
