//! One sync pass: follow the Data Provider's change feed from the stored cursor and fold each
//! page into the daily figures.
//!
//! Exactly once, whatever happens: the feed (`GET /events?order=stored`) never returns an event
//! behind a cursor it has issued, late or old-dated events included; each page's figures and
//! the cursor after it are committed in one transaction, and only if the stored cursor is still
//! the one the page was fetched with. A pass that dies anywhere leaves figures and cursor as
//! they were after the last committed page, and the next pass fetches from there. A
//! session-level advisory lock lets one pass run at a time across processes; the cursor check
//! still holds should two ever overlap.

use std::time::Duration;

use diesel_async::AsyncPgConnection;
use tokio::sync::mpsc::error::TryRecvError;
use tokio::time::Instant;
use tokio_util::task::AbortOnDropHandle;

use super::client::{ClientError, DataProviderClient, FeedEvent, FeedPage};
use super::client::{STATUS_BOOKING, STATUS_CANCELLATION};
use super::store::{self, Applied, Counts, DashboardStoreError, PageDeltas};
use super::Basis;
use crate::db::PgPool;

/// Events per page: the Data Provider's maximum. Larger pages mean fewer transactions.
pub const PAGE_SIZE: i64 = 10_000;

/// With a backlog, up to this many full pages are committed together: a day's figures then take
/// one upsert for many pages' events instead of one per page. On shuffled history a page of
/// 10,000 events touches ~17,000 day rows; 20 pages touch ~80,000, a quarter of the writes per
/// event (BENCHMARKS.md). A batch is still all or nothing, and the cursor moves with it; the
/// fetcher holds at most one batch of pages ahead.
pub const PAGES_PER_COMMIT: usize = 20;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Store(#[from] DashboardStoreError),
    #[error("the task fetching the feed's pages ended without an answer: {0}")]
    FetchTask(String),
    #[error(
        "the page after cursor {cursor:?} holds an event the dashboard cannot count: {reason}"
    )]
    BadEvent {
        cursor: Option<String>,
        reason: String,
    },
    #[error("another sync moved the cursor from {expected:?} to {found:?} while this pass fetched a page; the page was dropped")]
    CursorMoved {
        expected: Option<String>,
        found: Option<String>,
    },
}

/// What a pass did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PassOutcome {
    /// Another process holds the sync lock: it is syncing, this pass did nothing.
    Skipped,
    Synced(PassReport),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassReport {
    /// Pages applied (an empty last page counts: it confirmed there was nothing new).
    pub pages: u64,
    /// Events counted in this pass.
    pub events: u64,
    /// Events counted since the dashboard's database was created.
    pub events_synced: i64,
    pub cursor: Option<String>,
}

impl PassOutcome {
    pub fn summary(&self) -> String {
        match self {
            PassOutcome::Skipped => {
                "another process is syncing the dashboard; this pass did nothing".into()
            }
            PassOutcome::Synced(r) => format!(
                "synced {} in {}; {} counted in all",
                counted(r.events as i64, "new event", "new events"),
                counted(r.pages as i64, "page", "pages"),
                counted(r.events_synced, "event", "events"),
            ),
        }
    }
}

