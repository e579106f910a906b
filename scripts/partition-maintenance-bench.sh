#!/usr/bin/env bash
# Partition maintenance while ingesting: does creating partitions ahead, or retention detaching
# and dropping them, ever make a writer wait? On a private PostgreSQL 15 (its defaults, plus
# `log_lock_waits` with `deadlock_timeout` = 100 ms, so that every lock wait longer than 100 ms
# is written to its log), a default `serve`, partitions of ROWS_PER_PARTITION arrivals:
#   1. load the older half of a generated export (its events before 2023): partitions are
#      created ahead all along;
#   2. load the newer half while `roompulse retention --before 2023-01-01` archives, detaches
#      and drops the partitions of the older half;
#   3. load a third export while a worker process builds an index declared on the parent only
#      on every partition (`CREATE INDEX CONCURRENTLY`, then attached), as after migration
#      `index_hotel_nights` on a database that holds events.
# Meanwhile a prober posts one event at a time (`POST /events`, a partition check and a claim
# each). Prints, per phase, the prober's latencies and the lock waits over 100 ms the server
# logged (none: maintenance never held a writer that long).
#   scripts/partition-maintenance-bench.sh target/release/roompulse
#   ROWS=600000 ROWS_PER_PARTITION=20000 PORT=5443 scripts/partition-maintenance-bench.sh BIN
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${1:?usage: $0 BIN}")
rows=${ROWS:-400000}
per=${ROWS_PER_PARTITION:-20000}
port=${PORT:-5443}
pgbin=${PGBIN:-/usr/lib/postgresql/15/bin}
work=$(mktemp -d /tmp/roompulse-maintenance.XXXXXX)
chmod 777 "$work"
as_pg() { if [ "$(id -u)" = 0 ]; then su postgres -c "$1"; else bash -c "$1"; fi; }
serve_pid=""
cleanup() {
  [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null || true
  as_pg "$pgbin/pg_ctl -D $work/data -m immediate stop" >/dev/null 2>&1 || true
  redis-cli -h 127.0.0.1 --scan --pattern "roompulse-maintenance-$$:*" | xargs -r redis-cli -h 127.0.0.1 del >/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
as_pg "$pgbin/initdb -U postgres --auth=trust -D $work/data" >/dev/null
as_pg "$pgbin/pg_ctl -D $work/data -l $work/pg.log -o '-p $port -k $work -c log_lock_waits=on -c deadlock_timeout=100ms' start" >/dev/null
pg=postgres://postgres@127.0.0.1:$port
http=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export DATA_PROVIDER_DATABASE_URL=$pg/events DASHBOARD_DATABASE_URL=$pg/dashboard RUST_LOG=warn
export BIND_ADDR=127.0.0.1:$http DATA_PROVIDER_URL=http://127.0.0.1:$http EVENTS_QUEUE_KEY="roompulse-maintenance-$$:events"
"$bin" migrate >/dev/null
# Partitions of $per arrivals from the first one on (the two made by the migration are empty).
psql "$pg/events" -q -c "UPDATE event_partitioning SET rows_per_partition = $per" \
  -c "ALTER TABLE events DETACH PARTITION events_from_1" -c "DROP TABLE events_from_1" \
  -c "ALTER TABLE events DETACH PARTITION events_from_2000001" -c "DROP TABLE events_from_2000001" \
  -c "SELECT roompulse_add_event_partitions()" >/dev/null
"$bin" generate-events --rows "$rows" --hotels 10 --seed 7 --output "$work/all.csv" >/dev/null
python3 - "$work" <<'PY'
import csv, sys
w = sys.argv[1]
with open(f"{w}/all.csv", newline="") as f:
    r = csv.reader(f)
    header = next(r)
    ts = header.index("event_timestamp")
    out = {k: open(f"{w}/{k}.csv", "w", newline="") for k in ("older", "newer")}
    for o in out.values():
        csv.writer(o, lineterminator="\r\n").writerow(header)
    for row in r:
        csv.writer(out["older" if row[ts] < "2023" else "newer"], lineterminator="\r\n").writerow(row)
PY
"$bin" serve >"$work/serve.log" 2>&1 &
serve_pid=$!
until curl -sf "http://127.0.0.1:$http/ready" >/dev/null; do sleep 0.2; done

# The prober: one POST at a time; each line "phase latency_ms". The phase is the file's content.
# Its events are old too (2021), so that the partitions of the older half stay all old.
echo idle >"$work/phase"
python3 - "http://127.0.0.1:$http/events" "$work" >"$work/probes" <<'PY' &
import json, sys, time, urllib.request, uuid
url, work = sys.argv[1], sys.argv[2]
i = 0
while True:
    phase = open(f"{work}/phase").read().strip()
    if phase == "stop":
        break
    i += 1
    body = json.dumps({"id": 900000000 + i, "hotel_id": 1, "event_timestamp": "2021-06-01T12:00:00Z",
                       "status": 1, "room_reservation_id": str(uuid.uuid4()), "night_of_stay": "2021-07-01"}).encode()
    req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    t = time.monotonic()
    with urllib.request.urlopen(req) as r:
        r.read()
    print(phase, f"{(time.monotonic() - t) * 1000:.1f}", flush=True)
    time.sleep(0.005)
PY
prober=$!
sleep 5
count() { psql "$pg/events" -At -c "SELECT count(*) FROM events WHERE id < 900000000"; }
older=$(($(wc -l <"$work/older.csv") - 1))
newer=$(($(wc -l <"$work/newer.csv") - 1))
parts_before=$(psql "$pg/events" -At -c "SELECT count(*) FROM roompulse_event_partitions()")
echo creating >"$work/phase"
"$bin" load-events "$work/older.csv" >/dev/null
until [ "$(count)" -ge "$older" ]; do sleep 0.2; done
parts_after=$(psql "$pg/events" -At -c "SELECT count(*) FROM roompulse_event_partitions()")
echo idle >"$work/phase"
stored=$(psql "$pg/events" -At -c "SELECT count(*) FROM events")
until [ "$(psql "$pg/dashboard" -At -c 'SELECT coalesce(events_synced, 0) FROM sync_state')" -ge "$stored" ]; do sleep 0.2; done
sleep 3
echo dropping >"$work/phase"
"$bin" load-events "$work/newer.csv" >/dev/null &
loader=$!
RUST_LOG=info "$bin" retention --before 2023-01-01 --archive "$work/archive.csv" >"$work/retention.out" 2>&1
wait $loader
until [ "$(count)" -ge "$newer" ]; do sleep 0.2; done
# 3. As after migration `index_hotel_nights` on a database whose partitions hold rows: the
#    hotel-first night index declared on the parent only. A worker process started now builds
#    the partitions' indexes concurrently while a third export (ids of their own) loads.
echo idle >"$work/phase"
"$bin" generate-events --rows "$rows" --hotels 10 --seed 8 --output "$work/gen3.csv" >/dev/null
python3 - "$work" <<'PY'
import csv, sys
w = sys.argv[1]
with open(f"{w}/gen3.csv", newline="") as f, open(f"{w}/third.csv", "w", newline="") as out:
    r, o = csv.reader(f), csv.writer(out, lineterminator="\r\n")
    header = next(r)
    o.writerow(header)
    ids = header.index("id")
    for row in r:
        row[ids] = str(int(row[ids]) + 500000000)
        o.writerow(row)
PY
psql "$pg/events" -q -c "DROP INDEX events_hotel_night_timestamp_id" \
  -c "CREATE INDEX events_hotel_night_timestamp_id ON ONLY events (hotel_id, night_of_stay, event_timestamp, id) INCLUDE (status)"
unindexed=$(psql "$pg/events" -At -c "SELECT count(*) FROM pg_inherits WHERE inhparent = 'events'::regclass")
echo indexing >"$work/phase"
"$bin" load-events "$work/third.csv" >/dev/null &
loader=$!
RUST_LOG=info "$bin" worker --workers 1 >"$work/builder.log" 2>&1 &
builder=$!
index_valid() { psql "$pg/events" -At -c "SELECT indisvalid FROM pg_index WHERE indexrelid = 'events_hotel_night_timestamp_id'::regclass"; }
until [ "$(index_valid)" = t ]; do sleep 0.2; done
wait $loader
kill $builder && wait $builder 2>/dev/null || true
echo stop >"$work/phase"
wait $prober || true
parts_end=$(psql "$pg/events" -At -c "SELECT count(*) FROM roompulse_event_partitions()")

echo "partitions of $per arrivals: $parts_before before, $parts_after after loading $older older events, $parts_end after retention and $newer newer events"
echo "retention: $(tail -1 "$work/retention.out")"
echo "partitions dropped by retention: $(grep -c 'partition dropped' "$work/retention.out" || true)"
echo "partition indexes built while loading the third export: $(grep -c "building a partition's index" "$work/builder.log" || true) of $unindexed partitions"
python3 - "$work/probes" <<'PY'
import sys, collections
by = collections.defaultdict(list)
for line in open(sys.argv[1]):
    phase, ms = line.split()
    by[phase].append(float(ms))
for phase in ("idle", "creating", "dropping", "indexing"):
    v = sorted(by.get(phase, []))
    if v:
        q = lambda p: v[min(len(v) - 1, int(p * len(v)))]
        print(f"POST /events while {phase}: {len(v)} posts, p50 {q(0.5):.1f} ms, p99 {q(0.99):.1f} ms, max {v[-1]:.1f} ms")
PY
waits=$(grep -c "still waiting for" "$work/pg.log" || true)
echo "lock waits over 100 ms logged by the server: $waits, by the statement that waited:"
# CREATE INDEX CONCURRENTLY waits for the transactions older than its build: the builder waits,
# writers do not.
grep -A2 "still waiting for" "$work/pg.log" | grep "STATEMENT:" | sed 's/.*STATEMENT: *//' |
  cut -c1-70 | sort | uniq -c || true
