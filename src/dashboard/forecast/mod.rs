//! The demand forecast of issue 18 as pure computation: no database, no HTTP.
//!
//! The endpoints build a [`lead::LeadMatrix`] per hotel from the Dashboard's per-(night, event day)
//! net counts, keep it current with each event, and ask it for forecasts ([`model`]), the four
//! textbook baselines ([`baselines`]), alerts ([`alerts`]) and the hotel's own backtest
//! ([`accuracy`]). The method and its constants are those of `docs/forecast-research.md`
//! (sections 2, 3 and 5); `research/forecast/` is the Python study it is checked against.
//!
//! Days are UTC dates, carried as [`lead::Day`] (days since 1970-01-01). Everything computed
//! "as of day a" reads only events dated on or before a, whatever else the matrix holds.

pub mod accuracy;
pub mod alerts;
pub mod baselines;
pub mod lead;
pub mod model;
mod quantile;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_real;
