#!/usr/bin/env bash
# What one more index on the events partitions costs at ingest: COPY of the same ROWS events
# (taken from DB, a filled database such as scripts/filters-scratch.sh builds, in its stored
# order) into an empty table shaped and indexed like a partition of `events` (its primary key
# and every index of the partitioned table), alternately without and with the index INDEX of
# `events`, ROUNDS pairs; prints each pair's times and ratio. The partition is what ingest
# writes to: its indexes are the ones a row pays for.
# Usage: [ROUNDS=3] [ROWS=1000000] scripts/partition-index-cost.sh DB INDEX
#   e.g. scripts/partition-index-cost.sh roompulse_scratch_filters events_hotel_night_timestamp_id
set -euo pipefail
DB=$1
INDEX=$2
ROUNDS=${ROUNDS:-3}
ROWS=${ROWS:-1000000}
PG=${PG:-"-h 127.0.0.1 -U postgres"}
DATA=$(mktemp /tmp/index-cost.XXXXXX.csv)
trap 'rm -f "$DATA"' EXIT
# shellcheck disable=SC2086
psql $PG -d "$DB" -q -v ON_ERROR_STOP=1 -c "\\copy (SELECT id, hotel_id, event_timestamp, status, room_reservation_id, night_of_stay FROM events LIMIT $ROWS) TO '$DATA' CSV"

# The partitioned table's indexes, as they would be built on a partition: all but INDEX, and it.
defs() { # $1: = or <>
  # shellcheck disable=SC2086
  psql $PG -d "$DB" -At -v ON_ERROR_STOP=1 -c "
    SELECT string_agg(replace(replace(pg_get_indexdef(indexrelid), ' ON ONLY public.events ',
                                      ' ON bench_part '), 'INDEX ' || c.relname || ' ', 'INDEX '), '; ')
      FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
     WHERE indrelid = 'events'::regclass AND c.relname $1 '$INDEX'"
}
INDEXES=$(defs "<>")
EXTRA=$(defs "=")
[ -n "$EXTRA" ] || { echo "no index $INDEX on events" >&2; exit 1; }

run() { # $1: extra index or empty; prints seconds
  # shellcheck disable=SC2086
  psql $PG -d "$DB" -q -v ON_ERROR_STOP=1 -c "DROP TABLE IF EXISTS bench_part" \
    -c "CREATE TABLE bench_part (LIKE events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)" \
    -c "ALTER TABLE bench_part ADD PRIMARY KEY (id)" -c "$INDEXES" \
    ${1:+-c "$1"} -c "CHECKPOINT" >/dev/null
  local start end
  start=$(date +%s.%N)
  # shellcheck disable=SC2086
  psql $PG -d "$DB" -q -v ON_ERROR_STOP=1 \
    -c "\\copy bench_part (id, hotel_id, event_timestamp, status, room_reservation_id, night_of_stay) FROM '$DATA' CSV"
  end=$(date +%s.%N)
  echo "$end - $start" | bc
}

echo "round | without (s) | with (s) | with / without"
for r in $(seq 1 "$ROUNDS"); do
  a=$(run "")
  b=$(run "$EXTRA")
  printf '%s | %.2f | %.2f | %.3f\n' "$r" "$a" "$b" "$(echo "$b / $a" | bc -l)"
done
# shellcheck disable=SC2086
psql $PG -d "$DB" -q -c "DROP TABLE IF EXISTS bench_part"
