#!/usr/bin/env bash
# The long-poll attack of the tenancy issue, measured: a `serve` (release build) on scratch
# databases holding a real hotel's history (data/city_hotel_events.csv.gz, 334k
# events; EVENTS=path.csv[.gz] for another export), then `roompulse-bench attack`: a steady
# stream of POST /events with freshness probes, alone and then while ATTACKERS (250) clients
# hold long polls of the change feed for a hotel with no events. Prints the Markdown rows for
# BENCHMARKS.md. Isolated databases, port and queue key; cleans up.
#   scripts/attack-bench.sh [extra roompulse-bench attack flags, e.g. --restart]
set -euo pipefail
cd "$(dirname "$0")/.."
events=${EVENTS:-data/city_hotel_events.csv.gz}
attackers=${ATTACKERS:-250}
rate=${RATE:-200}
secs=${SECS:-30}
[ -f "$events" ] || { echo "no $events here"; exit 1; }
[ -n "${NO_BUILD:-}" ] || cargo build --release --quiet --bins --features bench
bin=${BIN_DIR:-target/release}
run_id="roompulse_bench_attack_$$"
export DATA_PROVIDER_DATABASE_URL="postgres://postgres@127.0.0.1:5432/${run_id}_events"
export DASHBOARD_DATABASE_URL="postgres://postgres@127.0.0.1:5432/${run_id}_dashboard"
export EVENTS_QUEUE_KEY="roompulse-bench-attack-$$:events"
export RUST_LOG=warn
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export BIND_ADDR="127.0.0.1:$port"
work=$(mktemp -d)
serve_pid=""
cleanup() {
  [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null || true
  for db in "${run_id}_events" "${run_id}_dashboard"; do
    psql -h 127.0.0.1 -U postgres -q -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" postgres || true
  done
  redis-cli -h 127.0.0.1 --scan --pattern "roompulse-bench-attack-$$:*" | xargs -r redis-cli -h 127.0.0.1 del >/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

case "$events" in
  *.gz) zcat "$events" > "$work/events.csv" ;;
  *) cp "$events" "$work/events.csv" ;;
esac
rows=$(($(wc -l < "$work/events.csv") - 1))
"$bin/roompulse" serve > "$work/serve.log" 2>&1 &
serve_pid=$!
for _ in $(seq 1 120); do
  curl -sf "http://$BIND_ADDR/health" >/dev/null && break
  sleep 0.5
done
"$bin/roompulse" load-events "$work/events.csv" | tail -n 1
echo "waiting for $rows events to be stored and counted…" >&2
for _ in $(seq 1 1200); do
  m=$(curl -sf "http://$BIND_ADDR/metrics" || true)
  depth=$(echo "$m" | awk '/^roompulse_queue_depth /{print $2}')
  lag=$(echo "$m" | awk '/^roompulse_sync_lag_events /{print $2}')
  stored=$(psql -h 127.0.0.1 -U postgres -At -c "SELECT count(*) FROM events" "${run_id}_events")
  [ "$depth" = 0 ] && [ "$lag" = 0 ] && [ "$stored" -ge "$rows" ] && break
  sleep 0.5
done
echo "stored $stored events; queue $depth; sync lag $lag" >&2
"$bin/roompulse-bench" attack --url "http://$BIND_ADDR" --attackers "$attackers" \
  --rate "$rate" --secs "$secs" --probe-every 20 "$@"
echo "serve's log lines during the run: $(wc -l < "$work/serve.log") ($(grep -c 'turning requests away' "$work/serve.log" || true) refusal lines)" >&2
