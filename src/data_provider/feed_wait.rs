//! The change feed's long poll (`GET /events?order=stored&wait=…`): an empty page is held until
//! events the request is interested in become visible to the feed, or the wait runs out.
//!
//! One reader per process follows the head of the feed (`follow_head`): woken by the commits'
//! notifications (a trigger on the events table, migration `notify_feed_readers`; one `LISTEN`
//! connection per process) and by a timer (a commit can stay invisible to the feed while an
//! older transaction runs, and the horizon moves without a notification when that one ends),
//! it reads which hotels the new rows belong to, at most a window at a time. A held request
//! looks at the feed again only when rows of one of its hotels came (any row, for a request
//! without a hotel filter): a thousand requests following quiet hotels cost nothing while
//! nothing comes for them, whatever else is stored. Nothing holds a database connection while
//! it waits, and the long polls' looks take at most half the pool's connections at once.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::{watch, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::feed::{self, FeedPage, StoredCursor};
use super::store::StoreError;
use crate::db::listen::Listener;
use crate::db::PgPool;

/// The channel the events table's trigger notifies.
pub const CHANNEL: &str = "roompulse_events";

/// The longest `wait` a client may ask for, in seconds.
pub const MAX_WAIT_SECS: u64 = 30;

/// How often the head reader looks without a notification, while listening and while the
/// listener is down.
const HEAD_WHILE_LISTENING: Duration = Duration::from_millis(250);
const HEAD_WHILE_DEAF: Duration = Duration::from_millis(100);
/// Rows the head reader reads at a time.
const HEAD_WINDOW: i64 = 10_000;

/// Held requests answer this long before the request timeout would answer 503 for them.
const TIMEOUT_MARGIN: Duration = Duration::from_secs(1);

/// Which rows a held request waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interest {
    /// Any row (no hotel filter).
    Every,
    /// Rows of these hotels (the `hotel_id` filter, or a per-hotel key's hotels).
    Hotels(Vec<i32>),
}

/// What the head reader has seen: a generation that moves whenever rows came, and for each
/// hotel the last generation that brought one of its rows.
#[derive(Debug, Default)]
pub struct Seen {
    generation: u64,
    /// Every request looks again: the reader (re)started and cannot say what it missed.
    everything: u64,
    hotels: HashMap<i32, u64>,
}

impl Seen {
    /// Whether something `interest` waits for came after generation `since`.
    pub fn concerns(&self, interest: &Interest, since: u64) -> bool {
        if self.everything > since {
            return true;
        }
        match interest {
            Interest::Every => self.generation > since,
            Interest::Hotels(hotels) => hotels
                .iter()
                .any(|h| self.hotels.get(h).is_some_and(|g| *g > since)),
        }
    }

    fn everything_changed(&mut self) {
        self.generation += 1;
        self.everything = self.generation;
    }

    fn rows_came(&mut self, hotels: &[i32]) {
        self.generation += 1;
        for h in hotels {
            self.hotels.insert(*h, self.generation);
        }
    }
}

/// The process's held requests: their bound, the head reader they share, and the shutdown
/// that answers them at once.
pub struct FeedWait {
    pool: PgPool,
    url: String,
    head: OnceLock<watch::Receiver<Arc<Seen>>>,
    held: Arc<AtomicUsize>,
    relooks: AtomicU64,
    /// Long polls' looks at once: at most half the pool's connections.
    looks: Semaphore,
    stop: CancellationToken,
    longest: Duration,
}

impl FeedWait {
    /// Long polls on the events database (`pool`, and `url` for its `LISTEN` connection), none
    /// held past `request_timeout` (less a margin, so that the empty page comes before a 503).
    /// How many may be held at once is the admission's business (`crate::admission`); at most
    /// `max_looks` of them look at the feed at once.
    pub fn new(pool: PgPool, url: &str, request_timeout: Duration, max_looks: usize) -> Self {
        Self {
            looks: Semaphore::new(max_looks.max(1)),
            pool,
            url: url.to_string(),
            head: OnceLock::new(),
            held: Arc::new(AtomicUsize::new(0)),
            relooks: AtomicU64::new(0),
            stop: CancellationToken::new(),
            longest: request_timeout.saturating_sub(TIMEOUT_MARGIN),
        }
    }

    /// Answers every held request now (with what it has: an empty page) and holds no more;
    /// ends the head reader and its listener. For shutdown: the server waits for requests in
    /// flight.
    pub fn stop(&self) {
        self.stop.cancel();
    }

    /// Requests held right now.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    /// Looks that held requests took after their first: each costs a statement, so each should
    /// have been worth one (rows of the request's hotels came, or the fallback pause ran out).
    pub fn relooks(&self) -> u64 {
        self.relooks.load(Ordering::Relaxed)
    }

    /// Whether the head reader has read the feed's end at least once (for the tests: from then
    /// on, a held request looks again only when rows of its hotels come).
    pub fn following_head(&self) -> bool {
        self.head.get().is_some_and(|rx| rx.borrow().generation > 0)
    }

    /// The head reader, started on the first long poll: processes that never serve one never
    /// listen.
    fn head(&self) -> watch::Receiver<Arc<Seen>> {
        self.head
            .get_or_init(|| {
                let (tx, rx) = watch::channel(Arc::new(Seen::default()));
                let listener = Listener::start(&self.url, CHANNEL, self.stop.child_token());
                tokio::spawn(follow_head(
                    self.pool.clone(),
                    listener,
                    tx,
                    self.stop.child_token(),
                ));
                rx
            })
            .clone()
    }

