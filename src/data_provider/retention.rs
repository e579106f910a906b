//! `roompulse retention`: deletes events older than a date from the events table, in batches,
//! optionally writing them to an archive CSV that `load-events` reads.
//!
//! The dashboard keeps its figures in its own database, so deleting events there changes no
//! figure, provided the dashboard has counted them: only events at or before a position of the
//! change feed the dashboard has passed (its sync cursor) are deleted. Their ids are kept in
//! `retired_event_ids`, in the same transaction as the delete, so that an event loaded again
//! (a CSV loaded twice, a redelivered batch, a retried POST) is not stored, and counted, again.
//!
//! Plain `DELETE`s of up to `batch_size` rows a transaction, walking the `(event_timestamp, id)`
//! index from the oldest: nothing rewrites the table, the space is reused by new rows once
//! (auto)vacuum has passed, and writers and readers carry on meanwhile.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use secrecy::{ExposeSecret, SecretString};
use tokio_postgres::Client;
use uuid::Uuid;

use super::event::Event;
use super::export::{write_row, HEADER};
use super::feed::{decode_stored_cursor, encode_stored_cursor, StoredCursor};
use crate::config::redact_url;
use crate::db::{pg_error, quote_identifier};
use crate::error::error_chain;

pub const DEFAULT_BATCH: u32 = 10_000;

/// Which events may be deleted as far as the dashboard is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    /// Only events at or before this position of the change feed: those a dashboard whose sync
    /// cursor is here has counted.
    SyncedUpTo(StoredCursor),
    /// Any old event, counted or not (`--unsafe-ignore-sync`). `counted`: the dashboard's sync
    /// cursor when it could be read (`None`: nothing counted, or unknown, so every old event
    /// counts as uncounted), to count the deleted events the dashboard never counted. Those
    /// leave its figures for good (their ids are retired), so they go only with
    /// `lose_uncounted` (`--yes-lose-uncounted`); without it a run that would delete any is
    /// refused as a whole.
    Ignore {
        counted: Option<StoredCursor>,
        lose_uncounted: bool,
    },
}

impl Guard {
    /// The highest feed position that may be deleted.
    fn bound(self) -> StoredCursor {
        match self {
            Guard::SyncedUpTo(c) => c,
            Guard::Ignore {
                lose_uncounted: true,
                ..
            } => StoredCursor {
                tx_id: i64::MAX,
                id: i64::MAX,
            },
            // Events stored after the check that refuses uncounted ones are not taken either.
            Guard::Ignore {
                counted,
                lose_uncounted: false,
            } => counted.unwrap_or(StoredCursor::START),
        }
    }

