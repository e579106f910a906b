#!/usr/bin/env bash
# A fixed request rate against a running roompulse, with oha (`cargo install oha --locked`), for
# BENCHMARKS.md. Prints oha's JSON report to standard error and one Markdown table row (the
# columns of BENCHMARKS.md's load table) to standard output.
#
#   scripts/load-test.sh post-events|get-events|get-dashboard [RATE] [SECONDS] [URL]
#
# RATE requests per second (default 1000) for SECONDS (default 60) against URL (default
# http://127.0.0.1:8000). LOAD_TEST_TOKEN, when set, is sent as the bearer token
# (INGEST_API_TOKEN for post-events, READ_API_TOKEN for the reads).
#
# Scenarios:
#   post-events    POST /events, the same body each time: it has no id, so every request stores
#                  a new event (201), in hotel 1, outside the bench's hotels 2600-2649
#   get-events     GET /events?hotel_id=H&limit=100, H drawn from 2600-2649 (the bench's data)
#   get-dashboard  GET /dashboard?hotel_id=H&period=day&year=2022, H from 2600-2649
#
# At most 256 requests in flight (oha -c 256). oha's latency correction measures each latency
# from the request's scheduled start, so a server that falls behind shows in the percentiles
# instead of slowing the load down; requests still running at the end are waited for (-w).
set -euo pipefail

usage="usage: $0 post-events|get-events|get-dashboard [RATE] [SECONDS] [URL]"
scenario=${1:?$usage}
rate=${2:-1000}
seconds=${3:-60}
url=${4:-http://127.0.0.1:8000}
url=${url%/}

if ! command -v oha >/dev/null; then
  echo "oha is not installed: cargo install oha --locked" >&2
  exit 1
fi
if ! command -v jq >/dev/null; then
  echo "jq is not installed (apt-get install jq)" >&2
  exit 1
fi

args=(--no-tui --output-format json -q "$rate" -z "${seconds}s" -w -c 256 --latency-correction)
if [ -n "${LOAD_TEST_TOKEN:-}" ]; then
  args+=(-H "Authorization: Bearer $LOAD_TEST_TOKEN")
fi
# --rand-regex-url reads the URL as a regular expression, except that oha takes a dot as a dot
# (a base URL goes in as it is) and `?` has to be escaped.
hotel_regex='26[0-4][0-9]'
case $scenario in
  post-events)
    body='{"hotel_id":1,"event_timestamp":"2022-06-24T13:00:56Z","status":1,"room_reservation_id":"0013e338-0158-4d5c-8698-aebe00cba360","night_of_stay":"2022-06-26"}'
    label='`POST /events` (new events; the sync runs every 5 s)'
    args+=(-m POST -T application/json -d "$body" "$url/events")
    ;;
  get-events)
    label='`GET /events?hotel_id=…&limit=100`'
    args+=(--rand-regex-url "$url/events\\?hotel_id=$hotel_regex&limit=100")
    ;;
  get-dashboard)
    label='`GET /dashboard?hotel_id=…&period=day&year=2022` (50 hotels)'
    args+=(--rand-regex-url "$url/dashboard\\?hotel_id=$hotel_regex&period=day&year=2022")
    ;;
  *)
    echo "$usage" >&2
    exit 2
    ;;
esac

report=$(oha "${args[@]}")
printf '%s\n' "$report" >&2
printf '%s\n' "$report" | jq -r --arg name "$label" --arg rate "$rate" '
  (.statusCodeDistribution // {}) as $statuses
  | (.errorDistribution // {}) as $errors
  | ([$statuses[]] | add // 0) as $answered
  | ([$errors[]] | add // 0) as $failed
  | ([$statuses | to_entries[] | select(.key | startswith("2")) | .value] | add // 0) as $ok
  | .summary.total as $secs
  | .metrics.latency_ms as $ms
  | "| \($name) | \($rate) | \(($answered + $failed) / $secs | round) | \($ok / $secs | round) | \($ms.p50 * 100 | round / 100) ms | \($ms.p99 * 100 | round / 100) ms | \($ms.max * 100 | round / 100) ms | \($answered + $failed - $ok) | \($statuses | to_entries | map("\(.key): \(.value)") | join(", "))\(if $failed > 0 then ", errors: \($errors | tostring)" else "" end) |"'
