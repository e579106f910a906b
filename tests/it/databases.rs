//! Creating and migrating databases: safe when several processes start at once.

use roompulse::db;

use crate::common::db::{drop_database, PG_SERVER};

/// Regression: two `migrate` (or `serve`) processes started together on a fresh database, one
/// died of `duplicate key value violates unique constraint "pg_database_datname_index"`. Six
/// racers in a few rounds met that collision every time before the fix.
#[tokio::test]
async fn concurrent_creation_and_migration_all_succeed() {
    for round in 0..4 {
        for kind in ["dp", "dash"] {
            let name = format!(
                "roompulse_test_race_{kind}_{}",
                uuid::Uuid::new_v4().simple()
            );
            let url = format!("{PG_SERVER}/{name}");
            let racers: Vec<_> = (0..6)
                .map(|_| {
                    let url = url.clone();
                    let migrations = match kind {
                        "dp" => db::DATA_PROVIDER_MIGRATIONS,
                        _ => db::DASHBOARD_MIGRATIONS,
                    };
                    tokio::spawn(async move { db::migrate(&url, migrations).await })
                })
                .collect();
            let mut failures = Vec::new();
            for r in racers {
                if let Err(e) = r.await.expect("join") {
                    failures.push(e.to_string());
                }
            }
            drop_database(&name).await.expect("drop database");
            assert!(
                failures.is_empty(),
                "round {round}, {kind}: {} of 6 failed: {failures:?}",
                failures.len()
            );
        }
    }
}
