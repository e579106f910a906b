//! The forecast method (`docs/forecast-research.md` §3): four simple forecasts of a night's final,
//! weighted per lead by how accurate each has been over the last 56 nights, capped at the most
//! the hotel sold on one night in the last year, with a p10–p90 band from the forecast's own last
//! 91 errors at that lead and an adaptive (conformal) quantile level.
//!
//! Cost: everything but the night's own components depends only on (hotel, lead, as-of day) and
//! on events dated before the as-of day. A [`LeadJob`] computes it for one lead and every as-of
//! day in one pass over the nights; a [`DayModel`] is one row of it per lead, after which a
//! forecast of a night is about 27 reads of the lead matrix.

use std::collections::VecDeque;

use super::baselines::{refs, LY};
use super::lead::{Day, LeadMatrix};
use super::quantile::{quantile_sorted, sort};

/// Nights of training for the weights (8 weeks, as the additive baseline's references).
const T: i64 = 56;
/// Training nights a component needs before it gets a weight.
const MIN_ROWS: i64 = 14;
/// Floor of the mean absolute error (room-nights): no division by zero.
const MAE_FLOOR: f64 = 0.5;
/// Residuals behind the band (one quarter), and the fewest that make one.
const WQ: i64 = 91;
const QMIN: usize = 28;
/// Miss rate the band aims at (p10–p90), the adaptive level's step and its clamp.
const TARGET: f64 = 0.20;
const GAMMA: f64 = 0.005;
const BETA_MIN: f64 = 0.01;
const BETA_MAX: f64 = 0.90;
/// Nights behind the capacity cap (one year).
const CAP_WINDOW: i64 = 364;
/// Last year's nights used: same weekday, ±2 weeks around n − 364.
const SMOOTH: i64 = 2;

/// The four components of night i's final as of i − k, and what they are built from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Components {
    /// On the books now.
    pub o: f64,
    /// [A additive pickup, P last year's pickup, S last year's final, R recent level].
    pub c: [Option<f64>; 4],
    /// Mean otb at this lead of the reference nights / of last year's nights.
    pub ro: Option<f64>,
    pub so: Option<f64>,
}

pub(crate) fn components(m: &LeadMatrix, i: i64, k: i64) -> Components {
    let a = i - k;
    let o = f64::from(m.at(i, k));
    let (mut rf, mut ro, mut n) = (0i64, 0i64, 0i64);
    for r in refs(i, k) {
        rf += i64::from(m.fin(r));
        ro += i64::from(m.at(r, k));
        n += 1;
    }
    let (a_c, r_c, ro) = if n > 0 {
        let (rf, ro) = (rf as f64 / n as f64, ro as f64 / n as f64);
        (Some(o + rf - ro), Some(rf), Some(ro))
    } else {
        (None, None, None)
    };
    let (mut sf, mut so, mut n) = (0i64, 0i64, 0i64);
    for t in -SMOOTH..=SMOOTH {
        let l = i - LY + 7 * t;
        if l >= 0 && l < a {
            sf += i64::from(m.fin(l));
            so += i64::from(m.at(l, k));
            n += 1;
        }
    }
    let (p_c, s_c, so) = if n > 0 {
        let (sf, so) = (sf as f64 / n as f64, so as f64 / n as f64);
        (Some(o + sf - so), Some(sf), Some(so))
    } else {
        (None, None, None)
    };
    Components {
        o,
        c: [a_c, p_c, s_c, r_c],
        ro,
        so,
    }
}

/// What the model knows at one lead on one as-of day (from events dated before it).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LeadRow {
    /// 1 / max(MAE, 0.5)² of each component over the training nights; `None`: too few rows.
    pub weights: [Option<f64>; 4],
    /// Residual quantiles (final − forecast) at the adaptive levels β/2 and 1 − β/2.
    pub band: Option<(f64, f64)>,
}

/// The uncapped combination; `None` when no component is usable and additive pickup is absent
/// (the forecast then falls back to on-the-books, without a band).
fn combine(row: &LeadRow, c: &Components) -> Option<f64> {
    let (mut num, mut den) = (0.0, 0.0);
    for (w, v) in row.weights.iter().zip(c.c.iter()) {
        if let (Some(w), Some(v)) = (w, v) {
            num += w * v;
            den += w;
        }
    }
    if den > 0.0 {
        Some(num / den)
    } else {
        c.c[0]
    }
}

/// The most one night sold in the year before as-of index a; `None` before any night ended.
pub(crate) fn cap(m: &LeadMatrix, a: i64) -> Option<i32> {
    (a >= 1).then(|| {
        ((a - CAP_WINDOW).max(0)..a)
            .map(|x| m.fin(x))
            .max()
            .unwrap_or(0)
    })
}

/// One night's forecast from its lead's row and the day's cap.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Point {
    pub o: i32,
    pub f: f64,
    pub p10: Option<f64>,
    pub p90: Option<f64>,
}

