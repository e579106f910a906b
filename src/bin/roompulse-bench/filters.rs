//! `roompulse-bench filters`: the first page of `GET /events` for each documented filter alone
//! and a few combinations, on an events database that is already filled (e.g. the scratch
//! database of `scripts/filters-scratch.sh`). It calls the service's own list query
//! (`store::list`, with the query string parsed as the API parses it) on one connection, so that
//! prepared statements are reused as in the service and a switch to a generic plan after five
//! executions shows in the figures.

use std::time::Instant;

use roompulse::data_provider::api::parse_list_query;
use roompulse::data_provider::store;
use roompulse::db;
use roompulse::db::pg_error;

use crate::support::{admin_client, fail, BenchError};

/// The query strings probed; `{room}` is a stored reservation.
const QUERIES: &[&str] = &[
    "",
    "hotel_id=2601",
    "updated__gte=2023-06-01T00:00:00Z",
    "updated__lt=2021-03-01T00:00:00Z",
    "rpg_status=1",
    "rpg_status=2",
    "room_id={room}",
    "night_of_stay__gte=2030-01-01",
    "night_of_stay__gte=2024-03-01",
    "night_of_stay__gte=2025-03-01",
    "night_of_stay__lte=2021-01-10",
    "night_of_stay__gte=2022-06-01&night_of_stay__lte=2022-06-30",
    "hotel_id=2601&rpg_status=2",
    "hotel_id=2601&night_of_stay__gte=2024-03-01",
    "rpg_status=2&night_of_stay__gte=2024-03-01",
    "hotel_id=2601&rpg_status=2&night_of_stay__gte=2024-03-01",
    "hotel_id=2601&rpg_status=2&updated__gte=2023-06-01T00:00:00Z",
    "updated__gte=2023-06-01T00:00:00Z&night_of_stay__lte=2023-01-31",
    "room_id={room}&rpg_status=1",
    "hotel_id=9999",
    "limit=100&night_of_stay__gte=2024-03-01",
    // As a key scoped to these hotels asks (`key=` is not an API parameter: the key's hotels).
    "key=2601&night_of_stay__gte=2024-03-01",
    "key=2601,2603,2605&rpg_status=2&night_of_stay__gte=2024-03-01",
    "key=2600,2601,2602,2603,2604,2605,2606,2607,2608,2609&night_of_stay__gte=2024-03-01",
];

/// The query string without its `key=` part, and the hotels it names.
fn key_hotels(q: &str) -> Result<(String, Option<Vec<i32>>), BenchError> {
    let Some(rest) = q.strip_prefix("key=") else {
        return Ok((q.to_string(), None));
    };
    let (hotels, query) = rest.split_once('&').unwrap_or((rest, ""));
    let hotels = hotels
        .split(',')
        .map(|h| h.parse::<i32>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| BenchError(format!("{q}: {e}")))?;
    Ok((query.to_string(), Some(hotels)))
}

pub async fn run(url: &str, probes: usize) -> Result<(), BenchError> {
    let admin = admin_client(url).await?;
    let room: uuid::Uuid = admin
        .query_one(
            "SELECT room_reservation_id FROM events \
              WHERE id >= (SELECT (min(id) + max(id)) / 2 FROM events) ORDER BY id LIMIT 1",
            &[],
        )
        .await
        .map_err(|e| fail("a stored reservation")(&pg_error(&e)))?
        .get(0);
    let stored: i64 = admin
        .query_one("SELECT count(*) FROM events", &[])
        .await
        .map_err(|e| fail("count")(&pg_error(&e)))?
        .get(0);
    // One connection: the statements the list prepares are reused from the second request on,
    // as on a service's pooled connection.
    let pool = db::pool(url, 1).map_err(|e| fail("pool")(&e))?;
    println!("`GET /events` first page, {stored} events stored, median of {probes} (ms)\n");
    println!("| query | rows | median ms | max ms |");
    println!("|---|---:|---:|---:|");
    for q in QUERIES {
        let q = q.replace("{room}", &room.to_string());
        let (query, hotels) = key_hotels(&q)?;
        let mut parsed = parse_list_query(&query).map_err(|e| BenchError(format!("{q}: {e:?}")))?;
        parsed.filter.hotels = hotels;
        let mut times = Vec::new();
        let mut rows = 0;
        for _ in 0..probes.max(1) {
            let started = Instant::now();
            let page = store::list(&pool, &parsed.filter, parsed.cursor, parsed.limit + 1)
                .await
                .map_err(|e| fail(&q)(&e))?;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            rows = page.len().min(parsed.limit as usize);
        }
        times.sort_by(f64::total_cmp);
        let shown = if q.is_empty() { "(no filter)" } else { &q };
        println!(
            "| `{shown}` | {rows} | {:.1} | {:.1} |",
            times[times.len() / 2],
            times[times.len() - 1]
        );
    }
    Ok(())
}
