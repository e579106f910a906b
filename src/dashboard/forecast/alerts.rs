//! Pace alerts (`docs/forecast-research.md` §5): nights whose on-the-books, or net pickup over
//! the last 1 or 7 days, falls outside what is usual at their lead for this hotel.
//!
//! The usual ranges as of day a pool the same figure for nights d + j at lead j, for the 91
//! as-of days d before a and leads j within 3 of k: all known by a − 1, so [`AlertRanges`] is
//! built once per (hotel, day) and a request only reads the live on-the-books of its nights.

use super::lead::{Day, LeadMatrix};
use super::model::components;
use super::quantile::{quantile_sorted, sort};

/// As-of days pooled, and the lead half-width.
const W: i64 = 91;
const B: i64 = 3;
/// A robust σ: the 10–90 % range of a normal distribution is 2.5631 σ.
const SIGMA_10_90: f64 = 2.5631;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Check {
    /// On the books against what similar nights had on the books at this lead.
    OnTheBooks,
    /// Net pickup over the last day.
    Pickup1d,
    /// Net pickup over the last 7 days.
    Pickup7d,
}

impl Check {
    pub const ALL: [Check; 3] = [Check::OnTheBooks, Check::Pickup1d, Check::Pickup7d];

    pub fn name(self) -> &'static str {
        match self {
            Check::OnTheBooks => "otb",
            Check::Pickup1d => "pickup_1d",
            Check::Pickup7d => "pickup_7d",
        }
    }
}

/// The three figures of row i at lead k (as of i − k); `None` where undefined.
fn figures(m: &LeadMatrix, i: i64, k: i64) -> [Option<f64>; 3] {
    let c = components(m, i, k);
    let [pa, pp, ps, pr] = c.c;
    // The reference nights' and last year's mean otb, recovered from the components as the
    // study does (so that a figure on the edge of its range falls on the same side).
    let ro = pa.zip(pr).map(|(a, rf)| (c.o + rf) - a);
    let so = pp.zip(ps).map(|(p, sf)| (c.o + sf) - p);
    let expected = match (ro, so) {
        (Some(ro), Some(so)) => Some(0.5 * (ro + so)),
        (ro, _) => ro,
    };
    let o = m.at(i, k);
    [
        expected.map(|e| c.o - e),
        Some(f64::from(o - m.at(i, k + 1))),
        Some(f64::from(o - m.at(i, k + 7))),
    ]
}

/// Quantiles 1 %, 10 %, 50 %, 90 %, 99 % of one figure's pool.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    pub q01: f64,
    pub q10: f64,
    pub median: f64,
    pub q90: f64,
    pub q99: f64,
}

/// The usual ranges as of one day: per lead 0..=horizon, per check (`None`: nothing to pool).
#[derive(Debug, Clone)]
pub struct AlertRanges {
    as_of: Day,
    ranges: Vec<[Option<Range>; 3]>,
}

impl AlertRanges {
    pub fn build(m: &LeadMatrix, as_of: Day, horizon: usize, q: f64) -> Self {
        let a = m.index(as_of);
        let h = horizon as i64;
        let days: Vec<i64> = ((a - W).max(0)..a).collect();
        // grid[j][d]: the figures of night d + j at lead j.
        let grid: Vec<Vec<[Option<f64>; 3]>> = (0..=h + B)
            .map(|j| days.iter().map(|&d| figures(m, d + j, j)).collect())
            .collect();
        let ranges = (0..=h)
            .map(|k| {
                let mut out = [None; 3];
                for (c, slot) in out.iter_mut().enumerate() {
                    let mut pool: Vec<f64> = ((k - B).max(0)..=k + B)
                        .flat_map(|j| grid[j as usize].iter().filter_map(move |x| x[c]))
                        .collect();
                    if pool.is_empty() {
                        continue;
                    }
                    sort(&mut pool);
                    *slot = Some(Range {
                        q01: quantile_sorted(&pool, q),
                        q10: quantile_sorted(&pool, 0.10),
                        median: quantile_sorted(&pool, 0.50),
                        q90: quantile_sorted(&pool, 0.90),
                        q99: quantile_sorted(&pool, 1.0 - q),
                    });
                }
                out
            })
            .collect();
        AlertRanges { as_of, ranges }
    }

    pub fn as_of(&self) -> Day {
        self.as_of
    }

    /// The last lead it holds ranges for.
    pub fn horizon(&self) -> usize {
        self.ranges.len().saturating_sub(1)
    }
}

/// One figure outside its usual range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Surprise {
    pub check: Check,
    pub value: f64,
    pub range: Range,
    pub score: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub night: Day,
    pub lead: usize,
    pub on_the_books: i32,
    /// The figures outside their range, most surprising first.
    pub surprises: Vec<Surprise>,
    /// The highest of their scores: distance from the median in robust σ (at least 1 room-night).
    pub score: f64,
}

/// The listed nights as of the ranges' day, most surprising first. `partial_day`: the as-of day
/// is today and not over, so a low one-day pickup is not yet a surprise.
pub fn alerts(m: &LeadMatrix, ranges: &AlertRanges, partial_day: bool) -> Vec<Alert> {
    let mut out = Vec::new();
    for (k, r) in ranges.ranges.iter().enumerate() {
        let night = ranges.as_of + k as i64;
        let i = m.index(night);
        let x = figures(m, i, k as i64);
        let mut surprises: Vec<Surprise> = Check::ALL
            .iter()
            .zip(x.iter().zip(r.iter()))
            .filter_map(|(&check, (x, r))| {
                let (x, r) = (x.as_ref()?, r.as_ref()?);
                let low = *x < r.q01 && !(partial_day && check == Check::Pickup1d);
                (low || *x > r.q99).then(|| Surprise {
                    check,
                    value: *x,
                    range: *r,
                    score: (x - r.median).abs() / ((r.q90 - r.q10) / SIGMA_10_90).max(1.0),
                })
            })
            .collect();
        if surprises.is_empty() {
            continue;
        }
        surprises.sort_by(|a, b| b.score.total_cmp(&a.score));
        out.push(Alert {
            night,
            lead: k,
            on_the_books: m.at(i, k as i64),
            score: surprises[0].score,
            surprises,
        });
    }
    out.sort_by(|a, b| b.score.total_cmp(&a.score));
    out
}
