//! Fault injection: the real binary against private PostgreSQL and Redis servers that the tests
//! stop, restart and kill (see `harness`), each scenario ending with exact figures compared to
//! figures computed from the generator.

mod cluster;
mod follow;
mod harness;
mod keys;
mod moves;
mod regressions;
mod replica;
mod scenarios;

// Each binary uses only part of the shared helpers.
#[allow(dead_code)]
#[path = "../common/mod.rs"]
mod common;
