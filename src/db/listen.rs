//! PostgreSQL `LISTEN` on one channel, shared by every task of the process that waits for it:
//! one dedicated connection per channel and process, reconnected with backoff when it drops.
//!
//! What a waiter gets is a counter, not the notifications: PostgreSQL delivers them at commit
//! and folds identical ones of a transaction into one, so they only ever say "something
//! committed, look again". The counter also moves when the connection comes back, since
//! notifications sent while it was down are lost; while it is down, `connected` is false and
//! waiters fall back to looking on their own every so often.

use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::redact_url;

/// What the listener has seen so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heard {
    /// Moves on every notification, and on every (re)connection.
    pub generation: u64,
    /// The connection is up and listening: a commit now moves `generation`.
    pub connected: bool,
}

/// A running listener; clones share it. The task stops when its token is cancelled or every
/// clone is dropped.
#[derive(Clone)]
pub struct Listener {
    heard: watch::Receiver<Heard>,
}

impl Listener {
    /// Starts listening on `channel` (a plain identifier) of the database at `url`.
    pub fn start(url: &str, channel: &'static str, stop: CancellationToken) -> Self {
        let (tx, rx) = watch::channel(Heard {
            generation: 0,
            connected: false,
        });
        tokio::spawn(run(url.to_string(), channel, tx, stop));
        Self { heard: rx }
    }

    /// What has been heard, without waiting.
    pub fn now(&self) -> Heard {
        *self.heard.borrow()
    }

    /// A receiver whose `changed()` resolves at the next notification or change of connection.
    pub fn subscribe(&self) -> watch::Receiver<Heard> {
        let mut rx = self.heard.clone();
        rx.mark_unchanged();
        rx
    }
}

/// The first and the longest pause between two tries to reconnect.
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(5);

async fn run(
    url: String,
    channel: &'static str,
    tx: watch::Sender<Heard>,
    stop: CancellationToken,
) {
    let mut pause = RETRY_FIRST;
    loop {
        let outcome = tokio::select! {
            r = listen_once(&url, channel, &tx) => r,
            _ = stop.cancelled() => return,
            _ = tx.closed() => return,
        };
        tx.send_modify(|h| {
            if h.connected {
                h.connected = false;
                h.generation += 1;
            }
        });
        match outcome {
            // It was up for a while: try again soon.
            Ok(()) => pause = RETRY_FIRST,
            Err(e) => {
                tracing::warn!(channel, url = %redact_url(&url), error = %e, retry_in_ms = pause.as_millis() as u64, "cannot LISTEN; waiters poll on their own meanwhile");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stop.cancelled() => return,
            _ = tx.closed() => return,
        }
        pause = (pause * 2).min(RETRY_MAX);
    }
}

/// Connects, listens and forwards notifications until the connection ends. `Ok` when it ended
/// after having listened, `Err` when it never got that far.
async fn listen_once(
    url: &str,
    channel: &'static str,
    tx: &watch::Sender<Heard>,
) -> Result<(), String> {
    let mut config: tokio_postgres::Config = url.parse().map_err(|e| format!("{e}"))?;
    config
        .connect_timeout(Duration::from_secs(5))
        // A server that vanished without closing the socket is noticed within a minute.
        .keepalives_idle(Duration::from_secs(30))
        .application_name("roompulse-listen");
    let (client, mut connection) = config
        .connect(tokio_postgres::NoTls)
        .await
        .map_err(|e| e.to_string())?;
    let (msg_tx, mut messages) = tokio::sync::mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        let mut stream = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = stream.next().await {
            match message {
                Ok(tokio_postgres::AsyncMessage::Notification(_)) => {
                    if msg_tx.send(()).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!(error = %e, "the LISTEN connection ended");
                    return;
                }
            }
        }
    });
    let listening = client.batch_execute(&format!("LISTEN {channel}")).await;
    if let Err(e) = listening {
        driver.abort();
        return Err(e.to_string());
    }
    // Whatever was sent while nobody listened is lost: waiters look again.
    tx.send_modify(|h| {
        h.connected = true;
        h.generation += 1;
    });
    tracing::debug!(channel, "listening");
    while messages.recv().await.is_some() {
        tx.send_modify(|h| h.generation += 1);
    }
    drop(client);
    let _ = driver.await;
    Ok(())
}
