//! `embed_migrations!` reads the migration files at compile time, but cargo does not know it: an
//! edited migration would stay unembedded until something else changed (diesel_migrations' docs
//! advise this script).
fn main() {
    println!("cargo:rerun-if-changed=migrations_data_provider");
    println!("cargo:rerun-if-changed=migrations_dashboard");
}
