#!/usr/bin/env bash
# PostgreSQL's part of the pace endpoints, old layout against new, with pgbench: the statements
# the service sends (pace-*.sql, curve-*.sql, prepared, parallel plans off as the service's pools
# have them), closed loop, p50 / p99 per statement and the TPS. Usage:
#   scripts/pace-sql/run.sh OLD_DB NEW_DB [SECONDS] [history]
# OLD_DB: a dashboard database on the migrations before 2026-12-10-000005, NEW_DB: the same rows
# after it (scripts/pace-sql/fill.sql fills both from the real city hotel).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
old=$1 new=$2 secs=${3:-10}
export PGHOST=${PGHOST:-127.0.0.1} PGUSER=${PGUSER:-postgres}
export PGOPTIONS='-c max_parallel_workers_per_gather=0'
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# name, from, to (nights), as_of, hotel
pace() { # label from nights as_of
  local from=$2 n=$(($3 - 1)) as_of=$4
  local to; to=$(date -d "$from + $n days" +%F)
  echo "-D from=$from -D to=$to -D n=$n -D as_of=$as_of \
-D b1=$(date -d "$as_of - 1 day" +%F) -D b7=$(date -d "$as_of - 7 days" +%F) -D b30=$(date -d "$as_of - 30 days" +%F) \
-D sfrom=$(date -d "$from - 364 days" +%F) -D sto=$(date -d "$to - 364 days" +%F) -D sas_of=$(date -d "$as_of - 364 days" +%F)"
}
curve() { # night days
  local night=$1 days=$2
  local first; first=$(date -d "$night - $days days" +%F)
  echo "-D night=$night -D first=$first -D snight=$(date -d "$night - 364 days" +%F) -D sfirst=$(date -d "$first - 364 days" +%F)"
}
measure() { # label script db clients vars
  local label=$1 script=$2 db=$3 clients=$4; shift 4
  rm -f "$tmp"/pgbench_log.*
  (cd "$tmp" && pgbench -n -M prepared -c "$clients" -j "$clients" -T "$secs" -l -f "$here/$script" "$@" "$db" >"$tmp/out" 2>&1) || { cat "$tmp/out"; exit 1; }
  local tps; tps=$(grep -o 'tps = [0-9.]*' "$tmp/out" | head -1 | cut -d' ' -f3)
  cat "$tmp"/pgbench_log.* | awk '{print $3}' | sort -n | awk -v label="$label" -v c="$clients" -v tps="$tps" \
    '{a[NR]=$1} END {printf "| %s | %d | %.2f | %.2f | %.0f |\n", label, c, a[int(NR*0.5)+1]/1000, a[int(NR*0.99)+1]/1000, tps}'
}
if [ "${4:-}" = history ]; then
  # The same one-night request on a night booked on 10 event days and on one booked on 700
  # (hotel 9001 of fill.sql), 1 client.
  echo "| statement | clients | p50 ms | p99 ms | per s |"
  echo "|---|---:|---:|---:|---:|"
  for side in old new; do
    db=$old; [ $side = new ] && db=$new
    measure "pace 1 night, 10 event days, $side" pace-$side.sql "$db" 1 -D hotel=9001 $(pace x 2017-06-01 1 2017-06-01)
    measure "pace 1 night, 700 event days, $side" pace-$side.sql "$db" 1 -D hotel=9001 $(pace x 2017-06-02 1 2017-06-02)
  done
  exit 0
fi
echo "| statement | clients | p50 ms | p99 ms | per s |"
echo "|---|---:|---:|---:|---:|"
for clients in 1 10; do
  for side in old new; do
    db=$old; [ $side = new ] && db=$new
    measure "pace 366 nights, $side" pace-$side.sql "$db" "$clients" -D hotel=4101 $(pace x 2016-09-01 366 2017-03-01)
    measure "pace 90 nights, $side" pace-$side.sql "$db" "$clients" -D hotel=4101 $(pace x 2017-03-01 90 2017-03-01)
    measure "booking curve 365 days, $side" curve-$side.sql "$db" "$clients" -D hotel=4101 $(curve 2017-06-15 365)
  done
done
