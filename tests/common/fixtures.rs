//! Events to test with: one event as the API and the queue take it, and generated exports.

use std::path::{Path, PathBuf};

use roompulse::data_provider::generate::{self, GenerateOptions, Row};
use serde_json::{json, Value};

/// The room reservation of the sample event in the original system's documentation.
pub const RESERVATION: &str = "0013e338-0158-4d5c-8698-aebe00cba360";

/// A booking of `hotel` in the API's own field names, at one fixed time for one fixed night.
pub fn booking(id: i64, hotel: i32) -> Value {
    event_json(id, hotel, "2022-06-24T13:00:56Z", 1, "2022-06-26")
}

/// An event in the API's own field names.
pub fn event_json(id: i64, hotel: i32, ts: &str, status: i16, night: &str) -> Value {
    json!({
        "id": id,
        "hotel_id": hotel,
        "event_timestamp": ts,
        "status": status,
        "room_reservation_id": RESERVATION,
        "night_of_stay": night,
    })
}

/// The hotels every generated export spreads its events over.
pub const HOTELS: u32 = 4;

/// The generator's settings for an export of `rows` rows from `seed`.
pub fn export_options(rows: u64, seed: u64, trailing_blank_lines: u64) -> GenerateOptions {
    GenerateOptions {
        rows,
        hotels: HOTELS,
        seed,
        trailing_blank_lines,
    }
}

/// The rows an export of `rows` rows from `seed` holds, in file order.
pub fn generated_rows(rows: u64, seed: u64) -> impl Iterator<Item = Row> {
    generate::rows(&export_options(rows, seed, 0))
}

/// Writes the generated export (CRLF, as the original system writes it) into `dir`, followed by
/// `trailing_blank_lines` blank lines.
pub fn write_export(dir: &Path, rows: u64, seed: u64, trailing_blank_lines: u64) -> PathBuf {
    let path = dir.join(format!("events-{rows}-{seed}.csv"));
    let file = std::fs::File::create(&path).expect("create the export");
    generate::write_csv(&export_options(rows, seed, trailing_blank_lines), file)
        .expect("write the export");
    path
}