    /// The dashboard's position as far as is known: events after it are uncounted.
    fn counted(self) -> StoredCursor {
        match self {
            Guard::SyncedUpTo(c) => c,
            Guard::Ignore { counted, .. } => counted.unwrap_or(StoredCursor::START),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    /// Events whose `event_timestamp` is strictly before this instant are old.
    pub before: DateTime<Utc>,
    pub guard: Guard,
    /// Where the deleted events are written (appended to an earlier archive).
    pub archive: Option<PathBuf>,
    /// Count only.
    pub dry_run: bool,
    /// Events deleted per transaction.
    pub batch_size: u32,
}

/// The instant `--older-than-months N` means: midnight UTC, N calendar months before `today`
/// (the same cutoff all day, whenever the command runs). A day past the end of the month is
/// the month's last day (31 March minus one month is 28 or 29 February).
pub fn months_before(today: NaiveDate, months: u32) -> Option<DateTime<Utc>> {
    let day = today.checked_sub_months(chrono::Months::new(months))?;
    Some(day.and_hms_opt(0, 0, 0)?.and_utc())
}

/// The instant `--before YYYY-MM-DD` means: that day's midnight, UTC.
pub fn start_of(day: NaiveDate) -> Option<DateTime<Utc>> {
    Some(day.and_hms_opt(0, 0, 0)?.and_utc())
}

#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    #[error("the events database: {0}")]
    Database(String),
    #[error("cannot read the dashboard's sync cursor from {url}: {reason}. Pass the dashboard's cursor with --synced-cursor (README, \"Retention\")")]
    DashboardCursor { url: String, reason: String },
    #[error("the dashboard has not counted any event yet (its sync cursor is empty): deleting events now would keep them out of its figures. Run it again once the dashboard has synced")]
    NothingSynced,
    #[error("{0:?} is not a change-feed cursor (`s` and 32 hex digits, as the Dashboard's `GET /dashboard/sync` states it)")]
    BadCursor(String),
    #[error("the cursor {cursor} is past every event this Data Provider has stored: it is not a position of this Data Provider's change feed (another deployment's dashboard?). Nothing was deleted")]
    CursorBeyondFeed { cursor: String },
    #[error("{uncounted} of the events before {before} have not been counted by the dashboard ({after}): deleting them would leave them out of its figures for good (their ids are retired, so loading them again is refused). Nothing was deleted. Let the dashboard sync and run again, or pass --yes-lose-uncounted as well to lose them (README, \"Retention\")")]
    WouldLoseUncounted {
        uncounted: i64,
        before: String,
        /// Where the dashboard stands, in words.
        after: String,
    },
    #[error("another `roompulse retention` is running on this database; nothing was deleted")]
    Busy,
    #[error("the archive {path}: {source}")]
    Archive {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the archive {path} exists and is not a retention archive (its first line is not the header `{HEADER}`); nothing was deleted. Choose another --archive path")]
    NotAnArchive { path: PathBuf },
}

impl From<tokio_postgres::Error> for RetentionError {
    fn from(e: tokio_postgres::Error) -> Self {
        RetentionError::Database(pg_error(&e))
    }
}

/// What a run did (or, with `--dry-run`, would do).
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub before: DateTime<Utc>,
    pub guard: Guard,
    pub dry_run: bool,
    /// Events deleted (with `dry_run`: that would be deleted).
    pub retired: u64,
    /// Of `retired`, those the dashboard had not counted (after its sync cursor, or all of them
    /// when it has none): gone from its figures for good. Only `--unsafe-ignore-sync` deletes
    /// such events.
    pub uncounted: u64,
    /// Old events left in place because the dashboard has not counted them yet.
    pub kept_unsynced: i64,
    pub archive: Option<PathBuf>,
    /// The archive held events of an earlier run, and this run's were added after them.
    pub appended: bool,
    pub elapsed: Duration,
}

impl Report {
    pub fn summary(&self) -> String {
        let plural = |n: u64| if n == 1 { "event" } else { "events" };
        let verb = if self.dry_run {
            "dry run: would retire"
        } else {
            "retired"
        };
        let mut s = format!(
            "{verb} {} {} with event_timestamp before {}",
            self.retired,
            plural(self.retired),
            self.before
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
        match self.guard {
            Guard::SyncedUpTo(c) => s.push_str(&format!(
                " and counted by the dashboard (up to its sync cursor {})",
                encode_stored_cursor(&c)
            )),
            Guard::Ignore { lose_uncounted, .. } => {
                s.push_str(", counted by the dashboard or not (--unsafe-ignore-sync)");
                if self.uncounted > 0 || self.dry_run {
                    let n = self.uncounted;
                    s.push_str(&format!(
                        ", {n} of them not counted by the dashboard: {}",
                        match (n, self.dry_run, lose_uncounted) {
                            (0, _, _) => "none lost from its figures".to_string(),
                            (_, false, _) => "lost from its figures for good (README, \"Retention\", to recover them)".to_string(),
                            (_, true, true) => "they would be lost from its figures for good".to_string(),
                            (_, true, false) => "the run refuses to lose them from its figures without --yes-lose-uncounted".to_string(),
                        }
                    ));
                }
            }
        }
        s.push_str(&format!(" in {:.1} s", self.elapsed.as_secs_f64()));
        if let Some(path) = &self.archive {
            if !self.dry_run {
                let how = if self.appended {
                    "appended to"
                } else {
                    "written to"
                };
                s.push_str(&format!("; {how} the archive {}", path.display()));
            }
        }
        if self.kept_unsynced > 0 {
            let n = self.kept_unsynced as u64;
            s.push_str(&format!(
                "; {n} older {} {} kept: the dashboard has not counted {} yet (run again after it has synced)",
                plural(n),
                if n == 1 { "is" } else { "are" },
                if n == 1 { "it" } else { "them" },
            ));
        }
        s
    }
}

/// The Dashboard API, asked how far the dashboard has counted (`GET /dashboard/sync`). The
/// Dashboard's tables are its own: retention never reads them.
#[derive(Debug, Clone)]
pub struct DashboardApi {
    /// Where the Dashboard API is (DASHBOARD_URL).
    pub url: String,
    /// A read key for every hotel, when the Dashboard has keys (READ_API_TOKEN).
    pub token: Option<SecretString>,
}

/// How long the Dashboard may take to answer before retention gives up on it.
const DASHBOARD_TIMEOUT: Duration = Duration::from_secs(30);

impl DashboardApi {
    /// The dashboard's sync cursor, as its API states it: every event at or before it has been
    /// counted. An answer that is not a sync position is an error, never taken as "no cursor".
    pub async fn cursor(&self) -> Result<StoredCursor, RetentionError> {
        let failed = |reason: String| RetentionError::DashboardCursor {
            url: redact_url(&self.url),
            reason,
        };
        let endpoint = url::Url::parse(&format!(
            "{}/dashboard/sync",
            self.url.trim_end_matches('/')
        ))
        .map_err(|e| failed(format!("not a URL ({e})")))?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(DASHBOARD_TIMEOUT)
            .build()
            .map_err(|e| failed(e.to_string()))?;
        let mut request = http.get(endpoint);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token.expose_secret());
        }
        let response = request
            .send()
            .await
            .map_err(|e| failed(format!("no answer ({})", error_chain(&e.without_url()))))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| {
            failed(format!(
                "the answer broke off ({})",
                error_chain(&e.without_url())
            ))
        })?;
        let json: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
        if !status.is_success() {
            let said = json
                .as_ref()
                .and_then(|j| j.get("error"))
                .and_then(|e| e.as_str())
                .map(|e| format!(": {e}"))
                .unwrap_or_default();
            return Err(failed(format!("it answered {status}{said}")));
        }
        let not_a_position = || {
            failed(format!(
                "its answer is not the sync's position (a JSON object with `cursor`): {}",
                String::from_utf8_lossy(&body[..body.len().min(200)])
            ))
        };
        match json.as_ref().and_then(|j| j.get("cursor")) {
            Some(serde_json::Value::String(cursor)) => decode_stored_cursor(cursor)
                .ok_or_else(|| RetentionError::BadCursor(cursor.clone())),
            Some(serde_json::Value::Null) => Err(RetentionError::NothingSynced),
            _ => Err(not_a_position()),
        }
    }
}

