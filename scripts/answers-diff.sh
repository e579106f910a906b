#!/usr/bin/env bash
# Are two builds' answers byte-identical? Each of BIN_A and BIN_B serves the real city hotel of
# data/ beside a generated hotel of the same size (scripts/lib/real-service.sh, TWIN=1) on
# scratch databases of its own; the same requests (every Dashboard figure endpoint with and
# without its defaults, the chart page's views, the hotels' events) go to both, and their
# bodies are compared. Exit status 0: identical. For refactorings that must not change
# behaviour:
#   BIN_A=/path/old/roompulse BIN_B=target/debug/roompulse scripts/answers-diff.sh
set -euo pipefail
cd "$(dirname "$0")/.."
: "${BIN_A:?the baseline roompulse binary}" "${BIN_B:?the roompulse binary to compare}"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# The requests for hotel $1, whose busiest year is $2.
requests() {
  local h=$1 y=$2 n=$(($2 + 1))
  cat <<URLS
/dashboard?hotel_id=$h&period=month&year=$y
/dashboard?hotel_id=$h&period=month&year=$y&basis=stay
/dashboard?hotel_id=$h&period=day&year=$y&month=8&basis=stay
/dashboard?hotel_id=$h&period=day&year=$y&month=3&day=14
/dashboard/pace?hotel_id=$h
/dashboard/pace?hotel_id=$h&as_of=$y-06-01&from=$y-06-01&to=$n-05-31&pickup=1,7,28,90
/dashboard/booking-curve?hotel_id=$h&night=$y-08-01
/dashboard/booking-curve?hotel_id=$h&night=$y-12-31&days=400
/dashboard/lead-time?hotel_id=$h&from=$y-01-01&to=$y-12-31
/dashboard/forecast?hotel_id=$h
/dashboard/forecast?hotel_id=$h&as_of=$y-06-01&from=$y-06-01&to=$n-03-31
/dashboard/forecast/accuracy?hotel_id=$h&from=$y-01-01&to=$y-12-31
/dashboard/forecast/accuracy?hotel_id=$h&from=$y-03-01&to=$y-09-30&leads=0,3,45,365
/dashboard/alerts?hotel_id=$h
/dashboard/alerts?hotel_id=$h&as_of=$y-06-01&horizon=365
/?hotel_id=$h&year=$y
/?hotel_id=$h&year=$y&basis=stay&month=8
/?view=pace&hotel_id=$h&as_of=$y-06-01
/?view=pace&hotel_id=$h&as_of=$y-06-01&night=$y-07-15
/events?hotel_id=$h&limit=500&night_of_stay__gte=$y-08-01&rpg_status=2
URLS
}

busiest_year() { awk -F, -v h="$2" 'NR > 1 && $6 + 0 == h { n[substr($5, 1, 4)]++ } END { for (y in n) if (n[y] > m) { m = n[y]; b = y } print b }' "$1"; }

for side in A B; do
  bin_var="BIN_$side"
  (
    export BIN=${!bin_var} NO_BUILD=1 TWIN=1 DASHBOARD_CACHE_MS=0
    # shellcheck source=lib/real-service.sh
    source scripts/lib/real-service.sh
    twin=$(sed -n 2p "$work/twin.csv" | awk -F, '{ print $6 }' | tr -d '\r')
    for h in "$hotel" "$twin"; do
      csv=$work/real.csv
      [ "$h" = "$hotel" ] || csv=$work/twin.csv
      requests "$h" "$(busiest_year "$csv" "$h")"
    done >"$out/requests"
    i=0
    while read -r path; do
      i=$((i + 1))
      curl -s -o "$out/$side.$i" -w '%{http_code}\n' "$base$path" >"$out/$side.$i.status"
    done <"$out/requests"
  )
done

differ=0
i=0
while read -r path; do
  i=$((i + 1))
  if cmp -s "$out/A.$i" "$out/B.$i" && cmp -s "$out/A.$i.status" "$out/B.$i.status"; then
    echo "same     $(cat "$out/A.$i.status") $(wc -c <"$out/A.$i") B  $path"
    grep -q '^2' "$out/A.$i.status" || echo "         $(head -c 300 "$out/A.$i")"
  else
    echo "DIFFERS  $(cat "$out/A.$i.status")/$(cat "$out/B.$i.status")  $path"
    differ=1
  fi
done <"$out/requests"
exit $differ
