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

/// The services' connections plan no parallel queries: on the pace view's union PostgreSQL
/// otherwise picks a Parallel Append whose worker start-up costs ~10 ms a request.
#[tokio::test]
async fn pooled_connections_plan_no_parallel_queries() {
    use diesel::sql_types::Text;
    use diesel_async::RunQueryDsl;

    #[derive(diesel::QueryableByName)]
    struct Setting {
        #[diesel(sql_type = Text)]
        max_parallel_workers_per_gather: String,
    }
    let test_db = crate::common::db::TestDb::dashboard().await;
    let pool = db::pool(&test_db.url, 2).expect("pool");
    // Both connections of the pool, not only the first one.
    let (mut a, mut b) = (pool.get().await.expect("a"), pool.get().await.expect("b"));
    for conn in [&mut a, &mut b] {
        let setting: Setting = diesel::sql_query("SHOW max_parallel_workers_per_gather")
            .get_result(&mut **conn)
            .await
            .expect("show");
        assert_eq!(setting.max_parallel_workers_per_gather, "0");
    }
}

/// Nor JIT-compiled ones: the night merge over many partitions is costed above
/// `jit_above_cost`, and compiling it took ~400 ms of a 13 ms statement at 30 M events.
#[tokio::test]
async fn pooled_connections_compile_no_statement() {
    use diesel::sql_types::Text;
    use diesel_async::RunQueryDsl;

    #[derive(diesel::QueryableByName)]
    struct Setting {
        #[diesel(sql_type = Text)]
        jit: String,
    }
    let test_db = crate::common::db::TestDb::data_provider().await;
    let pool = db::pool(&test_db.url, 2).expect("pool");
    let (mut a, mut b) = (pool.get().await.expect("a"), pool.get().await.expect("b"));
    for conn in [&mut a, &mut b] {
        let setting: Setting = diesel::sql_query("SHOW jit")
            .get_result(&mut **conn)
            .await
            .expect("show");
        assert_eq!(setting.jit, "off");
    }
}
