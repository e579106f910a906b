//! The Data Provider: stores booking events and serves them. Its database holds the events
//! table (`schema.rs`); producers reach it through the Redis queue (`queue.rs`) or the API.

pub mod api;
pub mod event;
pub mod generate;
pub mod load;
pub mod queue;
pub mod schema;
pub mod store;
pub mod worker;
