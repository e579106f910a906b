//! The night merge on shapes that make each of its rounds work: one night holding most rows at
//! the earliest times (the last round's frontier stops at it again and again, and its reads per
//! night double), many thin nights after it, rows sharing a timestamp (the key after a frontier
//! is the same time with the next id), a rare hotel and status. Every page, paged to the end, is
//! compared with the rows read straight from the table in `(event_timestamp, id)` order.

use chrono::NaiveDate;
use roompulse::data_provider::api::parse_list_query;
use roompulse::data_provider::store::{self, ListCursor};
use roompulse::db;

use crate::common::db::{partitions_of, TestDb};

/// 6,000 events: night 2024-06-01 holds the first 3,000 (two a minute from 2024-01-01), and 40
/// nights after it 75 each, spread over the following months; hotels 2600–2602, every fifth a
/// cancellation.
const FILL: &str = "
INSERT INTO events (id, hotel_id, event_timestamp, status, room_reservation_id, night_of_stay, tx_id)
SELECT g, 2600 + g % 3,
       timestamptz '2024-01-01 00:00:00+00'
         + (CASE WHEN g <= 3000 THEN g / 2 ELSE 1500 + (g * 37) % 90000 END) * interval '1 minute',
       CASE WHEN g % 5 = 0 THEN 2 ELSE 1 END, gen_random_uuid(),
       CASE WHEN g <= 3000 THEN date '2024-06-01' ELSE date '2024-06-02' + g % 40 END, 1
  FROM generate_series(1, 6000) AS g;
ANALYZE events;
";

struct Row {
    id: i64,
    hotel_id: i32,
    status: i16,
    night: NaiveDate,
}

/// A query string and the rows it keeps.
type Query<'a> = (&'a str, &'a dyn Fn(&Row) -> bool);

/// The same rows in partitions of 1,000 arrivals, as a long history is: the dense night's first
/// thousand alone (times up to minute 500), its next two thousand in two partitions sharing
/// minute 1000 (row 2001 moved there; the dense night's ids fall as the rows go on, so that the
/// later partition's row comes first at that minute), and the other nights' rows stored in
/// shuffled order, so that their three partitions overlap. Every stream and round reads every
/// partition, whose streams PostgreSQL merges.
const ROWS_IN_PARTITIONS: &str = "
INSERT INTO events (id, hotel_id, event_timestamp, status, room_reservation_id, night_of_stay, tx_id)
SELECT CASE WHEN g <= 3000 THEN 10000 - g ELSE g END, 2600 + g % 3,
       timestamptz '2024-01-01 00:00:00+00'
         + (CASE WHEN g = 2001 THEN 1000 WHEN g <= 3000 THEN (g + 1) / 2
                 ELSE 1500 + (g * 37) % 90000 END) * interval '1 minute',
       CASE WHEN g % 5 = 0 THEN 2 ELSE 1 END, gen_random_uuid(),
       CASE WHEN g <= 3000 THEN date '2024-06-01' ELSE date '2024-06-02' + g % 40 END, 1
  FROM generate_series(1, 6000) AS g
 ORDER BY CASE WHEN g <= 3000 THEN g ELSE 3001 + (g::bigint * 7919) % 3000 END, g;
ANALYZE events;
";

#[tokio::test]
async fn night_pages_match_the_table_read_in_order_whatever_the_page_size() {
    pages_match_the_table(FILL).await;
}

#[tokio::test]
async fn night_pages_over_partitions_match_the_table() {
    pages_match_the_table(&(partitions_of(1000, 7000) + ROWS_IN_PARTITIONS)).await;
}

async fn pages_match_the_table(fill: &str) {
    let db = TestDb::data_provider().await;
    let client = db.client().await;
    client.batch_execute(fill).await.expect("fill");
    let all: Vec<Row> = client
        .query(
            "SELECT id, hotel_id, status, night_of_stay FROM events \
             ORDER BY event_timestamp, id",
            &[],
        )
        .await
        .expect("every row")
        .into_iter()
        .map(|r| Row {
            id: r.get(0),
            hotel_id: r.get(1),
            status: r.get(2),
            night: r.get(3),
        })
        .collect();
    assert_eq!(all.len(), 6000);
    let pool = db::pool(&db.url, 1).expect("pool");

    let queries: [Query; 4] = [
        ("night_of_stay__gte=2024-06-01", &|r| {
            r.night >= NaiveDate::from_ymd_opt(2024, 6, 1).expect("date")
        }),
        (
            "night_of_stay__gte=2024-06-02&night_of_stay__lte=2024-06-20",
            &|r| {
                r.night >= NaiveDate::from_ymd_opt(2024, 6, 2).expect("date")
                    && r.night <= NaiveDate::from_ymd_opt(2024, 6, 20).expect("date")
            },
        ),
        (
            "hotel_id=2601&rpg_status=2&night_of_stay__gte=2024-06-01",
            &|r| {
                r.hotel_id == 2601
                    && r.status == 2
                    && r.night >= NaiveDate::from_ymd_opt(2024, 6, 1).expect("date")
            },
        ),
        ("rpg_status=2&night_of_stay__lte=2024-07-01", &|r| {
            r.status == 2 && r.night <= NaiveDate::from_ymd_opt(2024, 7, 1).expect("date")
        }),
    ];
    for (q, keep) in queries {
        let expected: Vec<i64> = all.iter().filter(|r| keep(r)).map(|r| r.id).collect();
        for page_size in [1_i64, 7, 50, 1000] {
            let parsed = parse_list_query(&format!("limit={page_size}&{q}")).expect("query");
            let mut got: Vec<i64> = Vec::new();
            let mut cursor: Option<ListCursor> = None;
            // Small pages: the first 40 are enough to pass the dense night's frontier a few times.
            for _ in 0..(if page_size < 50 { 40 } else { 1000 }) {
                let page = store::list(&pool, &parsed.filter, cursor, page_size)
                    .await
                    .expect("list");
                let Some(last) = page.last() else { break };
                cursor = Some(ListCursor {
                    event_timestamp: last.event_timestamp,
                    id: last.id,
                });
                let full = page.len() as i64 == page_size;
                got.extend(page.iter().map(|e| e.id));
                if !full {
                    break;
                }
            }
            let want: Vec<i64> = expected.iter().take(got.len()).copied().collect();
            assert_eq!(
                got, want,
                "`{q}`, pages of {page_size}: not the table's order"
            );
            if page_size >= 50 {
                assert_eq!(
                    got.len(),
                    expected.len(),
                    "`{q}`, pages of {page_size}: every row"
                );
            }
        }
    }
}
