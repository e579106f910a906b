//! `roompulse load-events`: stream a CSV export onto the Redis queue, rejecting bad rows into a
//! rejects file. Memory stays constant whatever the file's size.

use std::borrow::Cow;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::event::{write_json, Field, RawEvent, Scalar};
use super::queue::{Queue, QueueError};

/// Messages handed from the parsing thread to the pusher at a time.
const CHUNK: usize = 10_000;

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
            "queued {} events, rejected {} rows in {:.1} s ({} rows/s)",
            self.queued, self.rejected, secs, rate
        )
    }
}

/// `<input>.rejects.csv`.
pub fn default_rejects_path(input: &Path) -> PathBuf {
    let mut name = input.as_os_str().to_owned();
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

pub async fn load_events(
    input: &Path,
    rejects: &Path,
    queue: &Queue,
    show_progress: bool,
) -> Result<LoadReport, LoadError> {
    let started = Instant::now();
    let file = File::open(input).map_err(|source| LoadError::Read {
        path: input.to_path_buf(),
        source,
    })?;
    // Fail before reading anything when Redis is not there.
    queue
        .ping()
        .await
        .map_err(|source| LoadError::Queue { source, queued: 0 })?;

    let (tx, mut rx) = mpsc::channel::<Chunk>(4);
    let input_owned = input.to_path_buf();
    let rejects_owned = rejects.to_path_buf();
    let parser = tokio::task::spawn_blocking(move || {
        parse_file(file, &input_owned, &rejects_owned, show_progress, tx)
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
    let parsed = parser.await.map_err(|e| LoadError::Read {
        path: input.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })??;
    if let Some(source) = push_error {
        return Err(LoadError::Queue { source, queued });
    }
    Ok(LoadReport {
        queued,
        rejected: parsed.rejected,
        elapsed: started.elapsed(),
        rejects_path: (parsed.rejected > 0).then(|| rejects.to_path_buf()),
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
    let mut wait = Duration::from_millis(200);
    loop {
        match queue.push(messages).await {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() + wait < deadline => {
                tracing::warn!(error = %e, retry_in = ?wait, "pushing to the queue failed; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Column positions of the event's fields in the header.
fn column_map(path: &Path, header: &csv::ByteRecord) -> Result<[usize; 6], LoadError> {
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
                "the header lacks the required column(s) {}; expected room_reservation_id,night_of_stay,id,status,event_timestamp,hotel_id in any order",
                missing.join(", ")
            ),
        });
    }
    Ok(cols.map(|c| c.unwrap_or_default()))
}

/// Line numbers for rejected rows. The csv crate's own line count is off for CRLF files and
/// after blank lines, so a second, forward-only reader counts newlines up to each rejected
/// record; it moves only when a row is rejected, so the whole file is read at most once more.
struct LineCounter {
    reader: std::io::BufReader<File>,
    pos: u64,
    newlines: u64,
}

impl LineCounter {
    /// The 1-based line on which the record the csv crate places at `byte` starts. That offset
    /// may point at the previous line's terminator or at blank lines before the record.
    fn line_of(&mut self, byte: u64) -> std::io::Result<u64> {
        use std::io::BufRead;
        let mut skipping_terminators = false;
        loop {
            let buf = self.reader.fill_buf()?;
            if buf.is_empty() {
                return Ok(self.newlines + 1);
            }
            let mut used = 0;
            for &b in buf {
                if self.pos + used as u64 >= byte {
                    skipping_terminators = true;
                }
                if skipping_terminators && b != b'\r' && b != b'\n' {
                    self.reader.consume(used);
                    self.pos += used as u64;
                    return Ok(self.newlines + 1);
                }
                if b == b'\n' {
                    self.newlines += 1;
                }
                used += 1;
            }
            self.reader.consume(used);
            self.pos += used as u64;
        }
    }
}

struct Rejects {
    path: PathBuf,
    writer: Option<csv::Writer<File>>,
    count: u64,
}

impl Rejects {
    fn write(&mut self, line: u64, reason: &str, row: &csv::ByteRecord) -> Result<(), LoadError> {
        let err = |source: std::io::Error| LoadError::WriteRejects {
            path: self.path.clone(),
            source,
        };
        if self.writer.is_none() {
            let file = File::create(&self.path).map_err(err)?;
            let mut w = csv::Writer::from_writer(file);
            w.write_record(["line", "reason", "row"])
                .map_err(|e| err(e.into()))?;
            self.writer = Some(w);
        }
        let mut original = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(Vec::new());
        original.write_byte_record(row).map_err(|e| err(e.into()))?;
        let mut original = original
            .into_inner()
            .map_err(|e| err(std::io::Error::other(e.to_string())))?;
        original.pop(); // the terminator
        if let Some(w) = self.writer.as_mut() {
            w.write_record([line.to_string().as_bytes(), reason.as_bytes(), &original])
                .map_err(|e| err(e.into()))?;
        }
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

fn parse_file(
    file: File,
    path: &Path,
    rejects_path: &Path,
    show_progress: bool,
    tx: mpsc::Sender<Chunk>,
) -> Result<Parsed, LoadError> {
    let read_err = |source: std::io::Error| LoadError::Read {
        path: path.to_path_buf(),
        source,
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let progress = if show_progress {
        indicatif::ProgressBar::new(len)
    } else {
        indicatif::ProgressBar::hidden()
    };
    progress.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let reader: Box<dyn Read> = Box::new(progress.wrap_read(file));
    let mut csv = csv::ReaderBuilder::new()
        .flexible(true) // a row with the wrong number of fields is a rejected row, not the end
        .has_headers(true)
        .buffer_capacity(1 << 20)
        .from_reader(reader);
    let header = csv
        .byte_headers()
        .map_err(|e| read_err(std::io::Error::other(e.to_string())))?
        .clone();
    if header.iter().all(|f| f.is_empty()) {
        return Err(LoadError::Header {
            path: path.to_path_buf(),
            message: "the file is empty or its first line is not a header".into(),
        });
    }
    let cols = column_map(path, &header)?;
    let mut lines = LineCounter {
        reader: std::io::BufReader::new(File::open(path).map_err(read_err)?),
        pos: 0,
        newlines: 0,
    };
    let mut rejects = Rejects {
        path: rejects_path.to_path_buf(),
        writer: None,
        count: 0,
    };
    let mut record = csv::ByteRecord::new();
    let mut chunk = Chunk::default();
    loop {
        match csv.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                // A CSV-level error (an unterminated quote) cannot be skipped past reliably.
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                return Err(read_err(std::io::Error::other(format!("line {line}: {e}"))));
            }
        }
        match row_to_event(&record, &header, &cols) {
            Ok(event) => {
                write_json(&event, &mut chunk.buf);
                chunk.ends.push(chunk.buf.len());
                if chunk.ends.len() >= CHUNK {
                    let full = std::mem::take(&mut chunk);
                    if tx.blocking_send(full).is_err() {
                        break; // the pusher is gone; it reports why
                    }
                }
            }
            Err(reason) => {
                let byte = record.position().map(|p| p.byte()).unwrap_or(0);
                let line = lines.line_of(byte).map_err(read_err)?;
                rejects.write(line, &reason, &record)?
            }
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
    record: &csv::ByteRecord,
    header: &csv::ByteRecord,
    cols: &[usize; 6],
) -> Result<super::event::Event, String> {
    if record.len() != header.len() {
        return Err(format!(
            "expected {} fields, found {}",
            header.len(),
            record.len()
        ));
    }
    let mut raw = RawEvent::default();
    for field in Field::ALL {
        let bytes = &record[cols[field as usize]];
        let text = std::str::from_utf8(bytes)
            .map_err(|_| format!("{}: is not valid UTF-8", field.name()))?;
        let value = (!text.trim().is_empty()).then_some(Scalar::Text(Cow::Borrowed(text)));
        raw.set(field.name(), value);
    }
    raw.validate_with_id().map_err(|e| e.to_string())
}
