//! numpy's default quantile (linear interpolation between order statistics), reproduced to the
//! last bit, since the bands and alert ranges are checked against the Python study.

/// Quantile `p` of `sorted` (ascending, non-empty).
pub(crate) fn quantile_sorted(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len();
    let h = (n as f64 - 1.0) * p;
    if h >= n as f64 - 1.0 {
        return sorted[n - 1];
    }
    if h < 0.0 {
        return sorted[0];
    }
    let lo = h.floor();
    let t = h - lo;
    let lo = lo as usize;
    let (a, b) = (sorted[lo], sorted[lo + 1]);
    let d = b - a;
    // numpy's _lerp: from the nearer end, so that t = 1 gives b exactly.
    if t >= 0.5 {
        b - d * (1.0 - t)
    } else {
        a + d * t
    }
}

pub(crate) fn sort(xs: &mut [f64]) {
    xs.sort_by(|a, b| a.total_cmp(b));
}
