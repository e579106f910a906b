//! Every `GET /events` filter, alone and in combinations, reads a bounded part of the table for
//! a page: checked on the plans PostgreSQL runs (`EXPLAIN ANALYZE` of each statement of the
//! list) over ~50,000 analysed events, and on the pages themselves against the same filter
//! applied to every row in memory, paged to the end.

use roompulse::data_provider::api::parse_list_query;
use roompulse::data_provider::event::Event;
use roompulse::data_provider::store::{self, ListCursor, Plans};
use roompulse::db;

use crate::common::db::{partitions_of, TestDb};

/// ~50,000 events shaped like the exports (scripts/filters-scratch.sql), squeezed into 90 days
/// of bookings so that there are few nights (~220) and many rows per night: a walk of the whole
/// table costs ~100 times a page's pages. They are spread over 11 partitions of 5,000 arrivals,
/// as a long history is: a statement that joins rows across partitions by id, which names no
/// partition, probes or hashes all of them.
const FILL_ROWS: &str = "
SELECT setseed(0.7);
ALTER TABLE events DISABLE TRIGGER events_notify_feed;
INSERT INTO events (id, hotel_id, event_timestamp, status, room_reservation_id, night_of_stay, tx_id)
SELECT row_number() OVER (ORDER BY r, s.status, n) + 1000, hotel_id,
       CASE s.status WHEN 1 THEN booked ELSE cancelled_at END,
       s.status, reservation, first_night + n, 1
  FROM (SELECT r, gen_random_uuid() AS reservation, 2600 + floor(random() * 10)::int AS hotel_id,
               booked, booked::date + floor(random() * 120)::int AS first_night,
               1 + floor(random() * 7)::int AS nights,
               CASE WHEN random() < 1.0 / 6
                    THEN booked + interval '1 hour' + random() * interval '30 days' END AS cancelled_at
          FROM (SELECT r, timestamptz '2024-01-01 00:00:00+00' + random() * interval '90 days' AS booked
                  FROM generate_series(1, 10700) AS r) b) res,
       LATERAL (VALUES (1::smallint), (2::smallint)) AS s(status),
       generate_series(0, nights - 1) AS n
 WHERE s.status = 1 OR cancelled_at IS NOT NULL;
ALTER TABLE events ENABLE TRIGGER events_notify_feed;
";

fn fill() -> String {
    partitions_of(5000, 60000) + FILL_ROWS
}

/// Buffers a page of `PAGE` may touch in all its statements: a walk of the table touches
/// ~100,000 (every row's heap page once, and the index).
const MAX_BUFFERS: u64 = 6_000;
const PAGE: i64 = 50;

fn matches(q: &roompulse::data_provider::store::EventFilter, e: &Event) -> bool {
    q.hotel_id.is_none_or(|h| e.hotel_id == h)
        && q.event_timestamp_gte.is_none_or(|t| e.event_timestamp >= t)
        && q.event_timestamp_gt.is_none_or(|t| e.event_timestamp > t)
        && q.event_timestamp_lte.is_none_or(|t| e.event_timestamp <= t)
        && q.event_timestamp_lt.is_none_or(|t| e.event_timestamp < t)
        && q.status.is_none_or(|s| e.status == s)
        && q.room_reservation_id
            .is_none_or(|r| e.room_reservation_id == r)
        && q.night_of_stay_gte.is_none_or(|n| e.night_of_stay >= n)
        && q.night_of_stay_lte.is_none_or(|n| e.night_of_stay <= n)
}

/// Whether a plan reads a table sequentially. The partition kept ahead for new rows is empty and
/// the newest holds what the fill left over: a scan of a table of a page or two (which the
/// planner costs below 10) reads next to nothing.
fn scans_sequentially(plans: &str) -> bool {
    plans.lines().any(|l| {
        let cost = l
            .split_once("(cost=")
            .and_then(|(_, c)| c.split_once(".."))
            .and_then(|(_, c)| c.split_whitespace().next())
            .and_then(|c| c.parse::<f64>().ok());
        l.contains("Seq Scan") && cost.is_none_or(|c| c >= 10.0)
    })
}

/// The buffers a plan's top node touched (its first `Buffers:` line counts its children's).
fn buffers(plan: &str) -> u64 {
    let Some(line) = plan
        .lines()
        .find(|l| l.trim_start().starts_with("Buffers:"))
    else {
        return 0;
    };
    line.split_whitespace()
        .filter_map(|w| w.split_once('='))
        .filter_map(|(_, n)| n.parse::<u64>().ok())
        .sum()
}