pub(crate) fn point(m: &LeadMatrix, i: i64, k: i64, row: &LeadRow, cap: Option<i32>) -> Point {
    let c = components(m, i, k);
    let o = m.at(i, k);
    let raw = combine(row, &c);
    let (p10, p90) = match (raw, row.band) {
        (Some(f), Some((lo, hi))) => (Some((f + lo).max(0.0)), Some(f + hi)),
        _ => (None, None),
    };
    let mut f = raw.unwrap_or(c.o);
    if let Some(cap) = cap {
        // Not above the most sold on one night in the last year, unless already on the books.
        f = f.min(f64::from(cap.max(o)));
    }
    Point {
        o,
        f,
        p10: p10.map(|p| p.min(f)),
        p90,
    }
}

/// Everything §3.2–3.3 needs for one lead, over as-of days from the first night on: one step per
/// as-of day, each reading only events dated before that day. It keeps only what the next steps
/// read (the last lead + 2 rows, 57 error sums, 91 residuals), so a cached job per lead costs
/// kilobytes; asking for a day before those it keeps runs it again from the first night.
#[derive(Debug, Clone)]
pub struct LeadJob {
    lead: i64,
    first: Option<Day>,
    /// The as-of index of the next step.
    next: i64,
    /// The rows in force on as-of indices next − len .. next − 1.
    rows: VecDeque<LeadRow>,
    /// Prefix sums over nights of each component's absolute error and count: entries
    /// next − len .. next − 1 (entry j covers nights 0..j).
    cum: VecDeque<([f64; 4], [i64; 4])>,
    /// final − uncapped forecast of the last 91 nights that ended (`None`: no forecast).
    resid: VecDeque<Option<f64>>,
    /// The adaptive level in force.
    beta: f64,
}

impl LeadJob {
    pub fn new(m: &LeadMatrix, lead: usize) -> Self {
        let mut cum = VecDeque::with_capacity(T as usize + 2);
        cum.push_back(([0.0; 4], [0; 4]));
        LeadJob {
            lead: lead as i64,
            first: m.first_night(),
            next: 0,
            rows: VecDeque::with_capacity(lead + 3),
            cum,
            resid: VecDeque::with_capacity(WQ as usize + 1),
            beta: TARGET,
        }
    }

    pub fn lead(&self) -> usize {
        self.lead as usize
    }

    /// Whether the job still indexes nights as `m` does (a night earlier than the first one
    /// renumbers them: build the job again).
    pub fn fits(&self, m: &LeadMatrix) -> bool {
        self.first == m.first_night()
    }

    /// Forgets what an event dated `event_day` (counted in the matrix since) may have changed:
    /// the steps of the days after it, by starting again from the first night on the next ask.
    pub fn rewind(&mut self, event_day: Day) {
        let Some(first) = self.first else { return };
        // Step a reads events dated up to a − 1.
        if self.next > event_day - first + 1 {
            *self = LeadJob {
                first: self.first,
                ..Self::new(&LeadMatrix::default(), self.lead as usize)
            };
        }
    }

    fn row_at(&self, a: i64) -> LeadRow {
        let front = self.next - self.rows.len() as i64;
        if a < 0 {
            LeadRow::default()
        } else {
            self.rows[(a - front) as usize]
        }
    }

    /// The row in force on `as_of`; computes the steps up to it first.
    pub fn row(&mut self, m: &LeadMatrix, as_of: Day) -> LeadRow {
        if !self.fits(m) {
            *self = LeadJob::new(m, self.lead as usize);
        }
        let Some(first) = self.first else {
            return LeadRow::default();
        };
        let a = as_of - first;
        if a < 0 {
            return LeadRow::default();
        }
        if a < self.next - self.rows.len() as i64 {
            *self = LeadJob::new(m, self.lead as usize);
        }
        while self.next <= a {
            self.step(m);
        }
        self.row_at(a)
    }

    /// The forecast of `night` as of `night − lead` (the backtest's question; also any past
    /// as-of day for one lead).
    pub fn forecast(&mut self, m: &LeadMatrix, night: Day) -> NightForecast {
        let as_of = night - self.lead;
        let row = self.row(m, as_of);
        let i = m.index(night);
        let p = point(m, i, self.lead, &row, cap(m, i - self.lead));
        NightForecast::new(night, as_of, p)
    }

