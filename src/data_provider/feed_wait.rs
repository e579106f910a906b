//! The change feed's long poll (`GET /events?order=stored&wait=…`): an empty page is held until
//! events after the cursor become visible to the feed, or the wait runs out.
//!
//! Inserts into the events table notify `roompulse_events` when they commit (a trigger,
//! migration `notify_feed_readers`), whichever process or client made them — one transaction
//! at a time, so that notifying does not serialise the commits; one `LISTEN` connection per
//! process wakes every held request, and each looks at the feed again. A
//! commit can still be invisible to the feed while an older transaction runs (the horizon, see
//! `feed.rs`), and the horizon moves without any notification when that one ends: so a request
//! that woke and found nothing looks again shortly after, and every request looks on its own
//! every so often, more often while the listener is down. Nothing holds a database connection
//! while it waits.

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::store::StoreError;
use crate::db::listen::Listener;

/// The channel the events table's trigger notifies.
pub const CHANNEL: &str = "roompulse_events";

/// The longest `wait` a client may ask for, in seconds.
pub const MAX_WAIT_SECS: u64 = 30;

/// How soon a held request looks again: after a notification that showed nothing yet (a
/// commit behind the horizon), with no news while listening, and while the listener is down.
const AFTER_UNSEEN_COMMIT: Duration = Duration::from_millis(100);
const WHILE_LISTENING: Duration = Duration::from_millis(250);
const WHILE_DEAF: Duration = Duration::from_millis(100);
/// How long after such a notification to keep looking that often: the transaction holding the
/// horizon back is usually a short one.
const UNSEEN_FOR: Duration = Duration::from_secs(2);

/// Held requests answer this long before the request timeout would answer 503 for them.
const TIMEOUT_MARGIN: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum FeedWaitError {
    #[error("{0} requests are already waiting for new events; retry shortly, or without `wait`")]
    Busy(usize),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<FeedWaitError> for crate::error::ApiError {
    fn from(e: FeedWaitError) -> Self {
        match e {
            FeedWaitError::Busy(_) => crate::error::ApiError::Unavailable(e.to_string()),
            FeedWaitError::Store(e) => e.into(),
        }
    }
}

/// The process's held requests: their bound, the listener they share, and the shutdown that
/// answers them at once.
pub struct FeedWait {
    url: String,
    listener: OnceLock<Listener>,
    max_held: usize,
    held: Arc<Semaphore>,
    stop: CancellationToken,
    longest: Duration,
}

impl FeedWait {
    /// Long polls on the events database at `url`; at most `max_held` held at once, none held
    /// past `request_timeout` (less a margin, so that the empty page comes before a 503).
    pub fn new(url: &str, max_held: usize, request_timeout: Duration) -> Self {
        let max_held = max_held.max(1);
        Self {
            url: url.to_string(),
            listener: OnceLock::new(),
            max_held,
            held: Arc::new(Semaphore::new(max_held)),
            stop: CancellationToken::new(),
            longest: request_timeout.saturating_sub(TIMEOUT_MARGIN),
        }
    }

    /// Answers every held request now (with what it has: an empty page) and holds no more;
    /// ends the listener. For shutdown: the server waits for requests in flight.
    pub fn stop(&self) {
        self.stop.cancel();
    }

    /// Requests held right now.
    pub fn held(&self) -> usize {
        self.max_held - self.held.available_permits()
    }

    /// Started on the first long poll: processes that never serve one never listen.
    fn listener(&self) -> &Listener {
        self.listener
            .get_or_init(|| Listener::start(&self.url, CHANNEL, self.stop.child_token()))
    }

    /// Runs `look` (a page of the feed) until it returns something, `wait` is up or the process
    /// stops; returns the last answer (empty when nothing came).
    pub async fn hold<T, F, Fut>(
        &self,
        wait: Duration,
        mut look: F,
    ) -> Result<Vec<T>, FeedWaitError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Vec<T>, StoreError>>,
    {
        let deadline = Instant::now() + wait.min(self.longest);
        // Subscribed before the first look, so that a commit right after it is not missed.
        let mut heard = self.listener().subscribe();
        let first = look().await?;
        if !first.is_empty() || self.stop.is_cancelled() || Instant::now() >= deadline {
            return Ok(first);
        }
        let _permit = self
            .held
            .clone()
            .try_acquire_owned()
            .map_err(|_| FeedWaitError::Busy(self.max_held))?;
        // When the last wake-up found nothing: its commit is behind the horizon for now.
        let mut unseen_since: Option<Instant> = None;
        loop {
            let pause = if !heard.borrow().connected {
                WHILE_DEAF
            } else if unseen_since.is_some_and(|at| at.elapsed() < UNSEEN_FOR) {
                AFTER_UNSEEN_COMMIT
            } else {
                WHILE_LISTENING
            };
            let next_look = (Instant::now() + pause).min(deadline);
            let woken = tokio::select! {
                // A listener gone for good (it cannot, short of a panic) leaves the timer.
                Ok(()) = heard.changed() => true,
                _ = tokio::time::sleep_until(next_look) => false,
                _ = self.stop.cancelled() => return Ok(Vec::new()),
            };
            if woken {
                // A burst of commits wakes this request once.
                heard.mark_unchanged();
            }
            let rows = look().await?;
            if !rows.is_empty() || Instant::now() >= deadline {
                return Ok(rows);
            }
            if woken {
                unseen_since = Some(Instant::now());
            }
        }
    }
}
