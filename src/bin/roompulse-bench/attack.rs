//! `roompulse-bench attack`: what long polls of the change feed for a hotel with no events cost
//! everyone else, against a running service. The same steady stream of `POST /events` (and its
//! freshness probes, see `freshness`) runs twice in one run: alone, then while `attackers`
//! clients each hold `GET /events?order=stored&hotel_id=<empty hotel>&wait=25`, re-issuing it as
//! soon as it is answered (following its `next` link, or from the start with `--restart`).
//! Prints both rows, the ratio of the POST p99s, and what the attackers got.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::freshness::{self, FreshnessOptions};
use crate::support::{fail, BenchError};

pub struct AttackOptions {
    pub freshness: FreshnessOptions,
    pub attackers: usize,
    /// The hotel the attackers follow (one with no events).
    pub hotel: i32,
    /// Re-issue from the start of the feed instead of following the `next` link.
    pub restart: bool,
    /// `Authorization: Bearer` for the attackers (a per-hotel read key), if the API is closed.
    pub token: Option<String>,
}

#[derive(Default)]
struct Tally {
    answered: AtomicU64,
    refused: AtomicU64,
    failed: AtomicU64,
}

pub async fn run(o: &AttackOptions) -> Result<(), BenchError> {
    eprintln!("the stream alone…");
    let alone = freshness::measure(&o.freshness).await?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(o.attackers + 16)
        .timeout(Duration::from_secs(40))
        .build()
        .map_err(|e| fail("HTTP client")(&e))?;
    let stop = CancellationToken::new();
    let tally = Arc::new(Tally::default());
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..o.attackers {
        let (http, stop, tally) = (http.clone(), stop.clone(), tally.clone());
        let base = format!(
            "{}/events?order=stored&hotel_id={}&wait=25",
            o.freshness.url, o.hotel
        );
        let (restart, token) = (o.restart, o.token.clone());
        tasks.spawn(async move {
            let mut cursor: Option<String> = None;
            while !stop.is_cancelled() {
                let url = match &cursor {
                    Some(c) => format!("{base}&cursor={c}"),
                    None => base.clone(),
                };
                let mut request = http.get(&url);
                if let Some(t) = &token {
                    request = request.bearer_auth(t);
                }
                let answer = tokio::select! {
                    r = request.send() => r,
                    _ = stop.cancelled() => return,
                };
                match answer {
                    Ok(r) if r.status().is_success() => {
                        tally.answered.fetch_add(1, Ordering::Relaxed);
                        if !restart {
                            cursor = next_cursor(&r).or(cursor);
                        }
                    }
                    Ok(r) if r.status() == reqwest::StatusCode::SERVICE_UNAVAILABLE => {
                        tally.refused.fetch_add(1, Ordering::Relaxed);
                        // At once, as an impatient client would; a short pause keeps this
                        // process from spinning on the machine it shares with the service.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    _ => {
                        tally.failed.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        });
    }
    // Until the service holds them all (or says it holds what it can).
    let started = Instant::now();
    let mut held = 0;
    while started.elapsed() < Duration::from_secs(60) {
        held = held_now(&http, &o.freshness.url).await.unwrap_or(0);
        if held >= o.attackers {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!("{held} long polls held; the stream again…");
    let attacked = freshness::measure(&o.freshness).await?;
    stop.cancel();
    while tasks.join_next().await.is_some() {}

    freshness::print_header();
    freshness::print_row(&o.freshness, "alone", &alone);
    freshness::print_row(
        &o.freshness,
        &format!(
            "with {} long polls for hotel {}{}",
            o.attackers,
            o.hotel,
            if o.restart { " (from the start)" } else { "" }
        ),
        &attacked,
    );
    let p99 = |r: &freshness::Report| {
        r.posts
            .get(((r.posts.len() as f64 * 0.99).ceil() as usize).saturating_sub(1))
            .map(|d| d.as_secs_f64())
    };
    if let (Some(a), Some(b)) = (p99(&alone), p99(&attacked)) {
        println!(
            "\nPOST p99 with the long polls / alone: {:.2}×; long polls held when the second stream started: {held}; attackers' answers: {} 200, {} 503, {} other",
            b / a,
            tally.answered.load(Ordering::Relaxed),
            tally.refused.load(Ordering::Relaxed),
            tally.failed.load(Ordering::Relaxed),
        );
    }
    Ok(())
}

/// The `cursor` of a response's `next` link.
fn next_cursor(r: &reqwest::Response) -> Option<String> {
    let link = r.headers().get("link")?.to_str().ok()?;
    let target = link.trim_start_matches('<').split('>').next()?;
    let url = url::Url::parse(&format!("http://h{target}")).ok()?;
    url.query_pairs()
        .find(|(k, _)| k == "cursor")
        .map(|(_, v)| v.into_owned())
}

/// `roompulse_feed_waits_held` from the service's `/metrics`.
async fn held_now(http: &reqwest::Client, base: &str) -> Option<usize> {
    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("roompulse_feed_waits_held "))
        .and_then(|v| v.trim().parse().ok())
}
