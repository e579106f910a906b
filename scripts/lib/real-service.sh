# Sourced by scripts that need a running service with the real city hotel counted: a release
# `serve` (or $BIN) on scratch databases, port and queue key of its own, the export of
# ../shared/real/ (or data/) loaded with `load-events` and counted by the service's own sync
# (TWIN=1: and a generated hotel of the same size). Sets base, hotel, serve_pid, run_id, work;
# removes everything on exit. DASHBOARD_CACHE_MS is the caller's (the benchmarks set 0).
real=""
for f in data/city_hotel_events.csv.gz ../shared/real/city_hotel_events.csv.gz; do
  [ -f "$f" ] && real=$f && break
done
[ -n "$real" ] || { echo "no city_hotel_events.csv.gz in data/ or ../shared/real/"; exit 1; }
bin=${BIN:-target/release/roompulse}
[ -n "${NO_BUILD:-}" ] || cargo build --release --quiet --bin roompulse
run_id="roompulse_readbench_$$"
export DATA_PROVIDER_DATABASE_URL="postgres://postgres@127.0.0.1:5432/${run_id}_events"
export DASHBOARD_DATABASE_URL="postgres://postgres@127.0.0.1:5432/${run_id}_dashboard"
export EVENTS_QUEUE_KEY="roompulse-readbench-$$:events"
export RUST_LOG=warn
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export BIND_ADDR="127.0.0.1:$port"
base="http://127.0.0.1:$port"
work=$(mktemp -d)
serve_pid=""
cleanup() {
  [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null || true
  for db in "${run_id}_events" "${run_id}_dashboard"; do
    psql -h 127.0.0.1 -U postgres -q -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" postgres || true
  done
  redis-cli -h 127.0.0.1 --scan --pattern "roompulse-readbench-$$:*" | xargs -r redis-cli -h 127.0.0.1 del >/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

"$bin" migrate >/dev/null
zcat "$real" >"$work/real.csv"
expected=$(($(wc -l <"$work/real.csv") - 1))
"$bin" load-events "$work/real.csv" --rejects "$work/rejects.csv" | tail -n 1
if [ -n "${TWIN:-}" ]; then
  "$bin" generate-events --rows "$expected" --hotels 1 --seed 17 --output "$work/generated.csv" >/dev/null
  # The generator's ids overlap the real export's: moved a billion up, so every row is stored.
  awk -F, 'BEGIN { OFS = "," } NR > 1 { $3 += 1000000000 } { print }' "$work/generated.csv" >"$work/twin.csv"
  "$bin" load-events "$work/twin.csv" --rejects "$work/rejects-twin.csv" | tail -n 1
  expected=$((expected * 2))
fi
"$bin" serve >"$work/serve.log" 2>&1 &
serve_pid=$!
started=$(date +%s)
for _ in $(seq 1 1200); do
  synced=$(psql -h 127.0.0.1 -U postgres -At -c "SELECT events_synced FROM sync_state" "${run_id}_dashboard" 2>/dev/null || echo 0)
  [ "${synced:-0}" -ge "$expected" ] && break
  sleep 0.5
done
echo "stored and counted $synced events in $(($(date +%s) - started)) s"
[ "${synced:-0}" -ge "$expected" ] || { tail -20 "$work/serve.log"; exit 1; }
hotel=$(head -2 "$work/real.csv" | tail -1 | awk -F, '{ print $6 }' | tr -d '\r')
