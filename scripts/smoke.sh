#!/usr/bin/env bash
# Loads ../shared/reference/seed_sample_events.csv (a real export of the original system: CRLF,
# 101 rows, then ~45,000 blank lines) with `roompulse load-events`, drains it with a `worker`
# process, checks that every row is stored once, then runs `sync-dashboard` against a `serve`
# process and checks the figures GET /dashboard gives (hotel 2607, 2022: 100 bookings and one
# cancellation). Isolated databases, port and queue key; cleans up.
set -euo pipefail
cd "$(dirname "$0")/.."
seed=../shared/reference/seed_sample_events.csv
if [ ! -f "$seed" ]; then
  echo "no $seed here: skipping the real export"
  exit 0
fi
bin=target/debug/roompulse
[ -x "$bin" ] || cargo build --quiet
run_id="roompulse_ci_$$"
export DATA_PROVIDER_DATABASE_URL="postgres://postgres@127.0.0.1:5432/${run_id}_events"
export DASHBOARD_DATABASE_URL="postgres://postgres@127.0.0.1:5432/${run_id}_dashboard"
export EVENTS_QUEUE_KEY="roompulse-ci-$$:events"
export RUST_LOG=warn
work=$(mktemp -d)
worker_pid=""
serve_pid=""
cleanup() {
  [ -n "$worker_pid" ] && kill "$worker_pid" 2>/dev/null && wait "$worker_pid" 2>/dev/null || true
  [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null || true
  for db in "${run_id}_events" "${run_id}_dashboard"; do
    psql -h 127.0.0.1 -U postgres -q -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" postgres || true
  done
  redis-cli -h 127.0.0.1 --scan --pattern "roompulse-ci-$$:*" | xargs -r redis-cli -h 127.0.0.1 del >/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

"$bin" migrate
summary=$("$bin" load-events "$seed" --rejects "$work/rejects.csv" | tail -n 1)
echo "$summary"
case "$summary" in
  "queued 101 events, rejected 0 rows in "*) ;;
  *) echo "unexpected summary for the seed export"; exit 1 ;;
esac

"$bin" worker --workers 1 &
worker_pid=$!
stored=0
for _ in $(seq 1 120); do
  stored=$(psql -h 127.0.0.1 -U postgres -At -c "SELECT count(*) FROM events" "${run_id}_events")
  [ "$stored" = 101 ] && [ "$(redis-cli -h 127.0.0.1 llen "$EVENTS_QUEUE_KEY")" = 0 ] && break
  sleep 0.5
done
kill -TERM "$worker_pid"
wait "$worker_pid"
worker_pid=""
distinct=$(psql -h 127.0.0.1 -U postgres -At -c "SELECT count(DISTINCT id) FROM events" "${run_id}_events")
dead=$(redis-cli -h 127.0.0.1 llen "$EVENTS_QUEUE_KEY:dead")
echo "stored $stored events ($distinct distinct ids), $dead dead letters"
[ "$stored" = 101 ] && [ "$distinct" = 101 ] && [ "$dead" = 0 ]
echo "the real export loads: 101 rows stored once"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export BIND_ADDR="127.0.0.1:$port"
"$bin" serve --workers 0 --no-schedule &
serve_pid=$!
for _ in $(seq 1 60); do
  curl -fsS "http://$BIND_ADDR/health" >/dev/null 2>&1 && break
  sleep 0.5
done
"$bin" sync-dashboard
figures=$(curl -fsS "http://$BIND_ADDR/dashboard?hotel_id=2607&period=month&year=2022")
totals=$(python3 -c 'import json,sys; rows=json.loads(sys.argv[1]); print(len(rows), sum(r["bookings"] for r in rows), sum(r["cancellations"] for r in rows), sum(r["booking_count"] for r in rows))' "$figures")
echo "dashboard 2607/2022 by month: rows bookings cancellations net = $totals"
[ "$totals" = "12 100 1 99" ]
# By night of stay the same 101 events spread over 2021 and 2022.
stay_total=0
for year in 2021 2022; do
  stay=$(curl -fsS "http://$BIND_ADDR/dashboard?hotel_id=2607&period=day&year=$year&basis=stay")
  n=$(python3 -c 'import json,sys; rows=json.loads(sys.argv[1]); assert len(rows) == 365; print(sum(r["bookings"] + r["cancellations"] for r in rows))' "$stay")
  stay_total=$((stay_total + n))
done
echo "dashboard 2607 by night of stay, 2021 and 2022: $stay_total events"
[ "$stay_total" = 101 ]
echo "the dashboard counts the real export exactly"
