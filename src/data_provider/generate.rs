//! `roompulse generate-events`: deterministic synthetic exports in the original system's CSV
//! shape (header order, `YYYY-MM-DD HH:MM:SS` timestamps, CRLF), for fixtures and benchmarks.

use std::io::{self, Write};

use chrono::{DateTime, Duration, NaiveDate};
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct GenerateOptions {
    pub rows: u64,
    pub hotels: u32,
    pub seed: u64,
    /// Blank CRLF lines after the last row, as the original exports have.
    pub trailing_blank_lines: u64,
}

pub const HEADER: &str = "room_reservation_id,night_of_stay,id,status,event_timestamp,hotel_id";

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

/// Reservations of 1–7 nights in `hotels` hotels, booked in 2022–2023 up to four months ahead;
/// about one in six is later cancelled (a cancellation row for each of its nights). Ids are
/// unique and increase with gaps, as the original system's did.
pub fn rows(opts: &GenerateOptions) -> impl Iterator<Item = Row> {
    let mut rng = Rng::new(opts.seed);
    let hotels = u64::from(opts.hotels.max(1));
    let mut next_id: i64 = 19_000_000;
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
            let booked = start + Duration::seconds(rng.below(span_secs) as i64);
            let first_night = booked.date_naive() + Duration::days(rng.below(120) as i64);
            let nights = 1 + rng.below(7) as i64;
            let cancelled_at = (rng.below(6) == 0)
                .then(|| booked + Duration::seconds(3600 + rng.below(30 * 86_400) as i64));
            for (status, at) in std::iter::once((1, booked)).chain(cancelled_at.map(|c| (2, c))) {
                for n in 0..nights {
                    next_id += 1 + rng.below(3) as i64;
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

/// Writes the CSV export: header, rows, trailing blank lines, all CRLF.
pub fn write_csv(opts: &GenerateOptions, out: impl Write) -> io::Result<()> {
    let mut out = io::BufWriter::with_capacity(1 << 20, out);
    write!(out, "{HEADER}\r\n")?;
    for r in rows(opts) {
        write!(
            out,
            "{},{},{},{},{},{}\r\n",
            r.room_reservation_id.as_hyphenated(),
            r.night_of_stay.format("%Y-%m-%d"),
            r.id,
            r.status,
            r.event_timestamp.format("%Y-%m-%d %H:%M:%S"),
            r.hotel_id
        )?;
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
}
