//! An independent oracle for the forecast module: hand-made hotels whose figures are worked out
//! by hand below, brute force from the event list, and the no-look-ahead rule.

use proptest::prelude::*;

use super::accuracy::accuracy;
use super::alerts::{alerts, AlertRanges, Check};
use super::baselines::{baselines, Baselines};
use super::lead::{day, Day, LeadMatrix, NetCount};
use super::model::{DayModel, LeadJob, NightForecast};
use super::quantile::quantile_sorted;

/// (night, event day, ±1)
type Event = (Day, Day, i32);

fn matrix(events: &[Event]) -> LeadMatrix {
    let counts: Vec<NetCount> = events
        .iter()
        .map(|&(night, event_day, net)| NetCount {
            night,
            event_day,
            net,
        })
        .collect();
    LeadMatrix::from_counts(&counts)
}

/// otb straight from the definition.
fn direct_otb(events: &[Event], night: Day, as_of: Day) -> i32 {
    events
        .iter()
        .filter(|e| e.0 == night && e.1 <= as_of && e.1 <= night)
        .map(|e| e.2)
        .sum()
}

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

const START: Day = 20_000;

/// A generated hotel: busier at weekends, leads mostly under 90 days, a few bookings more than
/// 732 days ahead, 30 % of the bookings cancelled later.
fn hotel(seed: u64, nights: i64) -> Vec<Event> {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut ev = Vec::new();
    for n in 0..nights {
        let night = START + n;
        let rooms = 15 + if n % 7 >= 5 { 8 } else { 0 } + rng.below(6);
        for _ in 0..rooms {
            let lead = if rng.below(60) == 0 {
                700 + rng.below(100)
            } else {
                rng.below(90)
            } as i64;
            ev.push((night, night - lead, 1));
            if rng.below(10) < 3 {
                ev.push((night, night - lead + rng.below(lead as u64 + 1) as i64, -1));
            }
        }
    }
    ev
}

#[test]
fn quantile_is_numpys_linear() {
    let xs = [1.0, 2.0, 3.0, 4.0];
    // h = (n − 1) p: 0.3 → 1.3; 2.7 → 3.7; p = 1 → the last
    assert!((quantile_sorted(&xs, 0.1) - 1.3).abs() < 1e-12);
    assert!((quantile_sorted(&xs, 0.9) - 3.7).abs() < 1e-12);
    assert_eq!(quantile_sorted(&xs, 1.0), 4.0);
    assert_eq!(quantile_sorted(&xs, 0.0), 1.0);
    assert_eq!(quantile_sorted(&[5.0], 0.3), 5.0);
}

#[test]
fn hand_made_hotel_otb_and_final() {
    let n = START + 100;
    // Two bookings, a cancellation, a same-day booking, one booked 800 days ahead and one event
    // dated after the night (never counted).
    let ev = [
        (n, n - 10, 1),
        (n, n - 5, 1),
        (n, n - 2, -1),
        (n, n, 1),
        (n, n - 800, 1),
        (n, n + 1, 1),
        // Booked exactly 732 days ahead (the last column's first lead), then cancelled.
        (n, n - 732, 1),
        (n, n - 700, -1),
    ];
    let m = matrix(&ev);
    assert_eq!(m.first_night(), Some(n));
    assert_eq!(m.otb(n, n - 801), 0);
    assert_eq!(m.otb(n, n - 800), 1);
    assert_eq!(m.otb(n, n - 733), 1);
    assert_eq!(m.otb(n, n - 732), 2);
    assert_eq!(m.otb(n, n - 700), 1);
    assert_eq!(m.otb(n, n - 11), 1);
    assert_eq!(m.otb(n, n - 10), 2);
    assert_eq!(m.otb(n, n - 5), 3);
    assert_eq!(m.otb(n, n - 2), 2);
    assert_eq!(m.otb(n, n - 1), 2);
    assert_eq!(m.final_of(n), 3);
    assert_eq!(m.otb(n, n + 5), 3);
    assert_eq!(m.otb(n - 1, n - 3), 0);
    assert_eq!(m.otb(n + 1, n - 3), 0);
}

