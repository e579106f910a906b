//! The hotel's own backtest: per lead, the WAPE of the forecast and of each baseline over a range
//! of nights, each forecast made as of night − lead from what was known then, and how often the
//! final fell inside [p10, p90].

use super::baselines::{baselines_at, Baseline};
use super::lead::{Day, LeadMatrix};
use super::model::LeadJob;

/// A WAPE and the nights it is over (a baseline may be absent on some).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Wape {
    /// Σ|forecast − final| / Σ final; `None` when no night counts or they sum to 0.
    pub wape: Option<f64>,
    pub nights: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LeadAccuracy {
    pub lead: usize,
    pub nights: usize,
    pub method: Wape,
    /// In the order of [`Baseline::ALL`].
    pub baselines: [Wape; 4],
    /// Share of all the nights whose final is inside [p10, p90] (a night without a band misses).
    pub coverage: Option<f64>,
    /// Nights that had a band.
    pub banded: usize,
}

impl LeadAccuracy {
    /// The best baseline that exists on every night, as the targets compare.
    pub fn best_baseline(&self) -> Option<(Baseline, f64)> {
        Baseline::ALL
            .iter()
            .zip(self.baselines.iter())
            .filter(|(_, w)| w.nights == self.nights)
            .filter_map(|(b, w)| Some((*b, w.wape?)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
    }
}

#[derive(Default)]
struct Sum {
    err: f64,
    fin: f64,
    n: usize,
}

impl Sum {
    fn add(&mut self, f: Option<f64>, y: f64) {
        if let Some(f) = f {
            self.err += (f - y).abs();
            self.fin += y;
            self.n += 1;
        }
    }
    fn wape(&self) -> Wape {
        Wape {
            wape: (self.n > 0 && self.fin > 0.0).then(|| self.err / self.fin),
            nights: self.n,
        }
    }
}

/// The backtest of nights `from..=to` at each lead: one lead job per lead, run up to `to − lead`.
pub fn accuracy(m: &LeadMatrix, from: Day, to: Day, leads: &[usize]) -> Vec<LeadAccuracy> {
    leads
        .iter()
        .map(|&lead| {
            let k = lead as i64;
            let mut job = LeadJob::new(m, k as usize);
            let first = m.first_night().unwrap_or(from);
            let (mut method, mut base) = (Sum::default(), <[Sum; 4]>::default());
            let (mut inside, mut banded, mut nights) = (0usize, 0usize, 0usize);
            for night in from..=to {
                let i = night - first;
                let p = job.forecast(m, night);
                let y = f64::from(m.fin(i));
                nights += 1;
                method.add(Some(p.expected), y);
                let b = baselines_at(m, i, k);
                for (s, which) in base.iter_mut().zip(Baseline::ALL) {
                    s.add(b.get(which), y);
                }
                if let (Some(lo), Some(hi)) = (p.p10, p.p90) {
                    banded += 1;
                    if lo <= y && y <= hi {
                        inside += 1;
                    }
                }
            }
            LeadAccuracy {
                lead: k as usize,
                nights,
                method: method.wape(),
                baselines: base.map(|s| s.wape()),
                coverage: (nights > 0).then(|| inside as f64 / nights as f64),
                banded,
            }
        })
        .collect()
}