    fn step(&mut self, m: &LeadMatrix) {
        let a = self.next;
        let k = self.lead;
        if a >= 1 {
            // Night a − 1 ended yesterday: score its forecast made k days before it.
            let p = a - 1;
            let c = components(m, p, k);
            let y = f64::from(m.fin(p));
            let (mut err, mut cnt) = self.cum.back().copied().unwrap_or(([0.0; 4], [0; 4]));
            for (j, v) in c.c.iter().enumerate() {
                if let Some(v) = v {
                    err[j] += (v - y).abs();
                    cnt[j] += 1;
                }
            }
            self.cum.push_back((err, cnt));
            if self.cum.len() > T as usize + 1 {
                self.cum.pop_front();
            }
            let made = self.row_at(p - k);
            let r = combine(&made, &c).map(|f| y - f);
            self.resid.push_back(r);
            if self.resid.len() > WQ as usize {
                self.resid.pop_front();
            }
            if let (Some(r), Some((lo, hi))) = (r, made.band) {
                let miss = if lo <= r && r <= hi { 0.0 } else { 1.0 };
                self.beta = (self.beta + GAMMA * (TARGET - miss)).clamp(BETA_MIN, BETA_MAX);
            }
        }
        // cum holds entries a + 1 − len ..= a; the training window is nights [a − 56, a − 1].
        let front = a + 1 - self.cum.len() as i64;
        let (hi_err, hi_cnt) = self.cum[(a - front) as usize];
        let (lo_err, lo_cnt) = self.cum[((a - T).max(0) - front) as usize];
        let mut weights = [None; 4];
        for (j, w) in weights.iter_mut().enumerate() {
            let n = hi_cnt[j] - lo_cnt[j];
            if n >= MIN_ROWS {
                let e = ((hi_err[j] - lo_err[j]) / n as f64).max(MAE_FLOOR);
                *w = Some(1.0 / (e * e));
            }
        }
        let mut window: Vec<f64> = self.resid.iter().flatten().copied().collect();
        let beta = self.beta;
        let band = (window.len() >= QMIN).then(|| {
            sort(&mut window);
            (
                quantile_sorted(&window, beta / 2.0),
                quantile_sorted(&window, 1.0 - beta / 2.0),
            )
        });
        self.rows.push_back(LeadRow { weights, band });
        if self.rows.len() > self.lead as usize + 2 {
            self.rows.pop_front();
        }
        self.next += 1;
    }
}

/// A night's forecast as the endpoints answer it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NightForecast {
    pub night: Day,
    pub as_of: Day,
    pub lead: usize,
    pub on_the_books: i32,
    /// The expected final.
    pub expected: f64,
    /// `None` while the hotel has too short a history at this lead.
    pub p10: Option<f64>,
    pub p90: Option<f64>,
    pub pickup_expected: f64,
}

impl NightForecast {
    fn new(night: Day, as_of: Day, p: Point) -> Self {
        NightForecast {
            night,
            as_of,
            lead: (night - as_of).max(0) as usize,
            on_the_books: p.o,
            expected: p.f,
            p10: p.p10,
            p90: p.p90,
            pickup_expected: p.f - f64::from(p.o),
        }
    }
}

/// The model of one hotel as of one day: one row per lead and the capacity cap.
#[derive(Debug, Clone)]
pub struct DayModel {
    as_of: Day,
    cap: Option<i32>,
    rows: Vec<LeadRow>,
}

impl DayModel {
    /// Runs the lead jobs 0..=max_lead up to `as_of` (any day, past or today): about
    /// max_lead × (as_of − first night) steps. The caller bounds both (the forecast covers at
    /// most 732 nights, [`KCAP`](super::lead::KCAP)) and keeps the model for the day: it is valid until an event
    /// dated before `as_of` arrives (it reads nights by date, so a new first night is harmless).
    pub fn build(m: &LeadMatrix, as_of: Day, max_lead: usize) -> Self {
        let mut jobs: Vec<LeadJob> = (0..=max_lead).map(|k| LeadJob::new(m, k)).collect();
        Self::from_jobs(m, as_of, &mut jobs)
    }

    /// The model of `as_of` learned up to `learned` (≤ `as_of`): for a day after the hotel's
    /// events stop, when the nights in between, ending empty, teach nothing and would cost a
    /// step each. Its rows are those of `learned`, read at the leads from `as_of`.
    pub fn build_learned(m: &LeadMatrix, as_of: Day, learned: Day, max_lead: usize) -> Self {
        let mut model = Self::build(m, learned.min(as_of), max_lead);
        model.as_of = as_of;
        model
    }

    /// The rows of `as_of` from the caller's (cached) jobs, one per lead 0, 1, …
    pub fn from_jobs(m: &LeadMatrix, as_of: Day, jobs: &mut [LeadJob]) -> Self {
        let rows = jobs.iter_mut().map(|j| j.row(m, as_of)).collect();
        DayModel {
            as_of,
            cap: m.first_night().and_then(|f| cap(m, as_of - f)),
            rows,
        }
    }

    pub fn as_of(&self) -> Day {
        self.as_of
    }

    /// The longest lead it forecasts.
    pub fn max_lead(&self) -> usize {
        self.rows.len().saturating_sub(1)
    }

    /// The forecast of `night` as of the model's day, reading the live matrix (today's events
    /// count at once); `None` for a night before the as-of day or beyond the model's leads.
    pub fn forecast(&self, m: &LeadMatrix, night: Day) -> Option<NightForecast> {
        let k = night - self.as_of;
        let row = self.rows.get(usize::try_from(k).ok()?)?;
        let i = m.index(night);
        Some(NightForecast::new(
            night,
            self.as_of,
            point(m, i, k, row, self.cap),
        ))
    }
}
