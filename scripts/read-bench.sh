#!/usr/bin/env bash
# Read latency of the pace and forecast endpoints on the real city hotel of data/,
# alone or (TWIN=1) beside a generated hotel of the same size: a release `serve` with the
# answer cache off (DASHBOARD_CACHE_MS=0) on scratch databases, the export loaded with
# `load-events` and counted by the service's own sync, then per request wrk at 1 and 10
# connections for SECS seconds (after a 2 s warm-up) and the CPU a request cost the service and
# the dashboard database's backends (from /proc/<pid>/stat). Prints one Markdown row per request.
#
#   scripts/read-bench.sh                 # the real hotel alone
#   TWIN=1 scripts/read-bench.sh          # and a generated hotel of 334,000 events beside it
#   BIN=path/to/roompulse NO_BUILD=1 …    # another build (A/B)
#
# Needs wrk (apt-get install wrk), PostgreSQL and Redis as for the tests. Cleans up after itself.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 1; }
export DASHBOARD_CACHE_MS=0
secs=${SECS:-10}
# shellcheck source=scripts/lib/real-service.sh
. scripts/lib/real-service.sh

ticks() { awk '{ s = $0; sub(/^.*\) /, "", s); split(s, f, " "); print f[12] + f[13] }' "/proc/$1/stat" 2>/dev/null || echo 0; }
backends() {
  psql -h 127.0.0.1 -U postgres -At -c "SELECT pid FROM pg_stat_activity WHERE datname = '${run_id}_dashboard' AND pid <> pg_backend_pid()" postgres
}
db_ticks() { local t=0 p; for p in $(backends); do t=$((t + $(ticks "$p"))); done; echo "$t"; }

echo
echo "| request | connections | p50 | p99 | requests/s | CPU ms/request, service | CPU ms/request, PostgreSQL |"
echo "|---|---:|---:|---:|---:|---:|---:|"
measure() {
  local path=$1 conns=$2 threads=$(( $2 < 2 ? $2 : 2 ))
  wrk -t"$threads" -c"$conns" -d2s "$base$path" >/dev/null
  local s0 d0 out s1 d1 n
  s0=$(ticks "$serve_pid"); d0=$(db_ticks)
  out=$(wrk -t"$threads" -c"$conns" -d"${secs}s" --latency "$base$path")
  s1=$(ticks "$serve_pid"); d1=$(db_ticks)
  if echo "$out" | grep -q "Non-2xx"; then echo "errors on $path:"; echo "$out"; exit 1; fi
  n=$(echo "$out" | awk '/requests in/ { print $1 }')
  awk -v path="$path" -v c="$conns" -v n="$n" -v s=$((s1 - s0)) -v d=$((d1 - d0)) \
    -v p50="$(echo "$out" | awk '$1 == "50%" { print $2 }')" \
    -v p99="$(echo "$out" | awk '$1 == "99%" { print $2 }')" \
    -v rps="$(echo "$out" | awk '/Requests\/sec/ { print $2 }')" \
    'BEGIN { if (n == 0) { printf "| `GET %s` | %d | no answer within the run | | | | |\n", path, c; exit }
             printf "| `GET %s` | %d | %s | %s | %s | %.3f | %.3f |\n", path, c, p50, p99, rps, s * 10 / n, d * 10 / n }'
}
as_of=2016-09-01
for conns in 1 10; do
  measure "/dashboard/pace?hotel_id=$hotel&from=$as_of&to=2017-09-01&as_of=$as_of&pickup=1,7,30" "$conns"
  measure "/dashboard/pace?hotel_id=$hotel&from=$as_of&to=2016-11-29&as_of=$as_of&pickup=1,7,30" "$conns"
  measure "/dashboard/booking-curve?hotel_id=$hotel&night=2017-06-15&days=365" "$conns"
  measure "/dashboard/lead-time?hotel_id=$hotel&from=2016-09-01&to=2017-08-31" "$conns"
  measure "/dashboard/forecast?hotel_id=$hotel&from=$as_of&to=2017-09-01&as_of=$as_of" "$conns"
  measure "/dashboard/alerts?hotel_id=$hotel&as_of=$as_of" "$conns"
done
# The same one-night request on the night with the most event days and on one with about ten.
read -r busy busy_days < <(psql -h 127.0.0.1 -U postgres -At -F ' ' -c \
  "SELECT night, count(*) FROM dashboard_pace WHERE hotel_id = $hotel GROUP BY night ORDER BY 2 DESC LIMIT 1" "${run_id}_dashboard")
read -r quiet quiet_days < <(psql -h 127.0.0.1 -U postgres -At -F ' ' -c \
  "SELECT night, count(*) FROM dashboard_pace WHERE hotel_id = $hotel GROUP BY night HAVING count(*) BETWEEN 5 AND 15 ORDER BY night LIMIT 1" "${run_id}_dashboard")
echo "| (one night with $busy_days event days: $busy; with $quiet_days: $quiet) | | | | | | |"
measure "/dashboard/pace?hotel_id=$hotel&from=$busy&to=$busy&as_of=$busy&pickup=1,7,30" 10
measure "/dashboard/pace?hotel_id=$hotel&from=$quiet&to=$quiet&as_of=$quiet&pickup=1,7,30" 10

echo
echo "The backtest (GET /dashboard/forecast/accuracy, a year and six leads), one client, 5 requests:"
for _ in 1 2 3 4 5; do
  curl -s -o /dev/null -w '%{time_total}\n' \
    "$base/dashboard/forecast/accuracy?hotel_id=$hotel&from=2016-08-01&to=2017-07-31&leads=1,7,14,30,60,90"
done | sort -n | awk '{ t[NR] = $1 } END { printf "seconds: min %s, median %s, max %s\n", t[1], t[3], t[5] }'

echo
echo "After a change: one booking posted and counted, then the first GET of the 90 nights (it reads"
echo "the hotel's rows again) and the first GET of the forecast (matrix again; the day model is kept):"
for i in 1 2 3 4 5; do
  before=$(psql -h 127.0.0.1 -U postgres -At -c "SELECT events_synced FROM sync_state" "${run_id}_dashboard")
  curl -sf -o /dev/null -H 'content-type: application/json' -X POST "$base/events" -d "{\"id\": $((900000000 + i)), \"hotel_id\": $hotel, \"event_timestamp\": \"${as_of}T12:00:00Z\", \"status\": 1, \"room_reservation_id\": \"0b8f6c54-2f5e-4a0e-9f7c-3c1f1f1f1f1$i\", \"night_of_stay\": \"2016-10-0$i\"}"
  for _ in $(seq 1 200); do
    now=$(psql -h 127.0.0.1 -U postgres -At -c "SELECT events_synced FROM sync_state" "${run_id}_dashboard")
    [ "$now" -gt "$before" ] && break
    sleep 0.05
  done
  pace=$(curl -s -o /dev/null -w '%{time_total}' "$base/dashboard/pace?hotel_id=$hotel&from=$as_of&to=2016-11-29&as_of=$as_of&pickup=1,7,30")
  forecast=$(curl -s -o /dev/null -w '%{time_total}' "$base/dashboard/forecast?hotel_id=$hotel&from=$as_of&to=2017-09-01&as_of=$as_of")
  echo "$pace $forecast"
done >"$work/after-change.txt"
median() { cut -d' ' -f"$1" "$work/after-change.txt" | sort -n | sed -n 3p; }
echo "seconds, median of 5: pace $(median 1), forecast $(median 2)"
