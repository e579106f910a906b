//! Whether a cached answer is still the figures' latest: never older than the last page the
//! sync committed, whichever process committed it.
//!
//! Every sync page that changes the figures notifies `roompulse_dashboard` in its transaction
//! (`store::apply_page`); each process listens on its dashboard database and counts what it
//! hears, the generation. Answers are cached with the generation read before their tables
//! were, so an answer read before a commit belongs to a generation that is gone as soon as the
//! notification arrives (well under a millisecond on one machine). While the listener is down
//! notifications may be lost, so nothing is answered from the cache until it is back (and the
//! generation moves on reconnecting).

use std::sync::OnceLock;

use tokio_util::sync::CancellationToken;

use crate::db::listen::Listener;

/// The channel `store::apply_page` notifies.
pub const CHANNEL: &str = "roompulse_dashboard";

pub struct Freshness {
    url: String,
    listener: OnceLock<Listener>,
    stop: CancellationToken,
}

impl Freshness {
    /// Follows the commits of the dashboard database at `url`, from the first question on.
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_string(),
            listener: OnceLock::new(),
            stop: CancellationToken::new(),
        }
    }

    /// The generation of the figures as of now, to cache an answer about to be read under (and
    /// to look one up with); `None` while commits cannot be heard: read the tables.
    pub fn generation(&self) -> Option<u64> {
        let heard = self
            .listener
            .get_or_init(|| Listener::start(&self.url, CHANNEL, self.stop.child_token()))
            .now();
        heard.connected.then_some(heard.generation)
    }

    /// Ends the listener (shutdown).
    pub fn stop(&self) {
        self.stop.cancel();
    }
}
