//! Integration tests against the real PostgreSQL and Redis (see `helpers`).

mod bad_input;
mod events_api;
mod helpers;
mod loader;
mod worker;