/// Nights 100, 107, 114 end with 10, 12, 8 having had 4, 6, 8 on the books 7 days before;
/// night 121 has 5 on the books 7 days out; night 464 (= 100 + 364) has 3 on the books 30 days out.
fn hand_hotel() -> Vec<Event> {
    let mut ev = Vec::new();
    let mut night = |n: Day, early: i32, late: i32| {
        for _ in 0..early {
            ev.push((START + n, START + n - 10, 1));
        }
        for _ in 0..late {
            ev.push((START + n, START + n - 3, 1));
        }
    };
    night(100, 4, 6);
    night(107, 6, 6);
    night(114, 8, 0);
    night(121, 5, 2);
    for _ in 0..3 {
        ev.push((START + 464, START + 420, 1));
    }
    ev
}

#[test]
fn hand_made_hotel_baselines() {
    let m = matrix(&hand_hotel());
    let b = baselines(&m, START + 121, START + 114);
    // refs 114, 107, 100 (114 = as-of day itself: lead 7 is a multiple of 7)
    // additive: 5 + mean(12 − 6, 6 − 6... ) = 5 + mean(10−4, 12−6, 8−8) = 5 + 4
    assert_eq!(b.additive_pickup, Some(9.0));
    // multiplicative: 5 × mean(10/4, 12/6, 8/8) = 5 × 5.5/3
    assert!((b.multiplicative_pickup - 5.0 * 5.5 / 3.0).abs() < 1e-12);
    assert_eq!((b.stly_final, b.stly_pickup), (None, None));
    // lead 8: the refs move one week back (107, 100): 7 on the books, pickups 10 − 4, 12 − 6
    let b = baselines(&m, START + 121, START + 113);
    assert_eq!(b.additive_pickup, Some(5.0 + 6.0));
    // Night 464 at lead 30: last year's night 100 ended with 10 and had 0 on the books at lead 30.
    let b = baselines(&m, START + 464, START + 434);
    assert_eq!(b.stly_final, Some(10.0));
    assert_eq!(b.stly_pickup, Some(3.0 + 10.0 - 0.0));
    // At lead 365 last year's night has not ended yet on the as-of day: absent.
    let b = baselines(&m, START + 464, START + 464 - 365);
    assert_eq!((b.stly_final, b.stly_pickup), (None, None));
    // No reference night before the first one: additive absent, multiplicative = otb.
    let b = baselines(&m, START + 100, START + 95);
    assert_eq!(
        b,
        Baselines {
            stly_final: None,
            stly_pickup: None,
            additive_pickup: None,
            multiplicative_pickup: 4.0
        }
    );
}

#[test]
fn hand_made_hotel_forecast_without_history_is_additive_pickup_under_the_cap() {
    let m = matrix(&hand_hotel());
    // As of 114 no component has 14 training nights: the forecast is additive pickup (9), under
    // the cap (the most sold on one night so far: 12), with no band.
    let f = LeadJob::new(&m, 7).forecast(&m, START + 121);
    assert_eq!((f.expected, f.p10, f.p90), (9.0, None, None));
    assert_eq!((f.on_the_books, f.pickup_expected), (5, 4.0));
    // The same with a cap that binds: 10 more booked for night 121 on day 114 make 15 on the
    // books and additive pickup 15 + 4 = 19, but no night has sold more than 12 yet, and 15 are
    // on the books: 15.
    let mut ev = hand_hotel();
    for _ in 0..10 {
        ev.push((START + 121, START + 114, 1));
    }
    let m = matrix(&ev);
    let f = LeadJob::new(&m, 7).forecast(&m, START + 121);
    assert_eq!(f.expected, 15.0);
}

