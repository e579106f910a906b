#!/usr/bin/env bash
# The change feed's page of 10,000 rows (the dashboard sync's size) over HTTP, two builds in
# turn against the same events: ROWS generated events loaded once, then for each round and build
# (vacuumed) a `serve --no-schedule` of its own, 3 warm-up requests and the median of 11 `curl` times of
# `GET /events?order=stored&limit=10000` from the start of the feed.
#   scripts/feed-page-bench.sh BIN_A BIN_B   (e.g. two release builds of `roompulse`)
set -euo pipefail
a=$(realpath "${1:?usage: $0 BIN_A BIN_B}")
b=$(realpath "${2:?usage: $0 BIN_A BIN_B}")
rows=${ROWS:-50000}
rounds=${ROUNDS:-2}
pg=${PG_URL:-postgres://postgres@127.0.0.1:5432}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
work=$(mktemp -d /tmp/roompulse-feed-page.XXXXXX)
export DATA_PROVIDER_DATABASE_URL=$pg/roompulse_feed_page_ev DASHBOARD_DATABASE_URL=$pg/roompulse_feed_page_dash
export BIND_ADDR=127.0.0.1:$port DATA_PROVIDER_URL=http://127.0.0.1:$port EVENTS_QUEUE_KEY="roompulse-feed-page-$$:events" RUST_LOG=warn
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  redis-cli -h 127.0.0.1 --scan --pattern "roompulse-feed-page-$$:*" | xargs -r redis-cli -h 127.0.0.1 del >/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
for db in roompulse_feed_page_ev roompulse_feed_page_dash; do
  psql "$pg/postgres" -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"
done
serve() { "$1" serve --no-schedule >"$work/serve.log" 2>&1 & pid=$!
  until curl -sf "http://127.0.0.1:$port/health" >/dev/null; do sleep 0.2; done; }
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""; }
"$a" generate-events --rows "$rows" --hotels 10 --seed 3 --output "$work/events.csv" >/dev/null
serve "$a"
"$a" load-events "$work/events.csv" >/dev/null
until [ "$(psql "$DATA_PROVIDER_DATABASE_URL" -At -c 'SELECT count(*) FROM events')" -ge "$rows" ]; do sleep 0.2; done
stop
# As autovacuum leaves a table some time after a load (hint bits set, visibility map, statistics).
psql "$DATA_PROVIDER_DATABASE_URL" -q -c "VACUUM ANALYZE events"
url="http://127.0.0.1:$port/events?order=stored&limit=10000"
for round in $(seq 1 "$rounds"); do
  for bin in "$a" "$b"; do
    serve "$bin"
    for _ in 1 2 3; do curl -s -o /dev/null "$url"; done
    median=$(for _ in $(seq 1 11); do curl -s -o /dev/null -w '%{time_total}\n' "$url"; done | sort -n | sed -n 6p)
    echo "round $round, $bin: median of 11 $(echo "$median * 1000" | bc) ms"
    stop
  done
done
