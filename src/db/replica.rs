//! Read-only API traffic on a hot standby (`DATA_PROVIDER_READ_DATABASE_URL`,
//! `DASHBOARD_READ_DATABASE_URL`), falling back to the primary.
//!
//! A task checks the standby every `CHECK_EVERY`: it reads the primary's WAL position
//! (`pg_current_wal_lsn()`), then how far the standby has replayed
//! (`pg_last_wal_replay_lsn()`). The lag is the age of the oldest primary position sampled that
//! the standby has not replayed yet: 0 when it has replayed everything the primary had written
//! when the check began, whether the primary is busy or idle (`pg_last_xact_replay_timestamp()`
//! would instead grow while the primary is idle). Reads go to the standby only while its last
//! check passed with a lag within the bound; a read that fails there is retried once on the
//! primary and sends the following reads to the primary until a check passes again, so a
//! standby that stops fails no request.
//!
//! Each check also compares the two servers' identities: the standby must report the primary's
//! `system_identifier` (`pg_control_system()`, fixed at initdb and kept by `pg_basebackup`, so a
//! standby of another cluster, e.g. one kept from before a dump-and-restore move, differs) and the
//! same database (name and oid in `pg_database`: a physical standby replays the catalog, so the
//! oid matches only when the URL names the very database the primary's URL does). A standby that
//! differs is refused: its WAL positions say nothing about the primary's, and its rows are
//! another database's.
//!
//! Only reads that may see a slightly older snapshot come here: a standby's snapshot can move
//! backwards (after a fallback, or on another standby), so the change feed is never paged on one.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use diesel::sql_types::{BigInt, Bool, Nullable, Text};
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;

use super::{DbError, PgPool};

/// How often the standby is checked.
pub const CHECK_EVERY: Duration = Duration::from_secs(1);
/// How long one check may take before the standby counts as not answering.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);
const MAX_PENDING: usize = 1024;

/// Where reads go now, as `/ready` and `/metrics` report it.
#[derive(Debug, Clone, PartialEq)]
pub enum ReplicaHealth {
    /// Not checked yet: reads go to the primary.
    Unchecked,
    /// Reads go to the standby, which was `lag` behind at its last check.
    InUse { lag: Duration },
    /// Reads go to the primary, for `reason`.
    Fallback {
        reason: String,
        lag: Option<Duration>,
    },
    /// Reads go to the primary: the server is not a standby of the primary's database, for
    /// `reason` (checked again every `CHECK_EVERY`).
    Refused { reason: String },
}

impl ReplicaHealth {
    pub fn in_use(&self) -> bool {
        matches!(self, Self::InUse { .. })
    }

    /// The lag measured at the last check that reached both servers.
    pub fn lag(&self) -> Option<Duration> {
        match self {
            Self::InUse { lag } => Some(*lag),
            Self::Fallback { lag, .. } => *lag,
            Self::Unchecked | Self::Refused { .. } => None,
        }
    }

    /// Whether the standby was refused as not a copy of the primary's database.
    pub fn refused(&self) -> bool {
        matches!(self, Self::Refused { .. })
    }

    /// One line for `/ready`.
    pub fn describe(&self) -> String {
        match self {
            Self::Unchecked => "not checked yet: reading from the primary".to_string(),
            Self::InUse { lag } => format!("in use (lag {} ms)", lag.as_millis()),
            Self::Fallback { reason, .. } => format!("fallback to the primary: {reason}"),
            Self::Refused { reason } => {
                format!("refused, reading from the primary: {reason}")
            }
        }
    }
}

/// The pools a module's read-only queries use: the primary, and a standby when configured.
#[derive(Clone)]
pub struct ReadPool {
    primary: PgPool,
    replica: Option<Arc<Replica>>,
}

struct Replica {
    pool: PgPool,
    primary: PgPool,
    max_lag: Duration,
    state: Mutex<Monitor>,
}

struct Monitor {
    health: ReplicaHealth,
    /// Primary WAL positions sampled and not yet replayed by the standby, oldest first.
    pending: VecDeque<(Instant, u64)>,
}

