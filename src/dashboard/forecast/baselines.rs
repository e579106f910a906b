//! The four textbook baselines of issue 18, with the absent rules that reproduce its figures
//! (`docs/forecast-research.md` §2). Night n as of a = n − k; row indices count from the first
//! night, and a night before it does not exist.

use super::lead::{Day, LeadMatrix};

/// Same weekday reference nights: at most this many ...
pub(crate) const NREF: i64 = 8;
/// ... looking back at most this many weeks.
pub(crate) const WEEKS: i64 = 60;
/// Same time last year: 52 weeks, so the weekday matches.
pub(crate) const LY: i64 = 364;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Baselines {
    /// `final(n − 364)`; absent when that night precedes the first night or is after a.
    pub stly_final: Option<f64>,
    /// `otb(n, a) + final(n − 364) − otb(n − 364, a − 364)`; absent as `stly_final`.
    pub stly_pickup: Option<f64>,
    /// `otb(n, a)` + the mean pickup from lead k of the reference nights; absent without any.
    pub additive_pickup: Option<f64>,
    /// `otb(n, a)` × the mean final/otb ratio of the reference nights with otb > 0.
    pub multiplicative_pickup: f64,
}

impl Baselines {
    pub fn get(&self, which: Baseline) -> Option<f64> {
        match which {
            Baseline::StlyFinal => self.stly_final,
            Baseline::StlyPickup => self.stly_pickup,
            Baseline::AdditivePickup => self.additive_pickup,
            Baseline::MultiplicativePickup => Some(self.multiplicative_pickup),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Baseline {
    StlyFinal,
    StlyPickup,
    AdditivePickup,
    MultiplicativePickup,
}

impl Baseline {
    pub const ALL: [Baseline; 4] = [
        Baseline::StlyFinal,
        Baseline::StlyPickup,
        Baseline::AdditivePickup,
        Baseline::MultiplicativePickup,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Baseline::StlyFinal => "stly_final",
            Baseline::StlyPickup => "stly_pickup",
            Baseline::AdditivePickup => "additive_pickup",
            Baseline::MultiplicativePickup => "multiplicative_pickup",
        }
    }
}

/// The reference nights of row i at lead k: m = i − 7j for the 8 smallest j ≥ max(1, ⌈k/7⌉)
/// (so m ≤ a, the same weekday), dropping j > 60 and nights before the first.
pub(crate) fn refs(i: i64, k: i64) -> impl Iterator<Item = i64> {
    let j0 = ((k + 6) / 7).max(1);
    (j0..j0 + NREF)
        .filter(|&j| j <= WEEKS)
        .map(move |j| i - 7 * j)
        .filter(|&m| m >= 0)
}

/// The baselines of `night` as of `as_of` (lead = night − as_of ≥ 0).
pub fn baselines(m: &LeadMatrix, night: Day, as_of: Day) -> Baselines {
    baselines_at(m, m.index(night), night - as_of)
}

pub(crate) fn baselines_at(m: &LeadMatrix, i: i64, k: i64) -> Baselines {
    let o = f64::from(m.at(i, k));
    let ly = i - LY;
    let (stly_final, stly_pickup) = if k > LY || ly < 0 {
        (None, None)
    } else {
        let f = f64::from(m.fin(ly));
        (Some(f), Some(o + f - f64::from(m.at(ly, k))))
    };
    let (mut pickup, mut count) = (0i64, 0i64);
    let (mut ratio, mut ratios) = (0.0f64, 0i64);
    for r in refs(i, k) {
        let (fin, then) = (m.fin(r), m.at(r, k));
        pickup += i64::from(fin - then);
        count += 1;
        if then > 0 {
            ratio += f64::from(fin) / f64::from(then);
            ratios += 1;
        }
    }
    let additive_pickup = (count > 0).then(|| o + pickup as f64 / count as f64);
    let multiplicative_pickup = if ratios > 0 {
        o * (ratio / ratios as f64)
    } else {
        o
    };
    Baselines {
        stly_final,
        stly_pickup,
        additive_pickup,
        multiplicative_pickup,
    }
}