    /// One look, once a database connection is free for long polls: a burst of them (hundreds
    /// of long polls re-issued at once) queues here, not on the pool the other requests need.
    async fn look<F, Fut>(&self, look: &mut F, after: StoredCursor) -> Result<FeedPage, StoreError>
    where
        F: FnMut(StoredCursor) -> Fut,
        Fut: Future<Output = Result<FeedPage, StoreError>>,
    {
        let _turn = self.looks.acquire().await;
        look(after).await
    }

    /// Runs `look` (a page of the feed after a position) until it returns events or has not
    /// reached the end of the feed, `wait` is up or the process stops; returns the last page
    /// (an empty one when nothing came, with the position it looked up to).
    pub async fn hold<F, Fut>(
        &self,
        wait: Duration,
        interest: &Interest,
        after: StoredCursor,
        mut look: F,
    ) -> Result<FeedPage, StoreError>
    where
        F: FnMut(StoredCursor) -> Fut,
        Fut: Future<Output = Result<FeedPage, StoreError>>,
    {
        let deadline = Instant::now() + wait.min(self.longest);
        // Subscribed before the first look, so that rows coming right after it are not missed.
        let mut head = self.head();
        let mut since = head.borrow_and_update().generation;
        let mut page = self.look(&mut look, after).await?;
        let answer = |page: &FeedPage| {
            !page.rows.is_empty() || !page.caught_up || Instant::now() >= deadline
        };
        if answer(&page) || self.stop.is_cancelled() {
            return Ok(page);
        }
        let _held = Held::new(&self.held);
        loop {
            tokio::select! {
                // The head reader gone (it cannot end before `stop`) leaves the timer.
                Ok(()) = head.changed() => {
                    let seen = head.borrow_and_update().clone();
                    let concerned = seen.concerns(interest, since);
                    since = seen.generation;
                    if !concerned {
                        continue;
                    }
                }
                // Nothing came for it: the last look's empty page is the answer.
                _ = tokio::time::sleep_until(deadline) => return Ok(page),
                _ = self.stop.cancelled() => return Ok(page),
            }
            self.relooks.fetch_add(1, Ordering::Relaxed);
            page = self.look(&mut look, page.next).await?;
            if answer(&page) {
                return Ok(page);
            }
        }
    }
}

/// Counts a held request for as long as it lives.
struct Held<'a>(&'a AtomicUsize);

impl<'a> Held<'a> {
    fn new(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        Held(count)
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The head reader: follows the feed from its end when it starts, telling the held requests
/// which hotels the new rows belong to, until `stop`.
async fn follow_head(
    pool: PgPool,
    listener: Listener,
    tx: watch::Sender<Arc<Seen>>,
    stop: CancellationToken,
) {
    let mut heard = listener.subscribe();
    let mut seen = Seen::default();
    let mut at: Option<StoredCursor> = None;
    let mut failing = false;
    loop {
        match read_head(&pool, &mut at, &mut seen, &tx).await {
            Ok(()) => failing = false,
            Err(e) => {
                // Start again from the end; every held request then looks once.
                at = None;
                if !failing {
                    tracing::warn!(error = %e, "the change feed's head reader cannot read; held requests look on their own meanwhile");
                }
                failing = true;
            }
        }
        let pause = if heard.borrow().connected {
            HEAD_WHILE_LISTENING
        } else {
            HEAD_WHILE_DEAF
        };
        tokio::select! {
            Ok(()) = heard.changed() => heard.mark_unchanged(),
            _ = tokio::time::sleep(pause) => {}
            _ = stop.cancelled() => return,
            _ = tx.closed() => return,
        }
    }
}

/// Reads what came after `at` (everything, a window at a time), or finds the end of the feed
/// when `at` is unknown; tells the held requests.
async fn read_head(
    pool: &PgPool,
    at: &mut Option<StoredCursor>,
    seen: &mut Seen,
    tx: &watch::Sender<Arc<Seen>>,
) -> Result<(), StoreError> {
    let Some(mut from) = *at else {
        *at = Some(feed::end(pool).await?);
        // What came between a request's own look and this reader's start is unknown to it.
        seen.everything_changed();
        publish(seen, tx);
        return Ok(());
    };
    loop {
        let came = feed::arrivals(pool, from, HEAD_WINDOW).await?;
        let Some(end) = came.end else { break };
        from = end;
        *at = Some(end);
        seen.rows_came(&came.hotels);
        publish(seen, tx);
        if !came.more {
            break;
        }
    }
    Ok(())
}

/// A copy for the requests: they read it while the reader goes on.
fn publish(seen: &Seen, tx: &watch::Sender<Arc<Seen>>) {
    tx.send_replace(Arc::new(Seen {
        generation: seen.generation,
        everything: seen.everything,
        hotels: seen.hotels.clone(),
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_woken_only_by_rows_of_its_hotels() {
        let mut seen = Seen::default();
        let quiet = Interest::Hotels(vec![7, 9]);
        let since = seen.generation;
        seen.rows_came(&[1, 2]);
        assert!(!seen.concerns(&quiet, since));
        assert!(seen.concerns(&Interest::Every, since));
        seen.rows_came(&[9]);
        assert!(seen.concerns(&quiet, since));
        // Already looked after that generation: nothing new for it.
        assert!(!seen.concerns(&quiet, seen.generation));
    }

    #[test]
    fn a_restarted_reader_wakes_everyone() {
        let mut seen = Seen::default();
        seen.rows_came(&[1]);
        let since = seen.generation;
        seen.everything_changed();
        assert!(seen.concerns(&Interest::Hotels(vec![42]), since));
        assert!(seen.concerns(&Interest::Every, since));
    }
}