impl ReadPool {
    /// Every read on `primary`.
    pub fn primary(primary: PgPool) -> Self {
        Self {
            primary,
            replica: None,
        }
    }

    /// Reads on the standby at `url` (a pool of `size`) while it lags by at most `max_lag`;
    /// starts the task that checks it, which ends when the last clone of this is dropped.
    pub fn with_replica(
        primary: PgPool,
        url: &str,
        size: u32,
        max_lag: Duration,
    ) -> Result<Self, DbError> {
        let replica = Arc::new(Replica {
            pool: super::pool(url, size)?,
            primary: primary.clone(),
            max_lag,
            state: Mutex::new(Monitor {
                health: ReplicaHealth::Unchecked,
                pending: VecDeque::new(),
            }),
        });
        tokio::spawn(monitor(Arc::downgrade(&replica)));
        Ok(Self {
            primary,
            replica: Some(replica),
        })
    }

    /// `with_replica` when `url` is set, else `primary`.
    pub fn new(
        primary: PgPool,
        url: Option<&str>,
        size: u32,
        max_lag: Duration,
    ) -> Result<Self, DbError> {
        match url {
            Some(url) => Self::with_replica(primary, url, size, max_lag),
            None => Ok(Self::primary(primary)),
        }
    }

    /// Where reads go now; `None` without a standby.
    pub fn health(&self) -> Option<ReplicaHealth> {
        self.replica.as_ref().map(|r| r.lock().health.clone())
    }

    /// Runs `read` on the standby when it is in use, else on the primary; a read that fails on
    /// the standby runs again on the primary.
    pub async fn read<T, E, F, Fut>(&self, read: F) -> Result<T, E>
    where
        F: Fn(PgPool) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: std::fmt::Display,
    {
        if let Some(replica) = &self.replica {
            if replica.lock().health.in_use() {
                match read(replica.pool.clone()).await {
                    Ok(v) => return Ok(v),
                    Err(e) => {
                        tracing::warn!(error = %e, "a read on the standby failed; reading from the primary until it passes a check");
                        replica.fall_back(format!("a read failed: {e}"), None);
                    }
                }
            }
        }
        read(self.primary.clone()).await
    }
}

impl Replica {
    fn lock(&self) -> std::sync::MutexGuard<'_, Monitor> {
        // The state is a value replaced whole: a panic elsewhere cannot leave it half-written.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn fall_back(&self, reason: String, lag: Option<Duration>) {
        let mut m = self.lock();
        if m.health.in_use() || matches!(m.health, ReplicaHealth::Unchecked) {
            tracing::warn!(%reason, "reads fall back to the primary");
        }
        m.health = ReplicaHealth::Fallback { reason, lag };
    }

    /// Sends the reads to the primary until a check finds a copy of its database there. Logged as
    /// an error whenever the reason changes: a misconfiguration to fix, not a passing state.
    fn refuse(&self, reason: String) {
        let mut m = self.lock();
        if !matches!(&m.health, ReplicaHealth::Refused { reason: r } if *r == reason) {
            tracing::error!(%reason, "the read standby is refused: reads go to the primary");
        }
        m.health = ReplicaHealth::Refused { reason };
    }

    async fn check(&self) {
        let primary = match tokio::time::timeout(CHECK_TIMEOUT, primary_position(&self.primary))
            .await
        {
            Ok(Ok(p)) => p,
            Ok(Err(e)) => return self.fall_back(format!("the primary's WAL position: {e}"), None),
            Err(_) => return self.fall_back("the primary did not answer".to_string(), None),
        };
        let sampled = Instant::now();
        let standby = match tokio::time::timeout(CHECK_TIMEOUT, standby_position(&self.pool)).await
        {
            Ok(Ok(p)) => p,
            Ok(Err(e)) => return self.fall_back(format!("standby: {e}"), None),
            Err(_) => {
                return self.fall_back(format!("standby: no answer within {CHECK_TIMEOUT:?}"), None)
            }
        };
        if let Some(reason) = standby.identity.differs_from(&primary.identity) {
            return self.refuse(reason);
        }
        let lag = self
            .lock()
            .observe(sampled, primary.lsn, standby.lsn, Instant::now());
        if lag > self.max_lag {
            return self.fall_back(
                format!(
                    "the standby lags {:.1} ms behind the primary (more than READ_REPLICA_MAX_LAG_MS={})",
                    lag.as_secs_f64() * 1000.0,
                    self.max_lag.as_millis()
                ),
                Some(lag),
            );
        }
        let mut m = self.lock();
        if !m.health.in_use() {
            tracing::info!(lag_ms = lag.as_millis() as u64, "reads go to the standby");
        }
        m.health = ReplicaHealth::InUse { lag };
    }
}