/// `--synced-cursor`'s value.
pub fn parse_cursor(s: &str) -> Result<StoredCursor, RetentionError> {
    decode_stored_cursor(s.trim()).ok_or_else(|| RetentionError::BadCursor(s.to_string()))
}

/// Deletes (or counts) the old events `options` describe, on the events database at `url`.
pub async fn run(url: &str, options: &Options) -> Result<Report, RetentionError> {
    let started = Instant::now();
    let (mut client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    let task = tokio::spawn(conn);
    let result = run_on(&mut client, options, started).await;
    // Released here, before the next run can ask: the server ends a closed session's backend
    // (and frees its locks) only some time after the client has gone, and a run started right
    // after this one (a dry run, then the real one) would find the lock still taken.
    let _ = client
        .batch_execute("SELECT pg_advisory_unlock_all()")
        .await;
    drop(client);
    let _ = task.await;
    result
}

async fn run_on(
    client: &mut Client,
    options: &Options,
    started: Instant,
) -> Result<Report, RetentionError> {
    // One run at a time: two would write one archive each of the same rows, at best.
    let locked: bool = client
        .query_one(
            "SELECT pg_try_advisory_lock(hashtext('roompulse_retention'))",
            &[],
        )
        .await?
        .try_get(0)?;
    if !locked {
        return Err(RetentionError::Busy);
    }
    check_cursor(client, options.guard).await?;
    let bound = options.guard.bound();
    let counted = options.guard.counted();
    let mut report = Report {
        before: options.before,
        guard: options.guard,
        dry_run: options.dry_run,
        retired: 0,
        uncounted: 0,
        kept_unsynced: 0,
        archive: options.archive.clone(),
        appended: false,
        elapsed: Duration::ZERO,
    };
    if let Guard::Ignore {
        counted: cursor,
        lose_uncounted,
    } = options.guard
    {
        // What `--unsafe-ignore-sync` could take: every old event, and those not counted.
        let row = client
            .query_one(
                "SELECT count(*), count(*) FILTER (WHERE (tx_id, id) > ($2, $3)) \
                 FROM events WHERE event_timestamp < $1",
                &[&options.before, &counted.tx_id, &counted.id],
            )
            .await?;
        let uncounted: i64 = row.try_get(1)?;
        if options.dry_run {
            report.retired = row.try_get::<_, i64>(0)? as u64;
            report.uncounted = uncounted as u64;
            report.elapsed = started.elapsed();
            return Ok(report);
        }
        if uncounted > 0 && !lose_uncounted {
            return Err(RetentionError::WouldLoseUncounted {
                uncounted,
                before: options
                    .before
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                after: match cursor {
                    Some(c) => format!("stored after its sync cursor {}", encode_stored_cursor(&c)),
                    None => {
                        "it has counted nothing, or its sync cursor could not be read".to_string()
                    }
                },
            });
        }
    }
    if options.dry_run {
        let row = client
            .query_one(
                "SELECT count(*) FILTER (WHERE (tx_id, id) <= ($2, $3)), \
                        count(*) FILTER (WHERE (tx_id, id) > ($2, $3)) \
                 FROM events WHERE event_timestamp < $1",
                &[&options.before, &bound.tx_id, &bound.id],
            )
            .await?;
        report.retired = row.try_get::<_, i64>(0)? as u64;
        report.kept_unsynced = row.try_get(1)?;
        report.elapsed = started.elapsed();
        return Ok(report);
    }

    let mut archive = match &options.archive {
        Some(path) => {
            let (archive, appended) = Archive::open(path)?;
            report.appended = appended;
            Some(archive)
        }
        None => None,
    };
    // Whole partitions first: one whose every event may go is archived, detached and dropped
    // rather than deleted row by row (docs/decisions/006-partition-by-arrival.md). Only events
    // the dashboard has counted go this way; the row-level walk below takes the rest.
    report.retired += drop_whole_partitions(
        client,
        options.before,
        lower(counted, bound),
        archive.as_mut(),
    )
    .await?;
    // The keyset walk: each batch starts after the last event the previous one deleted, so
    // old events the guard keeps are passed once, not again by every batch.
    // Year 1: before any event (the API takes years from 1900 on).
    let start = DateTime::from_timestamp(-62_135_596_800, 0).unwrap_or(options.before);
    let mut after: (DateTime<Utc>, i64) = (start, 0);
    let limit = i64::from(options.batch_size.max(1));
    loop {
        let tx = client.transaction().await?;
        let rows = tx
            .query(
                "WITH picked AS ( \
                     SELECT id FROM events \
                      WHERE event_timestamp < $1 \
                        AND (event_timestamp, id) > ($2, $3) \
                        AND (tx_id, id) <= ($4, $5) \
                      ORDER BY event_timestamp, id \
                      LIMIT $6 \
                 ), gone AS ( \
                     DELETE FROM events WHERE id IN (SELECT id FROM picked) \
                     RETURNING id, hotel_id, event_timestamp, status, room_reservation_id, night_of_stay, tx_id \
                 ), kept_ids AS ( \
                     INSERT INTO retired_event_ids (id, uncounted) \
                     SELECT id, (tx_id, id) > ($7, $8) FROM gone \
                     ON CONFLICT (id) DO NOTHING \
                 ), floor AS ( \
                     INSERT INTO retired_feed_floor AS f (id, tx_id) \
                     SELECT 1, max(tx_id) FROM gone HAVING count(*) > 0 \
                     ON CONFLICT (id) DO UPDATE SET tx_id = greatest(f.tx_id, excluded.tx_id) \
                 ) \
                 SELECT id, hotel_id, event_timestamp, status, room_reservation_id, night_of_stay, \
                        (tx_id, id) > ($7, $8) AS uncounted \
                 FROM gone ORDER BY event_timestamp, id",
                &[
                    &options.before,
                    &after.0,
                    &after.1,
                    &bound.tx_id,
                    &bound.id,
                    &limit,
                    &counted.tx_id,
                    &counted.id,
                ],
            )
            .await?;
        let events = rows
            .iter()
            .map(event_of)
            .collect::<Result<Vec<Event>, tokio_postgres::Error>>()?;
        let uncounted = rows
            .iter()
            .map(|r| r.try_get::<_, bool>(6))
            .collect::<Result<Vec<bool>, tokio_postgres::Error>>()?
            .into_iter()
            .filter(|&u| u)
            .count();
        let Some(last) = events.last() else {
            tx.rollback().await?;
            break;
        };
        after = (last.event_timestamp, last.id);
        // On disk before the delete commits: a crash after this leaves the events both stored
        // and archived (loading them again stores nothing), never neither.
        if let Some(archive) = archive.as_mut() {
            archive.write_batch(&events)?;
        }
        tx.commit().await?;
        report.retired += events.len() as u64;
        report.uncounted += uncounted as u64;
        tracing::info!(
            retired = report.retired,
            uncounted = report.uncounted,
            "retention: batch committed"
        );
        if (events.len() as i64) < limit {
            break;
        }
    }
    report.kept_unsynced = client
        .query_one(
            "SELECT count(*) FROM events WHERE event_timestamp < $1 AND (tx_id, id) > ($2, $3)",
            &[&options.before, &bound.tx_id, &bound.id],
        )
        .await?
        .try_get(0)?;
    report.elapsed = started.elapsed();
    Ok(report)
}

/// The event in a row whose first six columns are the event's, in `Event`'s order.
fn event_of(r: &tokio_postgres::Row) -> Result<Event, tokio_postgres::Error> {
    Ok(Event {
        id: r.try_get(0)?,
        hotel_id: r.try_get(1)?,
        event_timestamp: r.try_get(2)?,
        status: r.try_get(3)?,
        room_reservation_id: r.try_get::<_, Uuid>(4)?,
        night_of_stay: r.try_get(5)?,
    })
}

/// The lower of two feed positions.
fn lower(a: StoredCursor, b: StoredCursor) -> StoredCursor {
    if (a.tx_id, a.id) <= (b.tx_id, b.id) {
        a
    } else {
        b
    }
}

/// Archives, detaches and drops every partition of the events table that can take no more rows
/// and whose events are all older than `before` and at or before `counted`; returns how many
/// events went. Their ids stay in `event_ids`, where the claims of writers keep refusing them
/// (and `store::is_retired` finds them), and the feed's floor (`retired_feed_floor`) is raised
/// to the highest position among them, as the row-level path does.
///
/// `DETACH … CONCURRENTLY` takes only SHARE UPDATE EXCLUSIVE on `events`, which neither writers
/// nor readers wait for (a plain `DETACH` takes ACCESS EXCLUSIVE); it waits for the transactions
/// that may still read the partition, and a run stopped in between leaves it "detach pending",
/// which the next run finishes first.
async fn drop_whole_partitions(
    client: &mut Client,
    before: DateTime<Utc>,
    counted: StoredCursor,
    mut archive: Option<&mut Archive>,
) -> Result<u64, RetentionError> {
    finish_detaches(client).await?;
    // A partition whose range lies below every arrival handed out takes no new row.
    let candidates: Vec<String> = client
        .query(
            "SELECT partition_name FROM roompulse_event_partitions() \
             WHERE lower_arrival IS NOT NULL \
               AND upper_arrival <= (SELECT last_value FROM events_arrival_seq) \
             ORDER BY lower_arrival",
            &[],
        )
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    let mut retired = 0;
    for name in candidates {
        let partition = quote_identifier(&name);
        let tx = client.transaction().await?;
        // Waits for the writers that still hold arrivals of its range (none can come after).
        tx.batch_execute(&format!(
            "SET LOCAL lock_timeout = '10s'; LOCK TABLE {partition} IN SHARE MODE"
        ))
        .await?;
        let row = tx
            .query_one(
                &format!(
                    "SELECT (SELECT count(*) FROM {partition}), \
                            (SELECT max(event_timestamp) FROM {partition}), \
                            last.tx_id, last.id \
                     FROM (SELECT NULL) one \
                     LEFT JOIN (SELECT tx_id, id FROM {partition} \
                                ORDER BY tx_id DESC, id DESC LIMIT 1) last ON true"
                ),
                &[],
            )
            .await?;
        let rows: i64 = row.try_get(0)?;
        let newest: Option<DateTime<Utc>> = row.try_get(1)?;
        let last = (
            row.try_get::<_, Option<i64>>(2)?,
            row.try_get::<_, Option<i64>>(3)?,
        );
        let all_old = newest.is_none_or(|t| t < before);
        let all_counted = match last {
            (Some(tx_id), Some(id)) => (tx_id, id) <= (counted.tx_id, counted.id),
            _ => true,
        };
        if !(all_old && all_counted) {
            tx.rollback().await?;
            continue;
        }
        if let Some(archive) = archive.as_deref_mut() {
            archive_partition(&tx, &partition, archive).await?;
        }
        if let (Some(tx_id), Some(_)) = last {
            tx.execute(
                "INSERT INTO retired_feed_floor AS f (id, tx_id) VALUES (1, $1) \
                 ON CONFLICT (id) DO UPDATE SET tx_id = greatest(f.tx_id, excluded.tx_id)",
                &[&tx_id],
            )
            .await?;
        }
        tx.commit().await?;
        client
            .batch_execute(&format!(
                "ALTER TABLE events DETACH PARTITION {partition} CONCURRENTLY"
            ))
            .await?;
        client
            .batch_execute(&format!("DROP TABLE {partition}"))
            .await?;
        retired += rows as u64;
        tracing::info!(
            partition = name,
            events = rows,
            "retention: partition dropped"
        );
    }
    Ok(retired)
}

/// Finishes what an interrupted run left: a detach still pending, a detached partition not yet
/// dropped (only retention detaches partitions; the service creates and attaches each in one
/// transaction).
async fn finish_detaches(client: &Client) -> Result<(), RetentionError> {
    let pending: Vec<(String, bool)> = client
        .query(
            "SELECT c.relname::text, i.inhdetachpending FROM pg_inherits i \
             JOIN pg_class c ON c.oid = i.inhrelid \
             WHERE i.inhparent = 'events'::regclass AND i.inhdetachpending \
             UNION ALL \
             SELECT c.relname::text, false FROM pg_class c \
             WHERE c.relname LIKE 'events\\_from\\_%' AND c.relkind = 'r' AND NOT c.relispartition \
               AND c.relnamespace = current_schema()::regnamespace",
            &[],
        )
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect::<Result<_, tokio_postgres::Error>>()?;
    for (name, detaching) in pending {
        let partition = quote_identifier(&name);
        if detaching {
            client
                .batch_execute(&format!(
                    "ALTER TABLE events DETACH PARTITION {partition} FINALIZE"
                ))
                .await?;
        }
        client
            .batch_execute(&format!("DROP TABLE {partition}"))
            .await?;
        tracing::info!(
            partition = name,
            "retention: an interrupted partition drop finished"
        );
    }
    Ok(())
}

/// Writes a partition's events to the archive, in `(event_timestamp, id)` order, a batch at a
/// time along its index.
async fn archive_partition(
    tx: &tokio_postgres::Transaction<'_>,
    partition: &str,
    archive: &mut Archive,
) -> Result<(), RetentionError> {
    let start = DateTime::from_timestamp(-62_135_596_800, 0).unwrap_or_default();
    let mut after: (DateTime<Utc>, i64) = (start, 0);
    loop {
        let rows = tx
            .query(
                &format!(
                    "SELECT id, hotel_id, event_timestamp, status, room_reservation_id, night_of_stay \
                     FROM {partition} WHERE (event_timestamp, id) > ($1, $2) \
                     ORDER BY event_timestamp, id LIMIT 10000"
                ),
                &[&after.0, &after.1],
            )
            .await?;
        let events = rows
            .iter()
            .map(event_of)
            .collect::<Result<Vec<Event>, tokio_postgres::Error>>()?;
        let Some(last) = events.last() else {
            return Ok(());
        };
        after = (last.event_timestamp, last.id);
        archive.write_batch(&events)?;
    }
}

/// Refuses a cursor past the newest position this database has handed out: it cannot come from
/// a dashboard following this Data Provider, and would let unsynced events go.
async fn check_cursor(client: &Client, guard: Guard) -> Result<(), RetentionError> {
    let Guard::SyncedUpTo(cursor) = guard else {
        return Ok(());
    };
    let covered: bool = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM events WHERE (tx_id, id) >= ($1, $2)) \
                 OR coalesce((SELECT tx_id >= $1 FROM retired_feed_floor WHERE id = 1), false)",
            &[&cursor.tx_id, &cursor.id],
        )
        .await?
        .try_get(0)?;
    if covered {
        return Ok(());
    }
    Err(RetentionError::CursorBeyondFeed {
        cursor: encode_stored_cursor(&cursor),
    })
}

