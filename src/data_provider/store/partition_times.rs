//! The partitions of `events` grouped by the event times they hold, for reads in
//! `(event_timestamp, id)` order that would otherwise descend every partition for every key.
//!
//! Partitions are by arrival (docs/decisions/006-partition-by-arrival.md). In live traffic
//! arrival follows time, so each partition holds its own stretch of times; an import of old
//! history spreads any times over any partition. Partitions whose stretches overlap (or touch)
//! form one group; the groups, in time order, hold disjoint stretches, so every row of a group
//! comes before every row of the next in the listing's order, and a page can be read group by
//! group, stopping when it is full.

use chrono::{DateTime, Utc};
use diesel::sql_types::{BigInt, Nullable, Timestamptz};
use diesel::QueryableByName;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

/// Partitions holding rows whose stretches of time overlap, with that stretch.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct TimeGroup {
    /// The partitions' ranges of arrivals.
    pub arrivals: Vec<Arrivals>,
    pub first: DateTime<Utc>,
    pub last: DateTime<Utc>,
}

/// A partition's range of arrivals: lower (inclusive; `None` from the lowest), upper (exclusive).
pub(super) type Arrivals = (Option<i64>, i64);

/// A partition holding rows: its first and last time, and its arrivals.
type Held = (DateTime<Utc>, DateTime<Utc>, Arrivals);

#[derive(QueryableByName)]
struct PartitionRow {
    #[diesel(sql_type = Nullable<BigInt>)]
    lower_arrival: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    upper_arrival: Option<i64>,
}

#[derive(QueryableByName)]
struct Stretch {
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    first: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    last: Option<DateTime<Utc>>,
}

/// The groups, in time order; partitions without rows are left out. Two descents of each
/// partition's time index, in the caller's snapshot.
pub(super) async fn time_groups(
    conn: &mut AsyncPgConnection,
) -> Result<Vec<TimeGroup>, diesel::result::Error> {
    let partitions: Vec<PartitionRow> =
        diesel::sql_query("SELECT lower_arrival, upper_arrival FROM roompulse_event_partitions()")
            .load(conn)
            .await?;
    let partitions: Vec<Arrivals> = partitions
        .into_iter()
        .filter_map(|p| Some((p.lower_arrival, p.upper_arrival?)))
        .collect();
    if partitions.is_empty() {
        return Ok(Vec::new());
    }
    // By the partition key rather than by name, so that a partition dropped meanwhile (by
    // retention) is simply empty; the bounds are integers from the catalog, written in so that
    // each pair of subqueries is planned on its one partition.
    let sql = partitions
        .iter()
        .enumerate()
        .map(|(n, (lower, upper))| {
            let range = arrival_range(*lower, *upper);
            format!(
                "SELECT {n}::int8 AS n, \
                        (SELECT min(e.event_timestamp) FROM events e WHERE {range}) AS first, \
                        (SELECT max(e.event_timestamp) FROM events e WHERE {range}) AS last"
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    let stretches: Vec<Stretch> = diesel::sql_query(sql).load(conn).await?;
    let mut held: Vec<Held> = stretches
        .into_iter()
        .filter_map(|s| {
            let arrivals = partitions.get(usize::try_from(s.n).ok()?)?;
            Some((s.first?, s.last?, *arrivals))
        })
        .collect();
    Ok(group(&mut held))
}

/// The rows of `events e` in a partition's range of arrivals, as SQL.
pub(super) fn arrival_range(lower: Option<i64>, upper: i64) -> String {
    match lower {
        Some(lower) => format!("(e.arrival >= {lower} AND e.arrival < {upper})"),
        None => format!("e.arrival < {upper}"),
    }
}

/// Sorts the partitions' stretches and joins those that overlap or touch (a shared time may
/// hold rows of both, in either order of ids).
fn group(held: &mut [Held]) -> Vec<TimeGroup> {
    held.sort_by_key(|(first, last, _)| (*first, *last));
    let mut groups: Vec<TimeGroup> = Vec::new();
    for &(first, last, arrivals) in held.iter() {
        match groups.last_mut() {
            Some(g) if first <= g.last => {
                g.last = g.last.max(last);
                g.arrivals.push(arrivals);
            }
            _ => groups.push(TimeGroup {
                arrivals: vec![arrivals],
                first,
                last,
            }),
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(minute: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + minute * 60, 0).unwrap()
    }

    #[test]
    fn overlapping_and_touching_stretches_share_a_group() {
        let mut held = vec![
            (t(20), t(30), (Some(3), 4)),
            (t(0), t(10), (None, 1)),
            (t(10), t(15), (Some(1), 2)),
            (t(16), t(40), (Some(2), 3)),
            (t(50), t(60), (Some(4), 5)),
        ];
        let groups = group(&mut held);
        assert_eq!(groups.len(), 3);
        assert_eq!(groups[0].arrivals, vec![(None, 1), (Some(1), 2)]);
        assert_eq!((groups[0].first, groups[0].last), (t(0), t(15)));
        assert_eq!(groups[1].arrivals, vec![(Some(2), 3), (Some(3), 4)]);
        assert_eq!((groups[1].first, groups[1].last), (t(16), t(40)));
        assert_eq!(groups[2].arrivals, vec![(Some(4), 5)]);
    }
}
