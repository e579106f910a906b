//! roompulse: hotel booking events in, room-night figures out.
//!
//! Follow one event: `data_provider::load` (CSV row) → `data_provider::queue` (Redis list)
//! → `data_provider::worker` → `data_provider::store` (events table) → `GET /events`
//! (`data_provider::api`) → the dashboard sync → `GET /dashboard`.

pub mod admission;
pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod dashboard;
pub mod data_provider;
pub mod db;
pub mod error;
pub mod metrics;
pub mod ops;
pub mod routing;
pub mod serve;
pub mod telemetry;
