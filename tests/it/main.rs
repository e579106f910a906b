//! Integration tests against the real PostgreSQL and Redis (see `helpers`).

mod bad_input;
mod busiest;
mod cli_help;
mod compose;
mod dashboard_api;
mod dashboard_e2e;
mod dashboard_feed;
mod dashboard_sync;
mod databases;
mod events_api;
mod forecast;
mod helpers;
mod ids_in_javascript;
mod keys;
mod list_nights;
mod list_plans;
mod live;
mod loader;
mod metrics;
mod pace;
mod page_sign_in;
mod partition_indexes;
mod partition_upgrade;
mod read_replicas;
mod readme;
mod retention;
mod retention_cursor;
mod security;
mod strict_input;
mod structure;
mod swagger;
mod tenancy;
mod web_page;
mod worker;

// Each binary uses only part of the shared helpers.
#[allow(dead_code)]
#[path = "../common/mod.rs"]
mod common;