impl Monitor {
    /// Records the primary's position `primary` sampled at `sampled` and the standby's replay
    /// position `replayed` read after it; returns the lag at `now`: the age of the oldest
    /// sampled primary position the standby has not replayed yet.
    fn observe(&mut self, sampled: Instant, primary: u64, replayed: u64, now: Instant) -> Duration {
        if self.pending.back().is_none_or(|&(_, lsn)| lsn < primary) {
            self.pending.push_back((sampled, primary));
            // A standby that answers but never replays: keep the oldest (the lag) and a
            // bounded tail.
            if self.pending.len() > MAX_PENDING {
                self.pending.remove(1);
            }
        }
        while self
            .pending
            .front()
            .is_some_and(|&(_, lsn)| lsn <= replayed)
        {
            self.pending.pop_front();
        }
        self.pending
            .front()
            .map_or(Duration::ZERO, |&(at, _)| now.saturating_duration_since(at))
    }
}

async fn monitor(replica: Weak<Replica>) {
    loop {
        let Some(r) = replica.upgrade() else { return };
        r.check().await;
        drop(r);
        tokio::time::sleep(CHECK_EVERY).await;
    }
}

/// Which server and database a connection reached.
#[derive(Debug, Clone, PartialEq, QueryableByName)]
struct Identity {
    /// `pg_control_system()`'s, as text: a bigint some servers print as negative.
    #[diesel(sql_type = Text)]
    system_identifier: String,
    #[diesel(sql_type = Text)]
    database: String,
    #[diesel(sql_type = BigInt)]
    database_oid: i64,
}

impl Identity {
    /// Why a server of identity `self` cannot stand in for the `primary`; `None` when it can.
    fn differs_from(&self, primary: &Identity) -> Option<String> {
        if self.system_identifier != primary.system_identifier {
            return Some(format!(
                "not a standby of the primary: its system_identifier is {}, the primary's {} (a standby of another server)",
                self.system_identifier, primary.system_identifier
            ));
        }
        if (&self.database, self.database_oid) != (&primary.database, primary.database_oid) {
            return Some(format!(
                "another database: the standby's URL names {:?} (oid {}), the primary's {:?} (oid {})",
                self.database, self.database_oid, primary.database, primary.database_oid
            ));
        }
        None
    }
}

/// Selected with each position: one round trip per server and check.
const IDENTITY: &str =
    "(SELECT system_identifier FROM pg_control_system())::text AS system_identifier, \
     current_database()::text AS database, \
     (SELECT oid FROM pg_database WHERE datname = current_database())::bigint AS database_oid";

struct Position {
    lsn: u64,
    identity: Identity,
}

#[derive(QueryableByName)]
struct PrimaryLsn {
    #[diesel(sql_type = Text)]
    lsn: String,
    #[diesel(embed)]
    identity: Identity,
}

#[derive(QueryableByName)]
struct StandbyLsn {
    #[diesel(sql_type = Bool)]
    in_recovery: bool,
    #[diesel(sql_type = Nullable<Text>)]
    lsn: Option<String>,
    #[diesel(embed)]
    identity: Identity,
}

async fn primary_position(pool: &PgPool) -> Result<Position, String> {
    let mut conn = pool.get().await.map_err(|e| e.to_string())?;
    let row: PrimaryLsn = diesel::sql_query(format!(
        "SELECT pg_current_wal_lsn()::text AS lsn, {IDENTITY}"
    ))
    .get_result(&mut conn)
    .await
    .map_err(|e| e.to_string())?;
    Ok(Position {
        lsn: parse_lsn(&row.lsn)?,
        identity: row.identity,
    })
}

