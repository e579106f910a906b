//! The pace figures as pure functions of what the night book holds.

use chrono::{NaiveDate, TimeDelta};

use super::{
    CurvePoint, CurveQuery, LeadTimeBucket, PaceNight, PaceQuery, Pickup, Stly, STLY_DAYS,
};
use crate::dashboard::book::{LeadDays, NightDay, NightPace};
use crate::error::ApiError;

/// The lead-time buckets, in answer order: name, least and most days before arrival.
const BUCKETS: [(&str, Option<i32>, Option<i32>); 12] = [
    ("after", None, Some(-1)),
    ("0", Some(0), Some(0)),
    ("1", Some(1), Some(1)),
    ("2-3", Some(2), Some(3)),
    ("4-7", Some(4), Some(7)),
    ("8-14", Some(8), Some(14)),
    ("15-30", Some(15), Some(30)),
    ("31-60", Some(31), Some(60)),
    ("61-90", Some(61), Some(90)),
    ("91-180", Some(91), Some(180)),
    ("181-365", Some(181), Some(365)),
    ("366+", Some(366), None),
];

/// `date` moved by `days`; `None` only beyond chrono's range, which the accepted dates and the
/// shifts used here never reach.
pub(super) fn shift(date: NaiveDate, days: i64) -> Option<NaiveDate> {
    date.checked_add_signed(TimeDelta::try_days(days)?)
}

pub(super) fn year_before(date: NaiveDate) -> Result<NaiveDate, ApiError> {
    shift(date, -STLY_DAYS).ok_or_else(|| ApiError::Internal(format!("{date} − 364 days")))
}

/// Every night of `q`, with the stored figures of `nights` and of `last_year` (each sorted by
/// night, within its range) and zeros elsewhere.
pub fn pace_nights(
    q: &PaceQuery,
    nights: &[NightPace],
    last_year: &[NightPace],
) -> Result<Vec<PaceNight>, ApiError> {
    let stly_as_of = year_before(q.as_of)?;
    let mut stored = nights.iter().peekable();
    let mut stored_last_year = last_year.iter().peekable();
    let mut out = Vec::new();
    let mut night = q.from;
    while night <= q.to {
        let stly_night = year_before(night)?;
        let now = stored.next_if(|n| n.night == night);
        let then = stored_last_year.next_if(|n| n.night == stly_night);
        let pickup = q
            .windows
            .iter()
            .enumerate()
            .map(|(i, &days)| {
                let c = now
                    .and_then(|n| n.pickup.get(i))
                    .copied()
                    .unwrap_or_default();
                Pickup {
                    days,
                    bookings: c.bookings,
                    cancellations: c.cancellations,
                    net: c.bookings - c.cancellations,
                }
            })
            .collect();
        out.push(PaceNight {
            hotel_id: q.hotel_id,
            night,
            as_of: q.as_of,
            on_the_books: now.map_or(0, |n| n.on_the_books),
            pickup,
            stly: Stly {
                night: stly_night,
                as_of: stly_as_of,
                on_the_books: then.map_or(0, |n| n.on_the_books),
            },
        });
        night = shift(night, 1).ok_or_else(|| ApiError::Internal(format!("{night} + 1 day")))?;
    }
    Ok(out)
}

/// The curve of `q`, from `history`: the on the books of the night and of the night a year
/// earlier as of event days up to each as-of day, sorted by night and day.
pub fn curve(q: &CurveQuery, history: &[NightDay]) -> Result<Vec<CurvePoint>, ApiError> {
    let as_ofs = (0..=q.days)
        .rev()
        .map(|k| shift(q.night, -k))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| ApiError::Internal(format!("{} − {} days", q.night, q.days)))?;
    let a_year_before = as_ofs
        .iter()
        .map(|&d| year_before(d))
        .collect::<Result<Vec<_>, _>>()?;
    let now = running_sums(history, q.night, &as_ofs);
    let then = running_sums(history, year_before(q.night)?, &a_year_before);
    Ok(as_ofs
        .iter()
        .zip(now.into_iter().zip(then))
        .zip((0..=q.days).rev())
        .map(|((&as_of, (on_the_books, stly)), days_before)| CurvePoint {
            days_before,
            as_of,
            on_the_books,
            stly_on_the_books: stly,
        })
        .collect())
}

