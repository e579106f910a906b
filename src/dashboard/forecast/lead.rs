//! The per-hotel lead matrix: `D[n][k] = otb(night n, as of n − k)`.
//!
//! Row n is the hotel's n-th night counted from its first night; column k holds what was on the
//! books k days before the night, so column 0 is the night's final and column [`KCAP`] holds
//! every event booked [`KCAP`] or more days ahead. Reading otb is one array read; an event adds
//! its ±1 to at most 733 cells of one row. The rare event booked [`KCAP`] or more days ahead is
//! also kept in a per-night list, so that otb stays exact at any lead.

use std::collections::BTreeMap;

use chrono::NaiveDate;

/// The last column: leads of 732 days and more (the forecast covers at most 732 nights).
pub const KCAP: usize = 732;
const WIDTH: usize = KCAP + 1;

/// A UTC date as a day number (days since 1970-01-01), so that leads are subtractions.
pub type Day = i64;

const EPOCH_FROM_CE: i64 = 719_163;

pub fn day(date: NaiveDate) -> Day {
    use chrono::Datelike;
    i64::from(date.num_days_from_ce()) - EPOCH_FROM_CE
}

/// The date of a day number; `None` outside chrono's range.
pub fn date(day: Day) -> Option<NaiveDate> {
    i32::try_from(day + EPOCH_FROM_CE)
        .ok()
        .and_then(NaiveDate::from_num_days_from_ce_opt)
}

/// Bookings minus cancellations of one night dated one event day: the aggregate the matrix is
/// built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetCount {
    pub night: Day,
    pub event_day: Day,
    pub net: i32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeadMatrix {
    /// The first night with an event dated on or before it (row 0); `None` while empty.
    first: Option<Day>,
    cells: Vec<i32>,
    /// Per row: (lead, net) of the events booked KCAP or more days ahead.
    far: BTreeMap<usize, Vec<(i64, i32)>>,
}

impl LeadMatrix {
    /// Builds the matrix in one pass over the counts plus one suffix sum per row. Counts dated
    /// after their night never count (a night's final is its otb on the night) and are dropped.
    pub fn from_counts(counts: &[NetCount]) -> Self {
        let counted = counts.iter().filter(|c| c.event_day <= c.night);
        let (Some(first), Some(last)) = (
            counted.clone().map(|c| c.night).min(),
            counted.clone().map(|c| c.night).max(),
        ) else {
            return Self::default();
        };
        let rows = usize::try_from(last - first + 1).unwrap_or(0);
        let mut m = LeadMatrix {
            first: Some(first),
            cells: vec![0; rows * WIDTH],
            far: BTreeMap::new(),
        };
        for c in counted {
            let row = (c.night - first) as usize;
            let lead = c.night - c.event_day;
            m.cells[row * WIDTH + (lead as usize).min(KCAP)] += c.net;
            if lead >= KCAP as i64 {
                m.far.entry(row).or_default().push((lead, c.net));
            }
        }
        for row in m.cells.chunks_exact_mut(WIDTH) {
            for k in (0..KCAP).rev() {
                row[k] += row[k + 1];
            }
        }
        m
    }

    /// Counts one more (night, event day, net): at most KCAP + 1 additions, except when the night
    /// lies before the first row, which moves every row (rare: a night earlier than any seen).
    pub fn apply(&mut self, night: Day, event_day: Day, net: i32) {
        if event_day > night || net == 0 {
            return;
        }
        let first = match self.first {
            None => {
                self.first = Some(night);
                night
            }
            Some(first) if night < first => {
                let shift = (first - night) as usize;
                let mut cells = vec![0; shift * WIDTH];
                cells.extend_from_slice(&self.cells);
                self.cells = cells;
                self.far = std::mem::take(&mut self.far)
                    .into_iter()
                    .map(|(r, v)| (r + shift, v))
                    .collect();
                self.first = Some(night);
                night
            }
            Some(first) => first,
        };
        let row = (night - first) as usize;
        if row >= self.nights() {
            self.cells.resize((row + 1) * WIDTH, 0);
        }
        let lead = night - event_day;
        let upto = (lead as usize).min(KCAP);
        for cell in &mut self.cells[row * WIDTH..=row * WIDTH + upto] {
            *cell += net;
        }
        if lead >= KCAP as i64 {
            self.far.entry(row).or_default().push((lead, net));
        }
    }

    pub fn first_night(&self) -> Option<Day> {
        self.first
    }

    /// Rows held: the first night to the last night with an event.
    pub fn nights(&self) -> usize {
        self.cells.len() / WIDTH
    }

    /// On the books of `night` as of `as_of`: the events for it dated on or before `as_of` (and
    /// on or before the night). Nights outside the matrix have nothing on the books.
    pub fn otb(&self, night: Day, as_of: Day) -> i32 {
        match self.first {
            Some(first) => self.at(night - first, night - as_of),
            None => 0,
        }
    }

    /// What the night ended with: its otb on the night itself.
    pub fn final_of(&self, night: Day) -> i32 {
        self.otb(night, night)
    }

    /// otb of row `i` at lead `k` (row indices may fall outside the matrix: nothing booked).
    #[inline]
    pub(crate) fn at(&self, i: i64, k: i64) -> i32 {
        if i < 0 || i as usize >= self.nights() {
            return 0;
        }
        let i = i as usize;
        let k = k.max(0);
        if k <= KCAP as i64 {
            return self.cells[i * WIDTH + k as usize];
        }
        let beyond = self.cells[i * WIDTH + KCAP];
        let nearer: i32 = self
            .far
            .get(&i)
            .map(|v| v.iter().filter(|(l, _)| *l < k).map(|(_, n)| n).sum())
            .unwrap_or(0);
        beyond - nearer
    }

    #[inline]
    pub(crate) fn fin(&self, i: i64) -> i32 {
        self.at(i, 0)
    }

    /// Row index of a night (negative before the first night).
    pub(crate) fn index(&self, night: Day) -> i64 {
        night - self.first.unwrap_or(night)
    }
}