/// `1 page`, `2 pages`: the summary is read by people (and grepped by cron mailers).
fn counted(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Folds a page into per-day counts on both bases, and into counts per night of stay and event
/// day (the pace figures).
pub fn fold(events: &[FeedEvent]) -> Result<PageDeltas, String> {
    let mut page = PageDeltas {
        events: events.len() as i64,
        ..PageDeltas::default()
    };
    for e in events {
        let booking = match e.status {
            STATUS_BOOKING => true,
            STATUS_CANCELLATION => false,
            other => return Err(format!("event {} has status {other}", e.id)),
        };
        let event_day = e.event_timestamp.date_naive();
        let days = [(Basis::Event, event_day), (Basis::Stay, e.night_of_stay)];
        let count = |counts: &mut Counts| {
            if booking {
                counts.bookings += 1;
            } else {
                counts.cancellations += 1;
            }
        };
        for (basis, day) in days {
            count(page.daily.entry((e.hotel_id, basis, day)).or_default());
        }
        count(
            page.pace
                .entry((e.hotel_id, e.night_of_stay, event_day))
                .or_default(),
        );
        page.last_event_at = page.last_event_at.max(Some(e.event_timestamp));
    }
    Ok(page)
}

/// Runs one pass: pages until one comes back with fewer than `page_size` events.
pub async fn run_pass(
    pool: &PgPool,
    client: &DataProviderClient,
    page_size: i64,
) -> Result<PassOutcome, SyncError> {
    let result = pass(pool, client, page_size).await;
    record_pass(&result);
    result
}

async fn pass(
    pool: &PgPool,
    client: &DataProviderClient,
    page_size: i64,
) -> Result<PassOutcome, SyncError> {
    let Some(mut conn) = lock(pool).await? else {
        return Ok(PassOutcome::Skipped);
    };
    let result = pages(&mut conn, client, page_size).await;
    unlock(&mut conn).await;
    result.map(PassOutcome::Synced)
}

/// A connection of its own, out of the pool, holding the sync lock; `None` when another session
/// holds it. The session-level lock lives as long as the connection does, and is never handed
/// to another user of the pool, whatever ends the pass.
pub(super) async fn lock(pool: &PgPool) -> Result<Option<AsyncPgConnection>, SyncError> {
    let pooled = store::connection(pool).await?;
    let mut conn: AsyncPgConnection = deadpool::managed::Object::take(pooled);
    Ok(store::try_lock_sync(&mut conn).await?.then_some(conn))
}

/// Dropping the connection would release the lock too, but only once the server notices: a
/// pass right after this one would find it still taken.
pub(super) async fn unlock(conn: &mut AsyncPgConnection) {
    let _ = store::unlock_sync(conn).await;
}

async fn pages(
    conn: &mut AsyncPgConnection,
    client: &DataProviderClient,
    page_size: i64,
) -> Result<PassReport, SyncError> {
    let mut report = PassReport::default();
    follow_feed(conn, client, page_size, None, &mut report).await?;
    Ok(report)
}

/// Counts the feed from the stored cursor on, in batches of up to `PAGES_PER_COMMIT` pages,
/// each committed with the cursor after it, and keeps `report` up to date after each commit.
/// Without `follow`, returns once a page comes back that is not full (a pass). With it, never
/// returns but with an error: after such a page, the next request is held by the Data Provider
/// up to the wait until something new is there, and a Data Provider that does not answer is
/// asked again with backoff (the follower; the caller stops it by dropping this future).
pub(super) async fn follow_feed(
    conn: &mut AsyncPgConnection,
    client: &DataProviderClient,
    page_size: i64,
    follow: Option<Duration>,
    report: &mut PassReport,
) -> Result<(), SyncError> {
    let state = store::sync_state(conn).await?;
    report.events_synced = state.events_synced;
    report.cursor = state.cursor;
    let (fetched, mut pages_in) = tokio::sync::mpsc::channel(PAGES_PER_COMMIT);
    let _fetcher = AbortOnDropHandle::new(tokio::spawn(fetch_ahead(
        client.clone(),
        report.cursor.clone(),
        page_size,
        follow,
        fetched,
    )));
    loop {
        let requested = report.cursor.clone();
        let mut batch = PageDeltas::default();
        let mut pages = 0;
        // Folds pages until the batch is full or the feed is drained. A page that cannot be
        // fetched or counted ends the pass, after the pages before it are applied.
        let mut caught_up = false;
        let (drained, failed) = loop {
            let next = if caught_up {
                // While following, a page that is not full is the feed as of its answer; the
                // pages the fetcher brought in while this batch was applied are newer events
                // already here. Folding them in costs no wait, and a commit's cost is mostly
                // per row touched, the same day's row for many events (BENCHMARKS.md).
                match pages_in.try_recv() {
                    Ok(page) => Some(page),
                    Err(TryRecvError::Empty) => break (true, None),
                    Err(TryRecvError::Disconnected) => None,
                }
            } else {
                pages_in.recv().await
            };
            let page = match next {
                Some(Ok(page)) => page,
                Some(Err(e)) => break (false, Some(SyncError::from(e))),
                None => break (false, Some(SyncError::FetchTask("it stopped".into()))),
            };
            match fold(&page.events) {
                Ok(folded) => batch.add(folded),
                Err(reason) => {
                    let cursor = report.cursor.clone();
                    break (false, Some(SyncError::BadEvent { cursor, reason }));
                }
            }
            pages += 1;
            report.cursor = Some(page.next_cursor);
            if (page.events.len() as i64) < page_size {
                if follow.is_none() {
                    break (true, None);
                }
                caught_up = true;
            }
            if pages == PAGES_PER_COMMIT {
                break (caught_up, None);
            }
        };
        if pages > 0 {
            let next = report.cursor.as_deref().unwrap_or_default();
            match store::apply_page(conn, requested.as_deref(), next, &batch).await? {
                Applied::Committed => {}
                Applied::CursorMoved { found } => {
                    return Err(SyncError::CursorMoved {
                        expected: requested,
                        found,
                    })
                }
            }
            ::metrics::counter!(crate::metrics::SYNC_EVENTS).increment(batch.events as u64);
            if follow.is_some() && batch.events > 0 {
                tracing::debug!(
                    events = batch.events,
                    events_synced = report.events_synced + batch.events,
                    "dashboard sync: counted a batch"
                );
            }
        }
        if let Some(e) = failed {
            return Err(e);
        }
        report.pages += pages as u64;
        report.events += batch.events as u64;
        report.events_synced += batch.events;
        if drained && follow.is_none() {
            return Ok(());
        }
    }
}

/// The first and the longest pause before asking a Data Provider that did not answer again,
/// when following.
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(5);

/// How long to pause after an empty page that came back well before the wait was up: a Data
/// Provider that does not hold pages (an older version) or is shutting down would otherwise
/// be asked again at once, in a tight loop.
const EARLY_EMPTY_PAUSE: Duration = Duration::from_secs(1);

/// Fetches the feed's pages from `cursor` on, one after another, while the pass folds and
/// applies the pages before: the Data Provider's query and the JSON both ways overlap with the
/// dashboard's upserts. Safe because a batch is applied only if the stored cursor is still the
/// one its first page was fetched with; the channel's bound keeps the fetcher at most one batch
/// ahead. Without `follow`, stops after a page that is not full or an error; with it, asks on
/// with the wait and retries a Data Provider that does not answer.
async fn fetch_ahead(
    client: DataProviderClient,
    mut cursor: Option<String>,
    page_size: i64,
    follow: Option<Duration>,
    pages: tokio::sync::mpsc::Sender<Result<FeedPage, ClientError>>,
) {
    let mut wait = None;
    let mut retry = RETRY_FIRST;
    loop {
        let asked = Instant::now();
        let page = client
            .changes_waiting(cursor.as_deref(), page_size, wait)
            .await;
        let (full, early_empty) = match (&page, follow) {
            (Ok(p), _) => {
                retry = RETRY_FIRST;
                cursor = Some(p.next_cursor.clone());
                let early_empty =
                    p.events.is_empty() && wait.is_some_and(|w| asked.elapsed() < w / 2);
                ((p.events.len() as i64) >= page_size, early_empty)
            }
            // The Data Provider restarting, or shedding load: ask again soon rather than end
            // the follower and leave the next start to the schedule's backing off.
            (Err(e), Some(_)) if e.is_transient() => {
                tracing::warn!(error = %e, retry_in_ms = retry.as_millis() as u64, "dashboard sync: the Data Provider did not answer the follower; asking again");
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(RETRY_MAX);
                continue;
            }
            (Err(_), _) => (false, false),
        };
        let failed = page.is_err();
        if pages.send(page).await.is_err() || failed || (!full && follow.is_none()) {
            return;
        }
        wait = if full { None } else { follow };
        if early_empty {
            tokio::time::sleep(EARLY_EMPTY_PAUSE).await;
        }
    }
}

/// Counts a pass by outcome, and the events it counted.
fn record_pass(result: &Result<PassOutcome, SyncError>) {
    let outcome = match result {
        Ok(PassOutcome::Synced(_)) => "synced",
        Ok(PassOutcome::Skipped) => "skipped",
        Err(_) => "failed",
    };
    ::metrics::counter!(crate::metrics::SYNC_PASSES, "outcome" => outcome).increment(1);
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, NaiveDate};

    use super::*;

    #[test]
    fn the_summary_says_one_page_and_one_event() {
        let report = |events, pages, events_synced| {
            PassOutcome::Synced(PassReport {
                pages,
                events,
                events_synced,
                cursor: None,
            })
            .summary()
        };
        assert_eq!(
            report(1, 1, 1),
            "synced 1 new event in 1 page; 1 event counted in all"
        );
        assert_eq!(
            report(0, 2, 10),
            "synced 0 new events in 2 pages; 10 events counted in all"
        );
    }

    fn event(id: i64, hotel: i32, ts: &str, status: i16, night: &str) -> FeedEvent {
        FeedEvent {
            id,
            hotel_id: hotel,
            event_timestamp: DateTime::parse_from_rfc3339(ts).unwrap().to_utc(),
            status,
            night_of_stay: night.parse().unwrap(),
        }
    }

    #[test]
    fn a_page_folds_into_both_bases() {
        let page = fold(&[
            event(1, 7, "2022-06-24T23:59:59Z", 1, "2022-07-01"),
            event(2, 7, "2022-06-24T00:00:00Z", 1, "2022-07-02"),
            event(3, 7, "2022-06-25T00:00:00Z", 2, "2022-07-01"),
            event(4, 8, "2022-06-24T12:00:00Z", 2, "2022-07-01"),
        ])
        .unwrap();
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        let c = |bookings, cancellations| Counts {
            bookings,
            cancellations,
        };
        let expected = [
            ((7, Basis::Event, d(2022, 6, 24)), c(2, 0)),
            ((7, Basis::Event, d(2022, 6, 25)), c(0, 1)),
            ((7, Basis::Stay, d(2022, 7, 1)), c(1, 1)),
            ((7, Basis::Stay, d(2022, 7, 2)), c(1, 0)),
            ((8, Basis::Event, d(2022, 6, 24)), c(0, 1)),
            ((8, Basis::Stay, d(2022, 7, 1)), c(0, 1)),
        ];
        assert_eq!(page.daily.into_iter().collect::<Vec<_>>(), expected);
        let pace = [
            ((7, d(2022, 7, 1), d(2022, 6, 24)), c(1, 0)),
            ((7, d(2022, 7, 1), d(2022, 6, 25)), c(0, 1)),
            ((7, d(2022, 7, 2), d(2022, 6, 24)), c(1, 0)),
            ((8, d(2022, 7, 1), d(2022, 6, 24)), c(0, 1)),
        ];
        assert_eq!(page.pace.into_iter().collect::<Vec<_>>(), pace);
        assert_eq!(page.events, 4);
        assert_eq!(
            page.last_event_at,
            Some(
                DateTime::parse_from_rfc3339("2022-06-25T00:00:00Z")
                    .unwrap()
                    .to_utc()
            )
        );
    }

    #[test]
    fn an_unknown_status_is_refused() {
        assert!(fold(&[event(9, 1, "2022-06-24T00:00:00Z", 3, "2022-06-24")]).is_err());
        assert_eq!(fold(&[]).unwrap().events, 0);
    }
}
