//! `roompulse load-events`: stream a CSV export onto the Redis queue, rejecting bad rows into a
//! rejects file. Memory stays constant whatever the input's size or shape.
//!
//! The export's fields never contain a line break, so one physical line is one record: the input
//! is read once, from one reader, split into lines ([`Lines`]), and each line parsed on its own
//! (`record`). A bad line (an unclosed quote, the wrong number of fields, too long) is rejected
//! with its own line number and never costs another line.

use std::borrow::Cow;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable};
use tokio::sync::mpsc;

mod lines;
mod record;

use super::event::{Field, RawEvent, Scalar};
use super::export::HEADER;
use super::queue::{Queue, QueueError};
use record::{Fields, Splitter};

pub use lines::{Line, Lines, KEPT_OF_LONG_LINE, MAX_LINE};

/// Messages handed from the parsing thread to the pusher at a time.
const CHUNK: usize = 10_000;

/// The input path that means standard input.
pub const STDIN: &str = "-";

/// How long a push keeps being retried while Redis is unavailable (a restart, a failover)
/// before the load gives up. Redis missing at the start still fails at once.
pub const PUSH_RETRY_FOR: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the rejects file {path}: {source}")]
    WriteRejects {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the rejects file {rejects} is the input {input} itself; writing rejects would destroy the input, so nothing was read (choose another path with --rejects)")]
    RejectsIsInput { input: PathBuf, rejects: PathBuf },
    #[error("{path}: {message}")]
    Header { path: PathBuf, message: String },
    #[error("{source} ({queued} events were queued before it; loading the file again is safe: stored events are not stored twice)")]
    Queue { source: QueueError, queued: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadReport {
    pub queued: u64,
    pub rejected: u64,
    pub elapsed: Duration,
    /// Where rejected rows were written, when there were any.
    pub rejects_path: Option<PathBuf>,
    /// A rejects file from an earlier run that this run, which rejected nothing, removed.
    pub removed_stale_rejects: Option<PathBuf>,
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

impl LoadReport {
    /// The summary line, e.g. `queued 9980 events, rejected 20 rows in 0.4 s (24950 rows/s)`.
    pub fn summary(&self) -> String {
        let secs = self.elapsed.as_secs_f64();
        let rows = self.queued + self.rejected;
        let rate = if secs > 0.0 {
            (rows as f64 / secs).round() as u64
        } else {
            rows
        };
        format!(
            "queued {}, rejected {} in {:.1} s ({} rows/s)",
            plural(self.queued, "event", "events"),
            plural(self.rejected, "row", "rows"),
            secs,
            rate
        )
    }
}

/// `<input>.rejects.csv` beside a regular file. Standard input (`-`), a pipe, `<(…)` or a device
/// has no directory of its own to write into (`/dev/fd/63.rejects.csv` cannot be created), so
/// their rejects go to the current directory: `stdin.rejects.csv` for `-`, `<name>.rejects.csv`
/// for anything else.
pub fn default_rejects_path(input: &Path) -> PathBuf {
    if input == Path::new(STDIN) {
        return PathBuf::from("stdin.rejects.csv");
    }
    // A missing input gets the usual name; opening it fails first anyway.
    let regular = std::fs::metadata(input).map_or(true, |m| m.is_file());
    let mut name = if regular {
        input.as_os_str().to_owned()
    } else {
        input
            .file_name()
            .map_or_else(|| "stdin".into(), |n| n.to_owned())
    };
    name.push(".rejects.csv");
    PathBuf::from(name)
}

/// Valid events as queue messages, packed into one buffer.
#[derive(Default)]
struct Chunk {
    buf: Vec<u8>,
    ends: Vec<usize>,
}

impl Chunk {
    fn messages(&self) -> Vec<&[u8]> {
        let mut start = 0;
        self.ends
            .iter()
            .map(|&end| {
                let m = &self.buf[start..end];
                start = end;
                m
            })
            .collect()
    }
}

/// Opens the input once. Standard input is read through a `File` over a duplicate of its
/// descriptor: that can be asked what it is (the rejects file? a regular file of known length?)
/// and is read without the extra copy through `Stdin`'s own buffer.
fn open_input(input: &Path) -> std::io::Result<File> {
    if input == Path::new(STDIN) {
        use std::os::fd::AsFd;
        Ok(File::from(std::io::stdin().as_fd().try_clone_to_owned()?))
    } else {
        File::open(input)
    }
}

/// Refuses a rejects path that names the input itself, by the same path or through a link (or,
/// for `-`, standard input redirected from it): the rejects file is created by truncation.
fn refuse_rejects_over_input(
    input: &Path,
    metadata: &std::fs::Metadata,
    rejects: &Path,
) -> Result<(), LoadError> {
    use std::os::unix::fs::MetadataExt;
    // A rejects file that does not exist yet cannot be the input.
    let Ok(r) = std::fs::metadata(rejects) else {
        return Ok(());
    };
    if (metadata.dev(), metadata.ino()) == (r.dev(), r.ino()) {
        return Err(LoadError::RejectsIsInput {
            input: input.to_path_buf(),
            rejects: rejects.to_path_buf(),
        });
    }
    Ok(())
}

pub async fn load_events(
    input: &Path,
    rejects: &Path,
    queue: &Queue,
    show_progress: bool,
) -> Result<LoadReport, LoadError> {
    let started = Instant::now();
    let read_err = |source: std::io::Error| LoadError::Read {
        path: input.to_path_buf(),
        source,
    };
    let file = open_input(input).map_err(read_err)?;
    let metadata = file.metadata().map_err(read_err)?;
    refuse_rejects_over_input(input, &metadata, rejects)?;
    // Fail before reading anything when Redis is not there.
    queue
        .ping()
        .await
        .map_err(|source| LoadError::Queue { source, queued: 0 })?;

    let (tx, mut rx) = mpsc::channel::<Chunk>(4);
    let input_owned = input.to_path_buf();
    let rejects_owned = rejects.to_path_buf();
    // A pipe or a device has no length to show progress against.
    let len = metadata.is_file().then_some(metadata.len());
    let parser = tokio::task::spawn_blocking(move || {
        parse_input(file, len, &input_owned, &rejects_owned, show_progress, tx)
    });

    let mut queued = 0u64;
    let mut push_error = None;
    while let Some(chunk) = rx.recv().await {
        if push_error.is_some() {
            continue; // drain so the parser finishes; nothing more is pushed
        }
        let messages = chunk.messages();
        match push_with_retry(queue, &messages).await {
            Ok(()) => queued += messages.len() as u64,
            Err(e) => push_error = Some(e),
        }
    }
    let parsed = parser
        .await
        .map_err(|e| read_err(std::io::Error::other(e.to_string())))??;
    if let Some(source) = push_error {
        return Err(LoadError::Queue { source, queued });
    }
    // A rejects file at the path now, after a run that rejected nothing, is an earlier run's: left
    // there it would read as this run's rejects. Only a regular file is removed (not /dev/null).
    let removed_stale_rejects =
        if parsed.rejected == 0 && std::fs::metadata(rejects).is_ok_and(|m| m.is_file()) {
            std::fs::remove_file(rejects).map_err(|source| LoadError::WriteRejects {
                path: rejects.to_path_buf(),
                source,
            })?;
            Some(rejects.to_path_buf())
        } else {
            None
        };
    Ok(LoadReport {
        queued,
        rejected: parsed.rejected,
        elapsed: started.elapsed(),
        rejects_path: (parsed.rejected > 0).then(|| rejects.to_path_buf()),
        removed_stale_rejects,
    })
}

struct Parsed {
    rejected: u64,
}

/// Pushes one chunk, retrying with capped exponential backoff for up to `PUSH_RETRY_FOR`. A
/// push that failed may have been applied in part; pushing the whole chunk again queues some
/// events twice, and the workers store each id once.
async fn push_with_retry(queue: &Queue, messages: &[&[u8]]) -> Result<(), QueueError> {
    let deadline = Instant::now() + PUSH_RETRY_FOR;
    let backoff = ExponentialBuilder::new()
        .with_min_delay(Duration::from_millis(200))
        .with_max_delay(Duration::from_secs(5))
        .without_max_times();
    (|| queue.push(messages))
        .retry(backoff)
        // A wait that would end past the deadline is not started: the push fails now.
        .adjust(|_, wait| wait.filter(|wait| Instant::now() + *wait < deadline))
        .notify(|e, wait| {
            tracing::warn!(error = %e, retry_in = ?wait, "pushing to the queue failed; retrying")
        })
        .await
}

/// Column positions of the event's fields in the header.
fn column_map(path: &Path, header: &Fields<'_>) -> Result<[usize; 6], LoadError> {
    let mut cols: [Option<usize>; 6] = [None; 6];
    for (i, name) in header.iter().enumerate() {
        let name = String::from_utf8_lossy(name);
        let name = name.trim().trim_start_matches('\u{feff}');
        if let Some(field) = Field::from_key(name) {
            let slot = &mut cols[field as usize];
            if slot.is_some() {
                return Err(LoadError::Header {
                    path: path.to_path_buf(),
                    message: format!(
                        "column `{}` appears more than once in the header",
                        field.name()
                    ),
                });
            }
            *slot = Some(i);
        }
    }
    let missing: Vec<&str> = Field::ALL
        .iter()
        .filter(|f| cols[**f as usize].is_none())
        .map(|f| f.name())
        .collect();
    if !missing.is_empty() {
        return Err(LoadError::Header {
            path: path.to_path_buf(),
            message: format!(
                "the header lacks the required column(s) {}; expected {HEADER} in any order",
                missing.join(", ")
            ),
        });
    }
    Ok(cols.map(|c| c.unwrap_or_default()))
}

struct Rejects {
    path: PathBuf,
    writer: Option<csv::Writer<File>>,
    count: u64,
}

impl Rejects {
    /// Records a rejected line, keeping its bytes as they were (even where they are not UTF-8).
    fn write(&mut self, line: u64, reason: &str, row: &[u8]) -> Result<(), LoadError> {
        let err = |source: std::io::Error| LoadError::WriteRejects {
            path: self.path.clone(),
            source,
        };
        let w = match &mut self.writer {
            Some(w) => w,
            None => {
                let file = File::create(&self.path).map_err(err)?;
                let mut w = csv::Writer::from_writer(file);
                w.write_record(["line", "reason", "row"])
                    .map_err(|e| err(e.into()))?;
                self.writer.insert(w)
            }
        };
        w.write_record([line.to_string().as_bytes(), reason.as_bytes(), row])
            .map_err(|e| err(e.into()))?;
        self.count += 1;
        Ok(())
    }

    fn finish(self) -> Result<u64, LoadError> {
        if let Some(mut w) = self.writer {
            w.flush().map_err(|source| LoadError::WriteRejects {
                path: self.path.clone(),
                source,
            })?;
        }
        Ok(self.count)
    }
}

fn too_long(len: u64) -> String {
    format!("the line is {len} bytes long, over the limit of {MAX_LINE} bytes (the row column keeps its first {KEPT_OF_LONG_LINE} bytes)")
}

fn parse_input(
    file: File,
    len: Option<u64>,
    path: &Path,
    rejects_path: &Path,
    show_progress: bool,
    tx: mpsc::Sender<Chunk>,
) -> Result<Parsed, LoadError> {
    let read_err = |source: std::io::Error| LoadError::Read {
        path: path.to_path_buf(),
        source,
    };
    let header_err = |message: String| LoadError::Header {
        path: path.to_path_buf(),
        message,
    };
    let progress = match (show_progress, len) {
        (false, _) => indicatif::ProgressBar::hidden(),
        (true, Some(len)) => indicatif::ProgressBar::new(len).with_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        ),
        (true, None) => indicatif::ProgressBar::new_spinner().with_style(
            indicatif::ProgressStyle::with_template("{spinner} {bytes} {bytes_per_sec}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        ),
    };
    let mut lines = Lines::new(progress.wrap_read(file));
    let mut splitter = Splitter::new();

    // The header is the first line that is not blank.
    let cols;
    let header_len;
    loop {
        match lines.next_line().map_err(read_err)? {
            None => {
                return Err(header_err(
                    "the file is empty or its first line is not a header".into(),
                ))
            }
            Some((_, Line::Text { text: [], .. })) => {}
            Some((number, Line::Text { raw, .. })) => {
                let header = splitter
                    .split(raw)
                    .map_err(|e| header_err(format!("line {number}, the header: {e}")))?;
                cols = column_map(path, &header)?;
                header_len = header.len();
                break;
            }
            Some((number, Line::TooLong { len, .. })) => {
                return Err(header_err(format!(
                    "line {number}, the header: {}; this is not a CSV export",
                    too_long(len)
                )))
            }
        }
    }

    let mut rejects = Rejects {
        path: rejects_path.to_path_buf(),
        writer: None,
        count: 0,
    };
    let mut chunk = Chunk::default();
    while let Some((number, line)) = lines.next_line().map_err(read_err)? {
        let (text, raw) = match line {
            Line::Text { text: [], .. } => continue,
            Line::Text { text, raw } => (text, raw),
            Line::TooLong { len, prefix } => {
                rejects.write(number, &too_long(len), prefix)?;
                continue;
            }
        };
        let event = splitter
            .split(raw)
            .map_err(str::to_string)
            .and_then(|fields| row_to_event(&fields, header_len, &cols));
        match event {
            Ok(event) => {
                let start = chunk.buf.len();
                if let Err(e) = serde_json::to_writer(&mut chunk.buf, &event) {
                    chunk.buf.truncate(start);
                    rejects.write(number, &e.to_string(), text)?;
                    continue;
                }
                chunk.ends.push(chunk.buf.len());
                if chunk.ends.len() >= CHUNK {
                    let full = std::mem::take(&mut chunk);
                    if tx.blocking_send(full).is_err() {
                        break; // the pusher is gone; it reports why
                    }
                }
            }
            Err(reason) => rejects.write(number, &reason, text)?,
        }
    }
    if !chunk.ends.is_empty() {
        let _ = tx.blocking_send(chunk);
    }
    progress.finish_and_clear();
    Ok(Parsed {
        rejected: rejects.finish()?,
    })
}

fn row_to_event(
    record: &Fields<'_>,
    header_len: usize,
    cols: &[usize; 6],
) -> Result<super::event::Event, String> {
    if record.len() != header_len {
        return Err(format!(
            "expected {} fields, found {}",
            header_len,
            record.len()
        ));
    }
    let mut raw = RawEvent::default();
    for field in Field::ALL {
        let bytes = record.get(cols[field as usize]);
        let text = std::str::from_utf8(bytes)
            .map_err(|_| format!("{}: is not valid UTF-8", field.name()))?;
        let value = (!text.trim().is_empty()).then_some(Scalar::Text(Cow::Borrowed(text)));
        raw.set(field.name(), value);
    }
    raw.validate_with_id().map_err(|e| e.to_string())
}
