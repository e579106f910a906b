#!/usr/bin/env bash
# The upgrade to the partitioned events table (migrations events_arrival, events_arrival_checked,
# partition_events_by_arrival) on a database of the previous schema holding ROWS events, while a
# writer inserts one event per statement without pause: how long each migration took, and the
# longest any insert waited meanwhile (the lock the upgrade holds on events, as writers see it).
# Each migration runs as `roompulse migrate` runs it: its up.sql in one transaction.
#   ROWS=10000000 PG=postgres://postgres@127.0.0.1:5440 scripts/upgrade-lock-bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${ROWS:-10000000}
pg=${PG:-postgres://postgres@127.0.0.1:5432}
db=roompulse_upgrade_lock_$$
url="$pg/$db"
cleanup() { psql "$pg/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" || true; }
trap cleanup EXIT
psql "$pg/postgres" -qc "CREATE DATABASE $db"
# The previous schema: every migration before events_arrival, as diesel would have run them.
psql "$url" -qc "CREATE TABLE __diesel_schema_migrations (version VARCHAR(50) PRIMARY KEY NOT NULL, run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)"
for dir in migrations_data_provider/*/; do
  name=$(basename "$dir")
  case $name in *events_arrival*|*partition_events_by_arrival*) continue ;; esac
  psql "$url" -q -v ON_ERROR_STOP=1 -f "$dir/up.sql" >/dev/null
  version=$(echo "$name" | cut -d_ -f1 | tr -d -)
  psql "$url" -qc "INSERT INTO __diesel_schema_migrations (version) VALUES ('$version')"
done
echo "filling $rows events (shuffled ids and times, as a history import)"
start=$(date +%s)
# A million rows a transaction: a longer one would hold back the change feed of every database
# on the server (its horizon is the oldest running transaction).
for ((from = 1; from <= rows; from += 1000000)); do
  to=$((from + 999999 < rows ? from + 999999 : rows))
  psql "$url" -q -v ON_ERROR_STOP=1 -c "
INSERT INTO events (id, hotel_id, event_timestamp, status, room_reservation_id, night_of_stay, tx_id)
SELECT i::int8 * 7919 % 1000000007 + 1, 1 + i % 50, timestamptz '2020-01-01' + (i::int8 * 104729 % 94608000) * interval '1 second',
       1 + (i % 3 = 0)::int, md5(i::text)::uuid, date '2020-02-01' + (i * 31 % 1200), 1000 + i / 5000
FROM generate_series($from, $to) i"
done
psql "$url" -q -c "ANALYZE events" -c CHECKPOINT
echo "filled in $(( $(date +%s) - start )) s: $(psql "$url" -At -c "SELECT pg_size_pretty(pg_total_relation_size('events'))")"
# The writer: one event per statement, each statement's duration logged (ms).
python3 - "$url" >"/tmp/$db.writer" <<'PY' &
import subprocess, sys, time
url = sys.argv[1]
p = subprocess.Popen(["psql", url, "-qAt", "-f", "-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
i = 0
while True:
    i += 1
    t = time.monotonic()
    p.stdin.write(f"INSERT INTO events (id, hotel_id, event_timestamp, status, room_reservation_id, night_of_stay) VALUES ({2000000000 + i}, 1, now(), 1, gen_random_uuid(), current_date); SELECT 1;\n")
    p.stdin.flush()
    if p.stdout.readline() == "":
        break
    print(f"{t:.3f} {(time.monotonic() - t) * 1000:.1f}", flush=True)
PY
writer=$!
sleep 3
for dir in migrations_data_provider/*events_arrival*/ migrations_data_provider/*partition_events_by_arrival/; do
  s=$(date +%s.%N)
  psql "$url" -q -1 -v ON_ERROR_STOP=1 -f "$dir/up.sql" >/dev/null
  echo "$(basename "$dir"): $(echo "$(date +%s.%N) - $s" | bc) s"
done
sleep 3
kill $writer 2>/dev/null || true
echo "partitioned: $(psql "$url" -At -c "SELECT relkind = 'p' FROM pg_class WHERE oid = 'events'::regclass")"
echo "writer inserts during the run: $(wc -l <"/tmp/$db.writer"), longest $(sort -k2 -n "/tmp/$db.writer" | tail -1 | cut -d' ' -f2) ms, slowest five: $(sort -k2 -n "/tmp/$db.writer" | tail -5 | cut -d' ' -f2 | tr '\n' ' ')"
echo "events: $(psql "$url" -At -c "SELECT count(*) FROM events"), distinct ids: $(psql "$url" -At -c "SELECT count(DISTINCT id) FROM events")"
rm -f "/tmp/$db.writer"