/// On the books of `night` as of each of `as_ofs` (ascending): that of its last event day up to
/// each, in one walk.
fn running_sums(history: &[NightDay], night: NaiveDate, as_ofs: &[NaiveDate]) -> Vec<i64> {
    let mut days = history.iter().filter(|h| h.night == night).peekable();
    let mut total = 0;
    as_ofs
        .iter()
        .map(|&as_of| {
            while let Some(h) = days.next_if(|h| h.event_day <= as_of) {
                total = h.on_the_books;
            }
            total
        })
        .collect()
}

/// The twelve buckets, summed from `days` (per days before arrival).
pub fn lead_time(days: &[LeadDays]) -> Vec<LeadTimeBucket> {
    BUCKETS
        .iter()
        .map(|&(bucket, min_days, max_days)| {
            let inside =
                |d: i32| min_days.is_none_or(|lo| d >= lo) && max_days.is_none_or(|hi| d <= hi);
            let (bookings, cancellations) = days
                .iter()
                .filter(|d| inside(d.days_before))
                .fold((0, 0), |(b, c), d| (b + d.bookings, c + d.cancellations));
            LeadTimeBucket {
                bucket,
                min_days,
                max_days,
                bookings,
                cancellations,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn lead_time_buckets_cover_every_day_once_in_order() {
        let days: Vec<LeadDays> = (-400..=400)
            .map(|days_before| LeadDays {
                days_before,
                bookings: 1,
                cancellations: 2,
            })
            .collect();
        let buckets = lead_time(&days);
        let names: Vec<&str> = buckets.iter().map(|b| b.bucket).collect();
        assert_eq!(
            names,
            [
                "after", "0", "1", "2-3", "4-7", "8-14", "15-30", "31-60", "61-90", "91-180",
                "181-365", "366+"
            ]
        );
        let counts: Vec<i64> = buckets.iter().map(|b| b.bookings).collect();
        assert_eq!(counts, [400, 1, 1, 2, 4, 7, 16, 30, 30, 90, 185, 35]);
        assert_eq!(
            buckets.iter().map(|b| b.cancellations).sum::<i64>(),
            2 * 801
        );
        assert!(lead_time(&[])
            .iter()
            .all(|b| b.bookings == 0 && b.cancellations == 0));
    }

    #[test]
    fn the_curve_sums_up_to_each_day_on_both_nights() {
        let q = CurveQuery {
            hotel_id: 7,
            night: d("2024-03-01"),
            days: 3,
        };
        let h = |night: &str, day: &str, on_the_books| NightDay {
            night: d(night),
            event_day: d(day),
            on_the_books,
        };
        // Running totals: the first row of each night is what it starts from.
        let history = [
            h("2023-03-03", "2023-02-01", 2),
            h("2023-03-03", "2023-03-01", 3),
            h("2024-03-01", "2024-02-27", 5),
            h("2024-03-01", "2024-02-29", 4),
        ];
        let points = curve(&q, &history).unwrap();
        let got: Vec<_> = points
            .iter()
            .map(|p| (p.days_before, p.as_of, p.on_the_books, p.stly_on_the_books))
            .collect();
        assert_eq!(
            got,
            [
                (3, d("2024-02-27"), 5, 2),
                // 364 days before 2024-02-28 is 2023-03-01: a leap day lies between.
                (2, d("2024-02-28"), 5, 3),
                (1, d("2024-02-29"), 4, 3),
                (0, d("2024-03-01"), 4, 3),
            ]
        );
    }
}
