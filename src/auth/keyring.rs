//! The keys of one database, held in memory so that checking a request reads no table.
//!
//! Read again every `API_KEYS_REFRESH_MS`, and at once when the table changes (its trigger
//! notifies `roompulse_api_keys`, heard through one `LISTEN` connection), so a key revoked by
//! `roompulse keys revoke` stops working in every running process within moments, and within
//! the refresh interval when notifications are lost. When the database cannot be read, the keys
//! last read stay in force.
//!
//! `last_used_at` is written by the refresher, not by requests: a key's use is noted in memory
//! and written at most once a minute per key.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::key;
use super::store::{self, KeyRow, KeyStoreError};
use super::Scope;
use crate::db::listen::Listener;
use crate::db::PgPool;

/// The channel the `api_keys` trigger notifies.
pub const CHANNEL: &str = "roompulse_api_keys";

/// How often a key's `last_used_at` is written at most.
const LAST_USED_EVERY: Duration = Duration::from_secs(60);

/// A key as the checks need it.
#[derive(Debug, Clone)]
pub struct Entry {
    secret_sha256: [u8; 32],
    read: bool,
    ingest: bool,
    /// `None`: every hotel.
    pub hotels: Option<Arc<HashSet<i32>>>,
    revoked: bool,
}

impl Entry {
    fn of(row: &KeyRow) -> Option<Entry> {
        Some(Entry {
            // The column's CHECK keeps it at 32 bytes.
            secret_sha256: row.secret_sha256.as_slice().try_into().ok()?,
            read: row.allows(Scope::Read),
            ingest: row.allows(Scope::Ingest),
            hotels: row
                .hotels
                .as_ref()
                .map(|h| Arc::new(h.iter().copied().collect())),
            revoked: row.revoked_at.is_some(),
        })
    }

    pub fn allows(&self, scope: Scope) -> bool {
        match scope {
            Scope::Read => self.read,
            Scope::Ingest => self.ingest,
        }
    }

    /// The scopes, as `keys create` names them.
    pub fn scopes(&self) -> &'static str {
        match (self.read, self.ingest) {
            (true, true) => "read, ingest",
            (true, false) => "read",
            (false, true) => "ingest",
            (false, false) => "none",
        }
    }
}

/// What a presented key is.
#[derive(Debug, Clone)]
pub enum Found {
    Valid(Entry),
    Revoked,
    /// No key has this id, or its secret is not this one.
    Unknown,
}

#[derive(Debug, Default)]
struct Keys {
    by_id: HashMap<String, Entry>,
}

#[derive(Default)]
struct Used {
    /// When each key's use was last noted for writing.
    noted: HashMap<String, Instant>,
    pending: Vec<String>,
}

struct Inner {
    db: PgPool,
    url: String,
    refresh: Duration,
    keys: RwLock<Arc<Keys>>,
    used: Mutex<Used>,
    stop: CancellationToken,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// The keys of one database; clones share them.
#[derive(Clone)]
pub struct Keyring {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("keys", &self.read().by_id.len())
            .finish()
    }
}

impl Keyring {
    /// The keys of the database at `url` (`db` is its pool), read once now; `follow` keeps them
    /// up to date.
    pub async fn load(url: &str, db: PgPool, refresh: Duration) -> Result<Self, KeyStoreError> {
        let ring = Keyring {
            inner: Arc::new(Inner {
                db,
                url: url.to_string(),
                refresh,
                keys: RwLock::new(Arc::default()),
                used: Mutex::default(),
                stop: CancellationToken::new(),
            }),
        };
        ring.reload().await?;
        Ok(ring)
    }

    fn read(&self) -> Arc<Keys> {
        match self.inner.keys.read() {
            Ok(keys) => keys.clone(),
            // A panic while swapping in a new set leaves the old one, which is whole.
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Reads the table again.
    pub async fn reload(&self) -> Result<(), KeyStoreError> {
        let rows = store::all(&self.inner.db).await?;
        let by_id = rows
            .iter()
            .filter_map(|row| Some((row.id.clone(), Entry::of(row)?)))
            .collect();
        let keys = Arc::new(Keys { by_id });
        match self.inner.keys.write() {
            Ok(mut slot) => *slot = keys,
            Err(poisoned) => *poisoned.into_inner() = keys,
        }
        Ok(())
    }

    /// Whether any key was ever created here (revoked ones count: revoking the last key must
    /// not open the API to everyone).
    pub fn any(&self) -> bool {
        !self.read().by_id.is_empty()
    }

    /// The key with this id, if `secret` is its secret.
    pub fn find(&self, id: &str, secret: &str) -> Found {
        let keys = self.read();
        match keys.by_id.get(id) {
            Some(entry) if key::secret_matches(secret, &entry.secret_sha256) => {
                if entry.revoked {
                    Found::Revoked
                } else {
                    Found::Valid(entry.clone())
                }
            }
            _ => Found::Unknown,
        }
    }

    /// Notes that the key `id` was used: written to `last_used_at` by the refresher, at most
    /// once a minute.
    pub fn used(&self, id: &str) {
        let Ok(mut used) = self.inner.used.lock() else {
            return;
        };
        let now = Instant::now();
        let due = used
            .noted
            .get(id)
            .is_none_or(|at| now.duration_since(*at) >= LAST_USED_EVERY);
        if due {
            used.noted.insert(id.to_string(), now);
            used.pending.push(id.to_string());
        }
    }

    async fn write_used(&self) {
        let pending = match self.inner.used.lock() {
            Ok(mut used) => std::mem::take(&mut used.pending),
            Err(_) => return,
        };
        if pending.is_empty() {
            return;
        }
        if let Err(e) = store::touch(&self.inner.db, &pending).await {
            // Only a figure for operators: the next use writes it again.
            tracing::debug!(error = %e, "cannot write the keys' last use");
        }
    }

    /// Keeps the keys up to date until `stop` (or until every clone is dropped).
    pub fn follow(&self, stop: &CancellationToken) {
        let stop = stop.child_token();
        let inner_stop = self.inner.stop.clone();
        let listener = Listener::start(&self.inner.url, CHANNEL, stop.child_token());
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            tokio::select! {
                _ = refresh(weak, listener) => {}
                _ = stop.cancelled() => {}
                _ = inner_stop.cancelled() => {}
            }
        });
    }
}

async fn refresh(inner: Weak<Inner>, listener: Listener) {
    let mut heard = listener.subscribe();
    let mut failing = false;
    loop {
        let Some(pause) = inner.upgrade().map(|i| i.refresh) else {
            return;
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            changed = heard.changed() => if changed.is_err() { return },
        }
        let Some(inner) = inner.upgrade() else {
            return;
        };
        let ring = Keyring { inner };
        match ring.reload().await {
            Ok(()) if failing => {
                failing = false;
                tracing::info!("the API keys are read again");
            }
            Ok(()) => {}
            Err(e) if !failing => {
                failing = true;
                tracing::warn!(error = %e, "cannot read the API keys; the keys read last stay in force");
            }
            Err(_) => {}
        }
        ring.write_used().await;
    }
}