#[test]
fn a_hotel_that_always_ends_alike_is_forecast_exactly_with_a_zero_width_band() {
    // Every night: 4 booked 20 days out, 6 more 5 days out; so every component is exact.
    let mut ev = Vec::new();
    for n in 0..500 {
        for _ in 0..4 {
            ev.push((START + n, START + n - 20, 1));
        }
        for _ in 0..6 {
            ev.push((START + n, START + n - 5, 1));
        }
    }
    let m = matrix(&ev);
    let as_of = START + 450;
    let model = DayModel::build(&m, as_of, 30);
    for (lead, otb) in [
        (0, 10),
        (4, 10),
        (5, 10),
        (10, 4),
        (20, 4),
        (21, 0),
        (30, 0),
    ] {
        let f = model
            .forecast(&m, as_of + lead)
            .expect("within the model's leads");
        assert_eq!(f.on_the_books, otb, "lead {lead}");
        assert_eq!(f.expected, 10.0, "lead {lead}");
        assert_eq!((f.p10, f.p90), (Some(10.0), Some(10.0)), "lead {lead}");
        assert_eq!(f.pickup_expected, 10.0 - f64::from(otb));
    }
    assert_eq!(model.forecast(&m, as_of + 31), None);
    assert_eq!(model.forecast(&m, as_of - 1), None);
    let acc = &accuracy(&m, START + 400, START + 449, &[10])[0];
    assert_eq!((acc.method.wape, acc.coverage), (Some(0.0), Some(1.0)));
}

/// The baselines written again from the definitions, with dates and the event list.
fn naive_baselines(ev: &[Event], first: Day, n: Day, a: Day) -> Baselines {
    let otb = |n, a| f64::from(direct_otb(ev, n, a));
    let fin = |n| otb(n, n);
    let k = n - a;
    let ly = n - 364;
    let (stly_final, stly_pickup) = if ly < first || ly > a {
        (None, None)
    } else {
        (Some(fin(ly)), Some(otb(n, a) + fin(ly) - otb(ly, a - 364)))
    };
    let mut refs = Vec::new();
    for j in 1..=60 {
        let m = n - 7 * j;
        if m > a {
            continue;
        }
        if m < first || refs.len() == 8 {
            break;
        }
        refs.push(m);
    }
    let additive_pickup = (!refs.is_empty()).then(|| {
        otb(n, a) + refs.iter().map(|&m| fin(m) - otb(m, m - k)).sum::<f64>() / refs.len() as f64
    });
    let ratios: Vec<f64> = refs
        .iter()
        .filter(|&&m| otb(m, m - k) > 0.0)
        .map(|&m| fin(m) / otb(m, m - k))
        .collect();
    let multiplicative_pickup = if ratios.is_empty() {
        otb(n, a)
    } else {
        otb(n, a) * ratios.iter().sum::<f64>() / ratios.len() as f64
    };
    Baselines {
        stly_final,
        stly_pickup,
        additive_pickup,
        multiplicative_pickup,
    }
}

#[test]
fn baselines_equal_the_definitions_on_a_generated_hotel() {
    let ev = hotel(3, 560);
    let m = matrix(&ev);
    let first = m.first_night().unwrap();
    let mut rng = Rng(99);
    for _ in 0..150 {
        let n = START + rng.below(560) as i64;
        let k = rng.below(430) as i64;
        let (got, want) = (
            baselines(&m, n, n - k),
            naive_baselines(&ev, first, n, n - k),
        );
        let same = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => (a - b).abs() < 1e-9,
            (a, b) => a == b,
        };
        assert!(same(got.stly_final, want.stly_final), "{n} {k}");
        assert!(same(got.stly_pickup, want.stly_pickup), "{n} {k}");
        assert!(same(got.additive_pickup, want.additive_pickup), "{n} {k}");
        assert!(
            same(
                Some(got.multiplicative_pickup),
                Some(want.multiplicative_pickup)
            ),
            "{n} {k}"
        );
    }
}