/// The archive: the loader's CSV (its header, CRLF lines, timestamps as the export writes them,
/// with the microseconds when there are some), appended batch by batch.
struct Archive {
    path: PathBuf,
    file: File,
}

impl Archive {
    /// Opens `path`, creating it with the header, or checks that it is an archive and appends
    /// to it. An earlier run cut off in the middle of a line (it died while writing, before its
    /// delete committed) leaves a partial last line: it is dropped. Returns whether the file
    /// held events already.
    fn open(path: &Path) -> Result<(Self, bool), RetentionError> {
        let io = |source: std::io::Error| RetentionError::Archive {
            path: path.to_path_buf(),
            source,
        };
        if let Ok(m) = std::fs::metadata(path) {
            if !m.is_file() {
                return Err(io(std::io::Error::other(
                    "not a regular file (the archive is synced to disk before each delete commits)",
                )));
            }
        }
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        if len == 0 {
            file.write_all(format!("{HEADER}\r\n").as_bytes())
                .map_err(io)?;
            return Ok((
                Self {
                    path: path.to_path_buf(),
                    file,
                },
                false,
            ));
        }
        let mut first = Vec::new();
        BufReader::new(&file)
            .take(4096)
            .read_until(b'\n', &mut first)
            .map_err(io)?;
        let first = String::from_utf8_lossy(&first);
        if first.trim_end_matches(['\r', '\n']) != HEADER {
            return Err(RetentionError::NotAnArchive {
                path: path.to_path_buf(),
            });
        }
        // The end of the last whole line.
        let tail = len.min(64 * 1024);
        let mut buf = vec![0u8; tail as usize];
        file.seek(SeekFrom::Start(len - tail)).map_err(io)?;
        file.read_exact(&mut buf).map_err(io)?;
        let mut end = len;
        if let Some(i) = buf.iter().rposition(|&b| b == b'\n') {
            let whole = len - tail + i as u64 + 1;
            if whole < len {
                tracing::warn!(path = %path.display(), "the archive ended in a partial line (an interrupted run); it was dropped");
                file.set_len(whole).map_err(io)?;
                end = whole;
            }
        }
        let appended = first.len() as u64 != end;
        Ok((
            Self {
                path: path.to_path_buf(),
                file,
            },
            appended,
        ))
    }

