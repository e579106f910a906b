//! A database per test, cloned from a migrated template (as crates.io's test suite does), on the
//! shared PostgreSQL at 127.0.0.1:5432.

use std::path::Path;

use roompulse::db;

pub const PG_SERVER: &str = "postgres://postgres@127.0.0.1:5432";

async fn admin() -> tokio_postgres::Client {
    let (client, conn) =
        tokio_postgres::connect(&format!("{PG_SERVER}/postgres"), tokio_postgres::NoTls)
            .await
            .expect("PostgreSQL must run on 127.0.0.1:5432 for the tests (see README)");
    tokio::spawn(conn);
    client
}

/// Drops `name` on the shared server, disconnecting whoever still uses it.
pub async fn drop_database(name: &str) -> Result<(), tokio_postgres::Error> {
    admin()
        .await
        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .await
}

/// FNV-1a over the migration files, so that a changed migration gets a fresh template.
fn migrations_hash(dir: &str) -> u64 {
    let mut files = Vec::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut stack = vec![root];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("migrations dir").flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p);
            }
        }
    }
    files.sort();
    let mut h: u64 = 0xcbf29ce484222325;
    for f in files {
        let bytes = [
            f.to_string_lossy().as_bytes(),
            &std::fs::read(&f).unwrap_or_default(),
        ]
        .concat();
        for b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x100000001b3);
        }
    }
    h
}

/// The migrated template for one module, created once per migration set by whichever test
/// (in whichever process) gets there first.
async fn template(
    kind: &str,
    dir: &str,
    migrations: diesel_migrations::EmbeddedMigrations,
) -> String {
    let name = format!("roompulse_tpl_{kind}_{:016x}", migrations_hash(dir));
    let admin = admin().await;
    admin
        .execute(
            "SELECT pg_advisory_lock(hashtext('roompulse-test-template'))",
            &[],
        )
        .await
        .expect("advisory lock");
    let exists = admin
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await
        .expect("pg_database")
        .is_some();
    if !exists {
        let building = format!("{name}_building");
        admin
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)"
            ))
            .await
            .expect("drop half-built template");
        db::migrate(&format!("{PG_SERVER}/{building}"), migrations)
            .await
            .expect("migrating the template");
        admin
            .batch_execute(&format!(
                "ALTER DATABASE \"{building}\" RENAME TO \"{name}\""
            ))
            .await
            .expect("rename template");
    }
    admin
        .execute(
            "SELECT pg_advisory_unlock(hashtext('roompulse-test-template'))",
            &[],
        )
        .await
        .expect("advisory unlock");
    name
}

/// A database of its own for one test, dropped when the test ends.
pub struct TestDb {
    pub url: String,
    name: String,
}

impl TestDb {
    pub async fn data_provider() -> Self {
        Self::from_template(
            template(
                "dp",
                "migrations_data_provider",
                db::DATA_PROVIDER_MIGRATIONS,
            )
            .await,
        )
        .await
    }

    pub async fn dashboard() -> Self {
        Self::from_template(
            template("dash", "migrations_dashboard", db::DASHBOARD_MIGRATIONS).await,
        )
        .await
    }

    /// A plain client of the database (its connection driven by a task of its own), for tests
    /// that fill or read tables in SQL.
    #[allow(dead_code)] // Not every test binary uses it.
    pub async fn client(&self) -> tokio_postgres::Client {
        let (client, conn) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls)
            .await
            .expect("connect to the test database");
        tokio::spawn(conn);
        client
    }

    /// An empty database, no migration run: for the upgrade tests to build an older schema in.
    pub async fn empty() -> Self {
        Self::from_template("template0".into()).await
    }

    async fn from_template(template: String) -> Self {
        let name = format!("roompulse_test_{}", uuid::Uuid::new_v4().simple());
        admin()
            .await
            .batch_execute(&format!(
                "CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""
            ))
            .await
            .expect("create test database");
        Self {
            url: format!("{PG_SERVER}/{name}"),
            name,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs inside the test's runtime, which cannot block on itself: use a thread.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(rt) = rt {
                let _ = rt.block_on(drop_database(&name));
            }
        })
        .join();
    }
}

/// SQL that drops the partitions the migrations created ahead (the legacy one stays) and makes
/// room for `room_for` rows in partitions of `rows_per_partition` arrivals: test data spread
/// over many partitions, as a long history is.
#[allow(dead_code)] // Not every test binary uses it.
pub fn partitions_of(rows_per_partition: u32, room_for: u32) -> String {
    format!(
        "DO $$
DECLARE p TEXT;
BEGIN
    FOR p IN SELECT partition_name FROM roompulse_event_partitions()
              WHERE partition_name <> 'events_legacy' LOOP
        EXECUTE format('DROP TABLE %I', p);
    END LOOP;
END $$;
UPDATE event_partitioning SET rows_per_partition = {rows_per_partition};
SELECT roompulse_add_event_partitions({room_for});
"
    )
}
