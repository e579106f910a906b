//! `roompulse generate-events`: deterministic synthetic exports in the original system's CSV
//! format ([`super::export`]: header order, `YYYY-MM-DD HH:MM:SS` timestamps, CRLF), for
//! fixtures and benchmarks.

use std::io::{self, Write};

use chrono::{DateTime, Duration, NaiveDate};
use uuid::Uuid;

use super::event::Event;
use super::export::{write_row, HEADER};

#[derive(Debug, Clone)]
pub struct GenerateOptions {
    pub rows: u64,
    pub hotels: u32,
    pub seed: u64,
    /// Blank CRLF lines after the last row, as the original exports have.
    pub trailing_blank_lines: u64,
}

/// SplitMix64: tiny, fast, and the same sequence on every platform and crate version.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
}

/// One generated row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub room_reservation_id: Uuid,
    pub night_of_stay: NaiveDate,
    pub id: i64,
    pub status: i16,
    pub event_timestamp: DateTime<chrono::Utc>,
    pub hotel_id: i32,
}

/// Where a generated export sits among others: its ids and its clock. The default is the
/// export `generate-events` writes.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// The id before the first row's (ids grow by 1–3 steps a row).
    pub id_before: i64,
    /// The id step. Exports `k = 0..n` with `id_before = base + k` and `id_step = n` have
    /// disjoint ids that interleave, as per-hotel exports from one central system would.
    pub id_step: i64,
    /// `None`: a shuffled history, events anywhere in 2022–2023 in no particular order. `Some(t)`:
    /// live traffic, one event a millisecond from `t` on, so timestamps increase with ids.
    pub live_from: Option<DateTime<chrono::Utc>>,
}

impl Default for Shape {
    fn default() -> Self {
        Shape {
            id_before: 19_000_000,
            id_step: 1,
            live_from: None,
        }
    }
}

/// Reservations of 1–7 nights in `hotels` hotels, booked in 2022–2023 up to four months ahead;
/// about one in six is later cancelled (a cancellation row for each of its nights). Ids are
/// unique and increase with gaps, as the original system's did.
pub fn rows(opts: &GenerateOptions) -> impl Iterator<Item = Row> {
    rows_shaped(opts, Shape::default())
}

/// [`rows`] with the ids and the clock of `shape`.
pub fn rows_shaped(opts: &GenerateOptions, shape: Shape) -> impl Iterator<Item = Row> {
    let mut rng = Rng::new(opts.seed);
    let hotels = u64::from(opts.hotels.max(1));
    let mut next_id: i64 = shape.id_before;
    let mut tick: i64 = 0;
    let start = DateTime::from_timestamp(1_640_995_200, 0).unwrap_or_default(); // 2022-01-01
    let span_secs = 2 * 365 * 86_400;
    let mut pending: Vec<Row> = Vec::new();
    let mut left = opts.rows;
    std::iter::from_fn(move || {
        if left == 0 {
            return None;
        }
        if pending.is_empty() {
            let reservation =
                Uuid::from_u128(u128::from(rng.next_u64()) << 64 | u128::from(rng.next_u64()));
            let reservation = uuid::Builder::from_random_bytes(*reservation.as_bytes()).into_uuid();
            let hotel_id = 2600 + rng.below(hotels) as i32;
            let mut booked = start + Duration::seconds(rng.below(span_secs) as i64);
            if let Some(t) = shape.live_from {
                booked = t + Duration::milliseconds(tick);
            }
            let first_night = booked.date_naive() + Duration::days(rng.below(120) as i64);
            let nights = 1 + rng.below(7) as i64;
            let cancelled_at = (rng.below(6) == 0)
                .then(|| booked + Duration::seconds(3600 + rng.below(30 * 86_400) as i64));
            for (status, at) in std::iter::once((1, booked)).chain(cancelled_at.map(|c| (2, c))) {
                for n in 0..nights {
                    next_id += (1 + rng.below(3) as i64) * shape.id_step;
                    // Live: every row its own millisecond, a cancellation right after its booking.
                    let at = match shape.live_from {
                        Some(t) => {
                            tick += 1;
                            t + Duration::milliseconds(tick)
                        }
                        None => at,
                    };
                    pending.push(Row {
                        room_reservation_id: reservation,
                        night_of_stay: first_night + Duration::days(n),
                        id: next_id,
                        status,
                        event_timestamp: at,
                        hotel_id,
                    });
                }
            }
            pending.reverse();
        }
        left -= 1;
        pending.pop()
    })
}

