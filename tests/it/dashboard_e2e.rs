//! The whole chain on the real services: a generated CSV export through the loader, the
//! queue and the workers into the Data Provider, the sync over HTTP into the Dashboard, and
//! `GET /dashboard`, compared bucket by bucket with figures computed here from the same rows.

use roompulse::data_provider::load;

use crate::common::oracle::{assert_api_matches, Expected};
use crate::helpers::{generated_csv, temp_dir, TestApp};

const ROWS: u64 = 4000;
const SEED: u64 = 17;

#[tokio::test]
async fn a_csv_export_ends_as_exact_dashboard_figures() {
    let app = TestApp::spawn_with_workers(2).await;
    let dir = temp_dir();
    let csv = generated_csv(dir.path(), ROWS, SEED);
    let report = load::load_events(&csv, &dir.path().join("rejects.csv"), app.queue(), false)
        .await
        .unwrap();
    assert_eq!((report.queued, report.rejected), (ROWS, 0));

    // The app serves both modules: the Dashboard reaches the Data Provider over HTTP, and its
    // passes run while the workers are still inserting.
    app.synced(ROWS as i64, 500).await;
    assert_eq!(app.stored_count().await, ROWS as i64);

    let days = Expected::of(ROWS, SEED).days;
    let hotels: std::collections::BTreeSet<i32> = days.keys().map(|k| k.0).collect();
    assert_eq!(hotels.len(), 4);
    let total: i64 = days.values().map(|c| c.0 + c.1).sum();
    assert_eq!(total, 2 * ROWS as i64);
    assert_api_matches(&app.client, &app.base_url, &days).await;
    app.stop().await;
}