#[tokio::test]
async fn every_filter_reads_a_bounded_part_of_the_table() {
    let db = TestDb::data_provider().await;
    let client = db.client().await;
    client.batch_execute(&fill()).await.expect("fill");
    // Statistics and the visibility map, as autovacuum would leave them (off on some servers).
    client
        .batch_execute("VACUUM ANALYZE events")
        .await
        .expect("vacuum");
    let room: uuid::Uuid = client
        .query_one(
            "SELECT room_reservation_id FROM events WHERE id = 20000",
            &[],
        )
        .await
        .expect("a reservation")
        .get(0);
    let pool = db::pool(&db.url, 1).expect("pool");
    let all = store::list(&pool, &Default::default(), None, 1_000_000)
        .await
        .expect("every event");
    assert!(all.len() > 45_000, "{} events", all.len());
    let last_night = all.iter().map(|e| e.night_of_stay).max().expect("nights");
    let late = (last_night - chrono::Duration::days(20)).to_string();

    let queries = [
        String::new(),
        "hotel_id=2601".into(),
        "updated__gte=2024-02-15T00:00:00Z".into(),
        "rpg_status=1".into(),
        "rpg_status=2".into(),
        format!("room_id={room}"),
        "night_of_stay__gte=2030-01-01".into(),
        format!("night_of_stay__gte={late}"),
        "night_of_stay__lte=2024-01-05".into(),
        "night_of_stay__gte=2024-03-01&night_of_stay__lte=2024-03-03".into(),
        format!("hotel_id=2601&rpg_status=2&night_of_stay__gte={late}"),
        format!("rpg_status=2&night_of_stay__gte={late}"),
        "updated__gte=2024-03-15T00:00:00Z&night_of_stay__lte=2024-02-01".into(),
        "hotel_id=2601&rpg_status=2".into(),
        format!("room_id={room}&night_of_stay__gte=2024-01-01"),
    ];
    for q in queries {
        let parsed = parse_list_query(&format!("limit={PAGE}&{q}")).expect("query");
        let expected: Vec<&Event> = all.iter().filter(|e| matches(&parsed.filter, e)).collect();
        // Page to the end (the API asks for one more row than the page, to know of a next).
        let mut got: Vec<Event> = Vec::new();
        let mut cursor: Option<ListCursor> = None;
        let mut pages = 0;
        loop {
            let plans = Plans::default();
            let page = store::list_explained(&pool, &parsed.filter, cursor, PAGE + 1, Some(&plans))
                .await
                .expect("list");
            let plans = plans.into_inner().expect("plans");
            let touched: u64 = plans.iter().map(|p| buffers(p)).sum();
            let all_plans = plans.join("\n---\n");
            assert!(
                !scans_sequentially(&all_plans),
                "`{q}` page {pages}: a sequential scan\n{all_plans}"
            );
            assert!(
                touched <= MAX_BUFFERS,
                "`{q}` page {pages}: {touched} buffers\n{all_plans}"
            );
            let more = page.len() as i64 > PAGE;
            got.extend(page.into_iter().take(PAGE as usize));
            pages += 1;
            if !more || pages >= 6 {
                break;
            }
            let last = got.last().expect("a page");
            cursor = Some(ListCursor {
                event_timestamp: last.event_timestamp,
                id: last.id,
            });
        }
        let total = expected.len();
        let want: Vec<Event> = expected.into_iter().take(got.len()).cloned().collect();
        assert_eq!(
            got, want,
            "`{q}`: the pages differ from the filter applied to every row"
        );
        if pages < 6 {
            assert_eq!(got.len(), total, "`{q}`: every match, once");
        }
    }
}

/// The index entries the plans read and dropped for not matching a filter (`Rows Removed by
/// Filter` of index scans, times the loops of their node). Sequential scans of the tiny newest
/// partition are left out, as in `scans_sequentially`.
fn index_entries_dropped(plans: &str) -> u64 {
    let mut dropped = 0;
    let (mut loops, mut index) = (1, false);
    for line in plans.lines() {
        if line.contains("(actual time=") {
            index = line.contains("Index Scan") || line.contains("Index Only Scan");
            loops = line
                .split_once(" loops=")
                .and_then(|(_, l)| l.trim_end_matches(')').trim().parse::<u64>().ok())
                .unwrap_or(1);
        }
        if let Some((_, n)) = line.split_once("Rows Removed by Filter: ") {
            if index {
                dropped += n.trim().parse::<u64>().unwrap_or(0) * loops;
            }
        }
    }
    dropped
}

/// A night range narrowed to a hotel, or to a key's few hotels of many, reads those hotels'
/// entries: on the night index, which only includes the hotel, it read every hotel's entries of
/// each night and dropped the others' (39 in 40 here; 999 in 1,000 for a hotel of a chain of
/// 1,000).
#[tokio::test]
async fn a_night_range_of_a_few_hotels_reads_only_their_entries() {
    let db = TestDb::data_provider().await;
    let client = db.client().await;
    let forty_hotels = fill().replace("floor(random() * 10)", "floor(random() * 40)");
    assert_ne!(forty_hotels, fill());
    client.batch_execute(&forty_hotels).await.expect("fill");
    client
        .batch_execute("VACUUM ANALYZE events")
        .await
        .expect("vacuum");
    let pool = db::pool(&db.url, 1).expect("pool");
    let mut parsed = parse_list_query(&format!(
        "limit={PAGE}&night_of_stay__gte=2024-02-01&night_of_stay__lte=2024-02-20"
    ))
    .expect("query");
    for (hotel_id, hotels) in [(Some(2601), None), (None, Some(vec![2601, 2603]))] {
        parsed.filter.hotel_id = hotel_id;
        parsed.filter.hotels = hotels;
        let plans = Plans::default();
        let page = store::list_explained(&pool, &parsed.filter, None, PAGE, Some(&plans))
            .await
            .expect("list");
        assert_eq!(page.len() as i64, PAGE, "a full page");
        let plans = plans.into_inner().expect("plans").join("\n---\n");
        let dropped = index_entries_dropped(&plans);
        assert!(
            dropped <= PAGE as u64,
            "{:?}: {dropped} entries of other hotels read and dropped\n{plans}",
            parsed.filter
        );
    }
}