impl From<Row> for Event {
    fn from(r: Row) -> Self {
        Event {
            id: r.id,
            hotel_id: r.hotel_id,
            event_timestamp: r.event_timestamp,
            status: r.status,
            room_reservation_id: r.room_reservation_id,
            night_of_stay: r.night_of_stay,
        }
    }
}

/// Writes the CSV export: header, rows, trailing blank lines, all CRLF.
pub fn write_csv(opts: &GenerateOptions, out: impl Write) -> io::Result<()> {
    write_csv_shaped(opts, Shape::default(), out)
}

/// [`write_csv`] with the ids and the clock of `shape`.
pub fn write_csv_shaped(opts: &GenerateOptions, shape: Shape, out: impl Write) -> io::Result<()> {
    let mut out = io::BufWriter::with_capacity(1 << 20, out);
    write!(out, "{HEADER}\r\n")?;
    for r in rows_shaped(opts, shape) {
        write_row(&mut out, &Event::from(r))?;
    }
    for _ in 0..opts.trailing_blank_lines {
        out.write_all(b"\r\n")?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(rows: u64, seed: u64) -> GenerateOptions {
        GenerateOptions {
            rows,
            hotels: 3,
            seed,
            trailing_blank_lines: 2,
        }
    }

    #[test]
    fn same_seed_same_file_other_seed_other_file() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        let mut c = Vec::new();
        write_csv(&opts(500, 1), &mut a).unwrap();
        write_csv(&opts(500, 1), &mut b).unwrap();
        write_csv(&opts(500, 2), &mut c).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn exact_row_count_unique_ids_and_the_export_shape() {
        let mut out = Vec::new();
        write_csv(&opts(1000, 7), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with(&format!("{HEADER}\r\n")));
        assert!(text.ends_with("\r\n\r\n\r\n"));
        let rows: Vec<Row> = rows(&opts(1000, 7)).collect();
        assert_eq!(rows.len(), 1000);
        let mut ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 1000);
        assert!(rows.iter().any(|r| r.status == 2));
        assert!(rows.iter().all(|r| (2600..2603).contains(&r.hotel_id)));
    }

    #[test]
    fn interleaved_exports_have_disjoint_ids_and_live_time_follows_ids() {
        let mut ids = Vec::new();
        for k in 0..3 {
            let shape = Shape {
                id_before: 100 + k,
                id_step: 3,
                live_from: None,
            };
            ids.extend(rows_shaped(&opts(500, k as u64), shape).map(|r| r.id));
        }
        let (min, max) = (ids.iter().min().copied(), ids.iter().max().copied());
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 1500);
        // Interleaved, not stacked: every export spans about the same range.
        assert!(max.unwrap() - min.unwrap() < 500 * 3 * 3 + 3);

        let t = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let live: Vec<Row> = rows_shaped(
            &opts(1000, 5),
            Shape {
                live_from: Some(t),
                ..Shape::default()
            },
        )
        .collect();
        assert!(live
            .windows(2)
            .all(|w| w[0].id < w[1].id && w[0].event_timestamp < w[1].event_timestamp));
        assert!(live
            .iter()
            .all(|r| r.event_timestamp > t && r.event_timestamp <= t + Duration::seconds(1)));
        assert!(live.iter().all(|r| r.night_of_stay >= t.date_naive()));
    }
}
