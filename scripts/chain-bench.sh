#!/usr/bin/env bash
# CSV → exact dashboard: the time from `load-events` of a CSV export to the moment a default
# `serve` has stored (`count(*)` of events) and counted (`sync_state.events_synced`) every row,
# for each binary given, in turn, ROUNDS times (A B C A B C …), each run on fresh databases and
# a queue key of its own. Prints one line per run with both times and a digest of the daily
# figures (equal digests: the builds counted the same). The export is generated unless CSV is
# given:
#   scripts/chain-bench.sh target/release/roompulse /path/to/baseline/roompulse
#   ROWS=1000000 ROUNDS=2 CSV=events.csv scripts/chain-bench.sh A B
# STATS=DIR also writes, per run, the dashboard database's statements (pg_stat_statements: time,
# rows, buffers, WAL), both databases' totals, the tables' row counts and sizes, and prints the
# CPU both databases' backends used (scripts/pg-backend-cpu.py). It needs a server on this
# machine with pg_stat_statements in shared_preload_libraries and the extension created in the
# `postgres` and `template1` databases (BENCHMARKS.md, "The dashboard's writes").
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: $0 BIN [BIN …]"; exit 2; }
rows=${ROWS:-1000000}
rounds=${ROUNDS:-2}
pg=${PG:-postgres://postgres@127.0.0.1:5432}
psql_at() { psql "$pg/$1" -qAt -c "$2"; }
work=$(mktemp -d)
run_id="roompulse_chain_$$"
serve_pid=""
cleanup() {
  [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null || true
  for db in "${run_id}_events" "${run_id}_dashboard"; do
    psql "$pg/postgres" -q -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" || true
  done
  redis-cli -h 127.0.0.1 --scan --pattern "roompulse-chain-$$:*" | xargs -r redis-cli -h 127.0.0.1 del >/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
csv=${CSV:-}
if [ -z "$csv" ]; then
  csv=$work/events.csv
  "$1" generate-events --rows "$rows" --hotels 50 --seed 1 --output "$csv" >/dev/null
fi
n=$(($(wc -l <"$csv") - 1))
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export DATA_PROVIDER_DATABASE_URL="$pg/${run_id}_events" DASHBOARD_DATABASE_URL="$pg/${run_id}_dashboard"
export BIND_ADDR="127.0.0.1:$port" DATA_PROVIDER_URL="http://127.0.0.1:$port" RUST_LOG=warn
for round in $(seq 1 "$rounds"); do
  nbin=0
  for bin in "$@"; do
    nbin=$((nbin + 1))
    for db in "${run_id}_events" "${run_id}_dashboard"; do
      psql "$pg/postgres" -q -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)"
    done
    export EVENTS_QUEUE_KEY="roompulse-chain-$$:$round:events"
    "$bin" migrate >/dev/null
    "$bin" serve >"$work/serve.log" 2>&1 &
    serve_pid=$!
    until curl -sf "http://127.0.0.1:$port/ready" >/dev/null; do sleep 0.2; done
    psql_at "${run_id}_events" CHECKPOINT
    if [ -n "${STATS:-}" ]; then
      psql_at postgres "SELECT pg_stat_statements_reset()" >/dev/null
      postmaster=$(psql_at postgres "SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'")
      scripts/pg-backend-cpu.py "$(awk '{print $4}' "/proc/$postmaster/stat")" >"$work/cpu.txt" &
      sampler_pid=$!
    fi
    start=$(date +%s.%N)
    "$bin" load-events "$csv" >/dev/null
    stored_at=""
    until [ "$(psql_at "${run_id}_dashboard" 'SELECT coalesce(events_synced, 0) FROM sync_state')" -ge "$n" ]; do
      if [ -z "$stored_at" ] && [ "$(psql_at "${run_id}_events" 'SELECT count(*) FROM events')" -ge "$n" ]; then
        stored_at=$(date +%s.%N)
      fi
      sleep 0.1
    done
    end=$(date +%s.%N)
    [ -n "$stored_at" ] || stored_at=$end
    stats_line=""
    if [ -n "${STATS:-}" ]; then
      kill -TERM "$sampler_pid" && wait "$sampler_pid"
      out=$STATS/$$-round$round-bin$nbin
      mkdir -p "$out" && cp "$work/cpu.txt" "$out/cpu.txt"
      psql "$pg/${run_id}_dashboard" -P pager=off -c "SELECT round(total_exec_time) AS ms, calls, rows, shared_blks_hit AS hit, shared_blks_read AS read, shared_blks_dirtied AS dirtied, shared_blks_written AS written, wal_records, wal_fpi, wal_bytes, left(regexp_replace(query, '\\s+', ' ', 'g'), 80) AS query FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) ORDER BY total_exec_time DESC LIMIT 12" >"$out/statements.txt"
      psql "$pg/${run_id}_dashboard" -P pager=off -c "SELECT d.datname, round(sum(total_exec_time)) AS ms, sum(calls) AS calls, sum(wal_bytes) AS wal_bytes, sum(wal_fpi) AS wal_fpi FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid GROUP BY 1 ORDER BY 1" >"$out/databases.txt"
      psql "$pg/${run_id}_dashboard" -P pager=off -c "SELECT relname, n_tup_ins AS inserted, n_tup_upd AS updated, n_tup_hot_upd AS hot, n_live_tup AS live, n_dead_tup AS dead, pg_table_size(relid) AS table_bytes, pg_indexes_size(relid) AS index_bytes FROM pg_stat_user_tables ORDER BY relname" >"$out/tables.txt"
      cpu_of() { awk -v d="${run_id}_$1" '$2 == d {print $1}' "$out/cpu.txt"; }
      wal_of() { psql_at postgres "SELECT pg_size_pretty(sum(wal_bytes)) FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = '${run_id}_$1')"; }
      stats_line=$(printf '  backends CPU: dashboard %s s (WAL %s), events %s s (WAL %s)  %s' \
        "$(cpu_of dashboard)" "$(wal_of dashboard)" "$(cpu_of events)" "$(wal_of events)" "$out")
    fi
    digest=$(psql_at "${run_id}_dashboard" "SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM dashboard_daily t")
    kill "$serve_pid" && wait "$serve_pid" 2>/dev/null || true
    serve_pid=""
    printf 'round %s  %s  counted %.1f s  stored %.1f s  daily %s  load %s\n' "$round" "$bin" \
      "$(echo "$end - $start" | bc)" "$(echo "$stored_at - $start" | bc)" "${digest:0:12}" "$(cut -d' ' -f1 /proc/loadavg)"
    [ -z "$stats_line" ] || echo "$stats_line"
  done
done
