//! Exactly once across partitions: the service's writers claim their events' ids in `event_ids`
//! before they write the rows, and route the rows to the partitions of their arrivals (migration
//! `partition_events_by_arrival`, docs/decisions/006-partition-by-arrival.md).

use std::ops::Range;

/// Claims every id of `$1` (int8[], ascending: concurrent claims then wait on each other in the
/// same order instead of deadlocking), or raises `unique_violation` when one is claimed already
/// or repeats; an id the legacy partition holds or retention retired is skipped, so fewer rows
/// than ids means the batch is not all new. The workers' COPY path: all or nothing.
pub const CLAIM_ALL: &str = "INSERT INTO event_ids (id) \
     SELECT u.id FROM unnest($1::int8[]) AS u(id) \
     WHERE NOT EXISTS (SELECT 1 FROM events_legacy l WHERE l.id = u.id) \
       AND NOT EXISTS (SELECT 1 FROM retired_event_ids r WHERE r.id = u.id)";

/// The careful path's statement: claims the ids of the batch bound as six column arrays (as
/// `BatchColumns::bind` binds them) that are new (not claimed, not in the legacy partition, not
/// retired), then stores those events, the first of an id that repeats, with one feed position.
/// Run after `IDS_CLAIMED` in the same transaction, so that the claim trigger on `events` leaves
/// them be. A concurrent claim of the same id waits for the other transaction and then skips it
/// (if that one committed) or takes it (if it rolled back): the id is stored once either way.
pub const CLAIM_AND_INSERT: &str = "WITH claimed AS ( \
         INSERT INTO event_ids (id) \
         SELECT DISTINCT u.id FROM unnest($1::int8[]) AS u(id) \
         WHERE NOT EXISTS (SELECT 1 FROM events_legacy l WHERE l.id = u.id) \
           AND NOT EXISTS (SELECT 1 FROM retired_event_ids r WHERE r.id = u.id) \
         ORDER BY u.id \
         ON CONFLICT (id) DO NOTHING \
         RETURNING id \
     ), p AS (SELECT roompulse_feed_position() AS tx_id) \
     INSERT INTO events (id, hotel_id, event_timestamp, status, room_reservation_id, night_of_stay, tx_id) \
     SELECT DISTINCT ON (u.id) u.id, u.hotel_id, u.event_timestamp, u.status, \
            u.room_reservation_id, u.night_of_stay, p.tx_id \
     FROM unnest($1, $2, $3, $4, $5, $6) WITH ORDINALITY \
          AS u(id, hotel_id, event_timestamp, status, room_reservation_id, night_of_stay, ord) \
     JOIN claimed c ON c.id = u.id CROSS JOIN p \
     ORDER BY u.id, u.ord";

/// Tells the claim trigger on `events` that this transaction's writes claimed their ids.
pub const IDS_CLAIMED: &str = "SET LOCAL roompulse.ids_claimed = 'on'";

/// `$1` (int8) arrival numbers, ascending.
pub const TAKE_ARRIVALS: &str = "SELECT array_agg(a ORDER BY a) \
     FROM (SELECT nextval('events_arrival_seq') AS a FROM generate_series(1, $1::int8)) s";

/// The partitions whose range ends above arrival `$1` (int8): their names and upper bounds, in
/// arrival order.
pub const PARTITIONS_FROM: &str = "SELECT partition_name, upper_arrival \
     FROM roompulse_event_partitions() WHERE upper_arrival > $1 ORDER BY upper_arrival";

/// Splits ascending `arrivals` into runs by partition: each partition's name with the range of
/// positions whose arrivals it takes. `partitions` holds (name, upper bound) in ascending order,
/// the first of them the partition of `arrivals[0]`; `None` when an arrival lies above them all.
pub fn route<'a>(
    arrivals: &[i64],
    partitions: &'a [(String, i64)],
) -> Option<Vec<(&'a str, Range<usize>)>> {
    let mut groups = Vec::new();
    let mut start = 0;
    let mut parts = partitions.iter();
    while start < arrivals.len() {
        let (name, upper) = parts.next()?;
        let end = start + arrivals[start..].partition_point(|&a| a < *upper);
        if end > start {
            groups.push((name.as_str(), start..end));
        }
        start = end;
    }
    Some(groups)
}

#[cfg(test)]
mod tests {
    use super::route;

    fn parts(bounds: &[(&str, i64)]) -> Vec<(String, i64)> {
        bounds.iter().map(|&(n, u)| (n.to_string(), u)).collect()
    }

    #[test]
    fn a_batch_across_a_partition_bound_is_split_there() {
        let p = parts(&[("a", 10), ("b", 20), ("c", 30)]);
        assert_eq!(
            route(&[7, 8, 9, 10, 15, 21], &p),
            Some(vec![("a", 0..3), ("b", 3..5), ("c", 5..6)])
        );
        assert_eq!(route(&[12, 19], &p[1..]), Some(vec![("b", 0..2)]));
    }

    #[test]
    fn arrivals_above_every_partition_are_refused() {
        let p = parts(&[("a", 10)]);
        assert_eq!(route(&[9, 10], &p), None);
        assert_eq!(route(&[], &p), Some(vec![]));
    }
}