async fn standby_position(pool: &PgPool) -> Result<Position, String> {
    let mut conn = pool.get().await.map_err(|e| e.to_string())?;
    let row: StandbyLsn = diesel::sql_query(format!(
        "SELECT pg_is_in_recovery() AS in_recovery, pg_last_wal_replay_lsn()::text AS lsn, {IDENTITY}"
    ))
    .get_result(&mut conn)
    .await
    .map_err(|e| e.to_string())?;
    if !row.in_recovery {
        // Promoted, or another primary: its data may differ from the primary's.
        return Err("not a standby (pg_is_in_recovery() is false)".to_string());
    }
    Ok(Position {
        lsn: parse_lsn(row.lsn.as_deref().unwrap_or("0/0"))?,
        identity: row.identity,
    })
}

/// `16/B374D848` → the 64-bit WAL position.
fn parse_lsn(text: &str) -> Result<u64, String> {
    let bad = || format!("unexpected WAL position {text:?}");
    let (hi, lo) = text.split_once('/').ok_or_else(bad)?;
    let hi = u64::from_str_radix(hi, 16).map_err(|_| bad())?;
    let lo = u64::from_str_radix(lo, 16).map_err(|_| bad())?;
    Ok((hi << 32) | lo)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn monitor() -> Monitor {
        Monitor {
            health: ReplicaHealth::Unchecked,
            pending: VecDeque::new(),
        }
    }

    #[test]
    fn an_idle_primary_is_no_lag() {
        let (mut m, t0) = (monitor(), Instant::now());
        // The primary wrote nothing since: the standby replayed all it has, however long ago.
        for s in 0..5 {
            let at = t0 + Duration::from_secs(s);
            assert_eq!(m.observe(at, 100, 100, at), Duration::ZERO);
        }
    }

    #[test]
    fn the_lag_is_the_age_of_the_oldest_position_not_replayed() {
        let (mut m, t0) = (monitor(), Instant::now());
        let s = Duration::from_secs;
        assert_eq!(m.observe(t0, 100, 100, t0), Duration::ZERO);
        // Replay stops at 100 while the primary moves on.
        assert_eq!(m.observe(t0 + s(1), 200, 100, t0 + s(1)), Duration::ZERO);
        assert_eq!(m.observe(t0 + s(2), 300, 100, t0 + s(2)), s(1));
        assert_eq!(m.observe(t0 + s(3), 300, 100, t0 + s(3)), s(2));
        // 200 replayed: 300, sampled at 2 s, is the oldest one left.
        assert_eq!(m.observe(t0 + s(4), 300, 250, t0 + s(4)), s(2));
        assert_eq!(m.observe(t0 + s(5), 300, 300, t0 + s(5)), Duration::ZERO);
    }

    fn identity(system: &str, database: &str, oid: i64) -> Identity {
        Identity {
            system_identifier: system.to_string(),
            database: database.to_string(),
            database_oid: oid,
        }
    }

    #[test]
    fn only_a_copy_of_the_primarys_database_may_stand_in_for_it() {
        let primary = identity("7716335388578392222", "events", 16384);
        assert_eq!(primary.differs_from(&primary.clone()), None);
        let other_server = identity("7716335388578392999", "events", 16384);
        let why = other_server.differs_from(&primary).expect("refused");
        assert!(
            why.contains("7716335388578392999") && why.contains("7716335388578392222"),
            "{why}"
        );
        let other_database = identity("7716335388578392222", "dashboard", 16385);
        let why = other_database.differs_from(&primary).expect("refused");
        assert!(why.contains("\"dashboard\""), "{why}");
        // Recreated under the same name: another database all the same.
        assert!(identity("7716335388578392222", "events", 16999)
            .differs_from(&primary)
            .is_some());
    }

    #[test]
    fn wal_positions_order_as_numbers() {
        assert_eq!(parse_lsn("0/0"), Ok(0));
        assert_eq!(parse_lsn("16/B374D848"), Ok((0x16 << 32) | 0xB374_D848));
        assert!(parse_lsn("0/3000148").unwrap() < parse_lsn("1/0").unwrap());
        assert!(parse_lsn("nope").is_err());
    }
}
