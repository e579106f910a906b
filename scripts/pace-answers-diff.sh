#!/usr/bin/env bash
# The pace endpoints' answers from two builds, byte for byte: OLD_BIN on OLD_DB and NEW_BIN on
# NEW_DB (the same figures in each layout; scripts/pace-sql/fill.sql fills both), answer cache
# off, the same questions to both, each asked 7 times (past PostgreSQL's switch to a generic
# plan after five executions). Prints the questions whose answers differ; exits 1 if any does.
#   scripts/pace-answers-diff.sh OLD_BIN OLD_DB NEW_BIN NEW_DB
set -euo pipefail
old_bin=$1 old_db=$2 new_bin=$3 new_db=$4
pg=postgres://postgres@127.0.0.1:5432
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
start() { # bin db port
  DASHBOARD_CACHE_MS=0 DASHBOARD_DATABASE_URL=$pg/$2 DATA_PROVIDER_DATABASE_URL=$pg/${2}_dp \
    EVENTS_QUEUE_KEY=pace-diff:$3 BIND_ADDR=127.0.0.1:$3 RUST_LOG=warn \
    "$1" serve --workers 0 --no-schedule >"$tmp/$3.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$3/health" >/dev/null && return; sleep 0.2; done
  cat "$tmp/$3.log"; exit 1
}
start "$old_bin" "$old_db" 8461
start "$new_bin" "$new_db" 8462
questions=()
for hotel in 4101 4102 9001 5; do
  for as_of in 2014-06-01 2015-12-15 2016-02-29 2016-09-01 2017-03-01 2017-08-31 2019-01-01; do
    questions+=("/dashboard/pace?hotel_id=$hotel&as_of=$as_of")
    questions+=("/dashboard/pace?hotel_id=$hotel&from=2016-09-01&to=2017-09-01&as_of=$as_of&pickup=1,7,30")
    questions+=("/dashboard/pace?hotel_id=$hotel&from=2015-07-01&to=2017-07-01&as_of=$as_of&pickup=365,2,1,90,14")
  done
  for night in 2015-07-01 2016-02-29 2016-03-01 2016-08-15 2017-06-01 2017-06-02 2017-06-15 2017-08-31; do
    for days in 0 90 365 730; do
      questions+=("/dashboard/booking-curve?hotel_id=$hotel&night=$night&days=$days")
    done
  done
  questions+=("/dashboard/lead-time?hotel_id=$hotel&from=2015-07-01&to=2017-06-30")
  questions+=("/dashboard/lead-time?hotel_id=$hotel&from=2016-09-01&to=2017-08-31")
done
differ=0
for q in "${questions[@]}"; do
  for _ in 1 2 3 4 5 6 7; do
    curl -sf "http://127.0.0.1:8461$q" >"$tmp/old"
    curl -sf "http://127.0.0.1:8462$q" >"$tmp/new"
    if ! cmp -s "$tmp/old" "$tmp/new"; then echo "differs: $q"; differ=1; break; fi
  done
done
echo "${#questions[@]} questions × 7, answers $( [ $differ = 0 ] && echo identical || echo DIFFERENT ); $(wc -c <"$tmp/new") bytes in the last"
exit $differ