fn event() -> impl Strategy<Value = Event> {
    (0i64..40, -3i64..820, prop::bool::weighted(0.7)).prop_map(|(night, lead, booking)| {
        (
            START + night,
            START + night - lead,
            if booking { 1 } else { -1 },
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// The lead matrix, built at once or one event at a time in any order, equals a direct count
    /// of the events at every lead, including those beyond the last column.
    #[test]
    fn lead_matrix_equals_a_direct_count(events in prop::collection::vec(event(), 1..150)) {
        let bulk = matrix(&events);
        let mut one_by_one = LeadMatrix::default();
        for &(night, event_day, net) in events.iter().rev() {
            one_by_one.apply(night, event_day, net);
        }
        let leads: Vec<i64> = (-2..12).chain([29, 100, 731, 732, 733, 734, 760, 801, 818, 819, 900]).collect();
        for n in START - 2..START + 42 {
            for &k in &leads {
                let want = direct_otb(&events, n, n - k);
                prop_assert_eq!(bulk.otb(n, n - k), want, "night {} lead {}", n, k);
                prop_assert_eq!(one_by_one.otb(n, n - k), want, "night {} lead {}", n, k);
            }
        }
        prop_assert_eq!(bulk.first_night(), one_by_one.first_night());
    }
}

/// Every answer the module gives as of `as_of`: the day model (each lead's weights and band,
/// the cap), forecasts, bands, baselines, alert ranges and alerts for the next 45 nights, and a
/// backtest of the nights that ended before it.
fn everything_as_of(m: &LeadMatrix, as_of: Day) -> (Vec<NightForecast>, Vec<Baselines>, String) {
    let model = DayModel::build(m, as_of, 45);
    let nights = as_of..=as_of + 45;
    let forecasts = nights
        .clone()
        .filter_map(|n| model.forecast(m, n))
        .collect();
    let base = nights.map(|n| baselines(m, n, as_of)).collect();
    let ranges = AlertRanges::build(m, as_of, 45, 0.01);
    let list = alerts(m, &ranges, false);
    let acc = accuracy(m, as_of - 30, as_of - 1, &[0, 7, 30]);
    // Debug output compares every float bit for bit (as {:?} prints them exactly).
    (
        forecasts,
        base,
        format!("{model:?}{ranges:?}{list:?}{acc:?}"),
    )
}

#[test]
fn events_dated_after_the_as_of_day_change_nothing_as_of_that_day() {
    for seed in [1, 2] {
        let ev = hotel(seed, 470);
        let m = matrix(&ev);
        let as_of = START + 430;
        let before = everything_as_of(&m, as_of);
        assert!(
            before.0.iter().filter(|f| f.p10.is_some()).count() > 40,
            "the hotel is long enough for bands"
        );
        // Later events: bookings and cancellations for nights in the horizon, a night beyond the
        // matrix, one booked more than 732 days ahead.
        let mut rng = Rng(seed + 10);
        let mut later = ev.clone();
        let mut applied = m.clone();
        for i in 0..300 {
            let event_day = as_of + 1 + rng.below(60) as i64;
            let night = event_day + rng.below(if i % 50 == 0 { 900 } else { 40 }) as i64;
            let net = if rng.below(3) == 0 { -1 } else { 1 };
            later.push((night, event_day, net));
            applied.apply(night, event_day, net);
        }
        // The next night ends far above any before it; and a night 100 days out gets a burst.
        for (night, event_day, net) in [(as_of + 1, as_of + 1, 60), (as_of + 100, as_of + 1, 30)] {
            later.push((night, event_day, net));
            applied.apply(night, event_day, net);
        }
        let rebuilt = matrix(&later);
        assert_eq!(rebuilt.final_of(as_of + 100), m.final_of(as_of + 100) + 30);
        assert_eq!(
            everything_as_of(&rebuilt, as_of),
            before,
            "seed {seed} rebuilt"
        );
        assert_eq!(
            everything_as_of(&applied, as_of),
            before,
            "seed {seed} applied"
        );
        // An event dated the as-of day itself does change that day's forecast.
        applied.apply(as_of + 10, as_of, 5);
        assert_ne!(everything_as_of(&applied, as_of).0, before.0);
    }
}

#[test]
fn a_lead_job_rewound_after_a_back_dated_event_equals_a_fresh_one() {
    let mut m = matrix(&hotel(5, 400));
    let mut job = LeadJob::new(&m, 14);
    let day_ = START + 390;
    let _ = job.row(&m, day_);
    m.apply(START + 370, START + 350, 7);
    job.rewind(START + 350);
    assert!(job.fits(&m));
    // Ascending, then a day before those the job keeps (it runs again from the first night).
    for d in [
        START + 340,
        START + 351,
        START + 360,
        day_,
        START + 300,
        START + 301,
    ] {
        assert_eq!(job.row(&m, d), LeadJob::new(&m, 14).row(&m, d), "as of {d}");
    }
    // A night before the first renumbers the nights: the job notices and starts again.
    m.apply(START - 3, START - 20, 1);
    assert!(!job.fits(&m));
    assert_eq!(
        job.row(&m, day_ + 5),
        LeadJob::new(&m, 14).row(&m, day_ + 5),
        "after a night before the first"
    );
    assert_ne!(
        LeadJob::new(&m, 14).row(&m, START + 390),
        LeadJob::new(&m, 14).row(&m, START + 380),
        "the rows compared differ from day to day"
    );
}

#[test]
fn a_burst_of_30_bookings_40_days_out_tops_the_alerts() {
    let mut m = matrix(&hotel(7, 420));
    let as_of = START + 330;
    let ranges = AlertRanges::build(&m, as_of, 90, 0.01);
    let quiet = alerts(&m, &ranges, false);
    assert!(quiet.iter().all(|a| a.night != as_of + 40 || a.score < 5.0));
    m.apply(as_of + 40, as_of, 30);
    let list = alerts(&m, &ranges, false);
    let top = &list[0];
    assert_eq!((top.night, top.lead), (as_of + 40, 40));
    let checks: Vec<Check> = top.surprises.iter().map(|s| s.check).collect();
    assert!(checks.contains(&Check::Pickup1d) && checks.contains(&Check::OnTheBooks));
    let pu1 = top
        .surprises
        .iter()
        .find(|s| s.check == Check::Pickup1d)
        .unwrap();
    let n = as_of + 40;
    assert_eq!(pu1.value, f64::from(m.otb(n, as_of) - m.otb(n, as_of - 1)));
    assert!(pu1.value >= 25.0 && pu1.value > pu1.range.q99);
}

#[test]
fn day_numbers_are_utc_dates() {
    let d = chrono::NaiveDate::from_ymd_opt(2016, 8, 1).unwrap();
    assert_eq!(day(chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()), 0);
    assert_eq!(super::lead::date(day(d)), Some(d));
}

#[test]
fn while_the_day_is_not_over_a_low_one_day_pickup_is_not_a_surprise() {
    let mut m = matrix(&hotel(11, 420));
    let as_of = START + 330;
    let ranges = AlertRanges::build(&m, as_of, 90, 0.01);
    m.apply(as_of + 10, as_of, -12);
    let low_pickup = |list: &[super::alerts::Alert]| {
        list.iter().any(|a| {
            a.surprises
                .iter()
                .any(|s| s.check == Check::Pickup1d && s.value < s.range.q01)
        })
    };
    assert!(low_pickup(&alerts(&m, &ranges, false)));
    assert!(!low_pickup(&alerts(&m, &ranges, true)));
}

/// The method written again from `docs/forecast-research.md` §3 as plain loops over dates (as
/// `research/forecast/reference.py` is): the forecast, p10 and p90 of every night at lead k;
/// `None` where the study has no forecast.
// Written as the report states it (l ≤ a − 1, a loop over the components), not as clippy prefers.
#[allow(
    clippy::type_complexity,
    clippy::int_plus_one,
    clippy::needless_range_loop
)]
fn naive_lead_series(
    m: &LeadMatrix,
    nights: i64,
    k: i64,
) -> Vec<(Option<f64>, Option<f64>, Option<f64>)> {
    let first = m.first_night().unwrap();
    let otb = |n: i64, a: i64| f64::from(m.otb(first + n, first + a));
    let fin = |n: i64| otb(n, n);
    let comps = |n: i64| -> [Option<f64>; 4] {
        let a = n - k;
        let o = otb(n, a);
        let j0 = 1.max((k + 6) / 7);
        let refs: Vec<i64> = (j0..j0 + 8)
            .filter(|&j| j <= 60 && n - 7 * j >= 0)
            .map(|j| n - 7 * j)
            .collect();
        let ly: Vec<i64> = (-2..=2)
            .map(|t| n - 364 + 7 * t)
            .filter(|&l| l >= 0 && l <= a - 1)
            .collect();
        let mean = |xs: &[i64], f: &dyn Fn(i64) -> f64| {
            (!xs.is_empty()).then(|| xs.iter().map(|&x| f(x)).sum::<f64>() / xs.len() as f64)
        };
        let (rf, ro) = (mean(&refs, &fin), mean(&refs, &|r| otb(r, r - k)));
        let (sf, so) = (mean(&ly, &fin), mean(&ly, &|l| otb(l, l - k)));
        [
            rf.zip(ro).map(|(f, o_)| o + f - o_),
            sf.zip(so).map(|(f, o_)| o + f - o_),
            sf,
            rf,
        ]
    };
    let c: Vec<[Option<f64>; 4]> = (0..nights).map(comps).collect();
    let mut f = vec![None; nights as usize];
    for n in 0..nights {
        let a = n - k;
        let (mut num, mut den) = (0.0, 0.0);
        for ci in 0..4 {
            let Some(v) = c[n as usize][ci] else { continue };
            let (mut err, mut cnt) = (0.0, 0);
            for t in (a - 56).max(0)..a.max(0) {
                if let Some(x) = c[t as usize][ci] {
                    err += (x - fin(t)).abs();
                    cnt += 1;
                }
            }
            if cnt >= 14 {
                let w = 1.0 / f64::max(err / cnt as f64, 0.5).powi(2);
                num += w * v;
                den += w;
            }
        }
        f[n as usize] = if den > 0.0 {
            Some(num / den)
        } else {
            c[n as usize][0]
        };
    }
    let mut band: Vec<Option<(f64, f64)>> = vec![None; nights as usize];
    let mut beta: f64 = 0.2;
    for d in -k..nights {
        if d >= 1 {
            if let (Some((lo, hi)), Some(fd)) = (band[(d - 1) as usize], f[(d - 1) as usize]) {
                let r = fin(d - 1) - fd;
                let miss = if lo <= r && r <= hi { 0.0 } else { 1.0 };
                beta = (beta + 0.005 * (0.2 - miss)).clamp(0.01, 0.9);
            }
        }
        let n = d + k;
        if n < 0 || n >= nights || f[n as usize].is_none() {
            continue;
        }
        let mut win: Vec<f64> = ((d - 91).max(0)..d.max(0))
            .filter_map(|t| f[t as usize].map(|ft| fin(t) - ft))
            .collect();
        if win.len() >= 28 {
            win.sort_by(|a, b| a.total_cmp(b));
            band[n as usize] = Some((
                quantile_sorted(&win, beta / 2.0),
                quantile_sorted(&win, 1.0 - beta / 2.0),
            ));
        }
    }
    (0..nights)
        .map(|n| {
            let Some(raw) = f[n as usize] else {
                return (None, None, None);
            };
            let a = n - k;
            let (mut p10, p90) = match band[n as usize] {
                Some((lo, hi)) => (Some(f64::max(raw + lo, 0.0)), Some(raw + hi)),
                None => (None, None),
            };
            let mut out = raw;
            if a >= 1 {
                let cap = ((a - 364).max(0)..a).map(fin).fold(f64::MIN, f64::max);
                out = out.min(cap.max(otb(n, a)));
            }
            p10 = p10.map(|p| p.min(out));
            (Some(out), p10, p90)
        })
        .collect()
}

#[test]
fn the_method_equals_a_plain_loop_twin_on_generated_hotels() {
    for (seed, nights) in [(21, 430), (22, 200)] {
        let m = matrix(&hotel(seed, nights));
        let first = m.first_night().unwrap();
        for k in [0, 3, 7, 20, 45] {
            let want = naive_lead_series(&m, nights, k);
            let mut job = LeadJob::new(&m, k as usize);
            let mut banded = 0;
            for (n, (f, p10, p90)) in want.into_iter().enumerate() {
                let got = job.forecast(&m, first + n as i64);
                let what = format!("seed {seed} lead {k} night {n}");
                match f {
                    Some(f) => assert!((got.expected - f).abs() < 1e-9, "{what}"),
                    None => assert_eq!(got.expected, f64::from(got.on_the_books), "{what}"),
                }
                for (g, w) in [(got.p10, p10), (got.p90, p90)] {
                    match (g, w) {
                        (Some(g), Some(w)) => assert!((g - w).abs() < 1e-9, "{what}"),
                        (g, w) => assert_eq!(g, w, "{what}"),
                    }
                }
                banded += usize::from(p10.is_some());
            }
            assert!(banded > 50, "seed {seed} lead {k}: bands compared");
        }
    }
}