    /// Appends `events` and syncs the file to disk. On failure the file is cut back to where it
    /// was, so that it never holds events whose delete did not commit (as far as it can).
    fn write_batch(&mut self, events: &[Event]) -> Result<(), RetentionError> {
        let io = |source: std::io::Error| RetentionError::Archive {
            path: self.path.clone(),
            source,
        };
        let start = self.file.metadata().map_err(io)?.len();
        let mut text = Vec::with_capacity(events.len() * 110);
        for e in events {
            write_row(&mut text, e).map_err(io)?;
        }
        let written = self
            .file
            .write_all(&text)
            .and_then(|()| self.file.flush())
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            let _ = self.file.set_len(start);
            return Err(io(e));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn months_back_from_today_at_midnight_utc_clamped_to_the_month_end() {
        let at = |s: &str| format!("{s}T00:00:00Z").parse::<DateTime<Utc>>().unwrap();
        assert_eq!(months_before(day("2026-12-06"), 6), Some(at("2026-06-06")));
        assert_eq!(months_before(day("2026-12-06"), 24), Some(at("2024-12-06")));
        assert_eq!(months_before(day("2025-03-31"), 1), Some(at("2025-02-28")));
        assert_eq!(months_before(day("2024-03-31"), 1), Some(at("2024-02-29")));
        assert_eq!(start_of(day("2023-01-01")), Some(at("2023-01-01")));
    }

    #[test]
    fn the_summary_says_what_was_kept_and_why() {
        let report = Report {
            before: start_of(day("2023-01-01")).unwrap(),
            guard: Guard::SyncedUpTo(StoredCursor { tx_id: 10, id: 7 }),
            dry_run: false,
            retired: 1,
            uncounted: 0,
            kept_unsynced: 2,
            archive: Some(PathBuf::from("old.csv")),
            appended: true,
            elapsed: Duration::from_millis(1500),
        };
        assert_eq!(
            report.summary(),
            "retired 1 event with event_timestamp before 2023-01-01T00:00:00Z and counted by the \
             dashboard (up to its sync cursor s000000000000000a0000000000000007) in 1.5 s; \
             appended to the archive old.csv; 2 older events are kept: the dashboard has not \
             counted them yet (run again after it has synced)"
        );
        let dry = Report {
            dry_run: true,
            guard: Guard::Ignore {
                counted: None,
                lose_uncounted: false,
            },
            kept_unsynced: 0,
            retired: 3,
            uncounted: 2,
            ..report
        };
        assert_eq!(
            dry.summary(),
            "dry run: would retire 3 events with event_timestamp before 2023-01-01T00:00:00Z, \
             counted by the dashboard or not (--unsafe-ignore-sync), 2 of them not counted by the \
             dashboard: the run refuses to lose them from its figures without \
             --yes-lose-uncounted in 1.5 s"
        );
        let lost = Report {
            dry_run: false,
            guard: Guard::Ignore {
                counted: None,
                lose_uncounted: true,
            },
            archive: None,
            ..dry
        };
        assert!(
            lost.summary()
                .contains("2 of them not counted by the dashboard: lost from its figures for good"),
            "{}",
            lost.summary()
        );
    }

    #[test]
    fn the_archive_refuses_other_files_and_drops_a_partial_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let other = dir.path().join("other.csv");
        std::fs::write(&other, "a,b\n1,2\n").unwrap();
        assert!(matches!(
            Archive::open(&other),
            Err(RetentionError::NotAnArchive { .. })
        ));
        assert_eq!(std::fs::read_to_string(&other).unwrap(), "a,b\n1,2\n");

        let path = dir.path().join("archive.csv");
        let (_, appended) = Archive::open(&path).unwrap();
        assert!(!appended);
        let (_, appended) = Archive::open(&path).unwrap();
        assert!(!appended, "a header alone holds no events");
        let whole = format!("{HEADER}\r\nx,y,1,1,2022-01-01 00:00:00,1\r\n");
        std::fs::write(&path, format!("{whole}0013e338-0158,20")).unwrap();
        let (_, appended) = Archive::open(&path).unwrap();
        assert!(appended);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), whole);
    }
}
