//! The bench's check that a fast chain also counts right.

use std::collections::HashMap;

use chrono::NaiveDate;

use roompulse::data_provider::generate::{self, GenerateOptions};
use roompulse::db::pg_error;

use crate::support::{admin_client, fail, BenchError};

/// Compares every stored daily figure with figures computed here from the generator, so a
/// fast chain that counts wrong fails the benchmark.
pub async fn verify_figures(dashboard_url: &str, gen: &GenerateOptions) -> Result<(), BenchError> {
    let mut expected: HashMap<(i32, i16, NaiveDate), (i64, i64)> = HashMap::new();
    for r in generate::rows(gen) {
        for key in [
            (r.hotel_id, 1, r.event_timestamp.date_naive()),
            (r.hotel_id, 2, r.night_of_stay),
        ] {
            let c = expected.entry(key).or_default();
            if r.status == 1 {
                c.0 += 1;
            } else {
                c.1 += 1;
            }
        }
    }
    let rows = admin_client(dashboard_url)
        .await?
        .query(
            "SELECT hotel_id, basis, day, bookings, cancellations FROM dashboard_daily",
            &[],
        )
        .await
        .map_err(|e| fail("read figures")(&pg_error(&e)))?;
    let got: HashMap<(i32, i16, NaiveDate), (i64, i64)> = rows
        .iter()
        .map(|r| ((r.get(0), r.get(1), r.get(2)), (r.get(3), r.get(4))))
        .collect();
    if got != expected {
        let wrong = expected
            .iter()
            .filter(|(k, v)| got.get(k) != Some(v))
            .count();
        return Err(BenchError(format!(
            "the dashboard's figures are wrong in {wrong} of {} buckets",
            expected.len()
        )));
    }
    Ok(())
}
