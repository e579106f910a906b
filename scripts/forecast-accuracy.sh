#!/usr/bin/env bash
# The forecast's accuracy table on the real city hotel (issue 18's evaluation): the service's own
# backtest, GET /dashboard/forecast/accuracy over the nights FROM … TO (default 2016-08-01 …
# 2017-08-31) at leads 7, 14, 30, 60 and 90, printed as the Markdown table of README and
# BENCHMARKS. Each forecast is made as of night − lead from the events dated up to that day.
#
#   scripts/forecast-accuracy.sh
#   BIN=target/debug/roompulse NO_BUILD=1 scripts/forecast-accuracy.sh   # without a release build
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/real-service.sh
. scripts/lib/real-service.sh
from=${FROM:-2016-08-01}
to=${TO:-2017-08-31}
curl -sf "$base/dashboard/forecast/accuracy?hotel_id=$hotel&from=$from&to=$to&leads=7,14,30,60,90" >"$work/accuracy.json"
python3 - "$work/accuracy.json" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))
print(f"Hotel {a['hotel_id']}, nights {a['from']} … {a['to']}: WAPE (lower is better)\n")
print("| lead (days) | nights | forecast | best baseline | ratio | p10–p90 coverage | STLY final | STLY pickup | additive pickup | multiplicative pickup |")
print("|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|")
ratios = []
for l in a["leads"]:
    w = lambda k: "–" if l[k]["wape"] is None else f"{l[k]['wape']:.3f}"
    ratios.append(l["ratio_to_best"])
    print(f"| {l['lead']} | {l['nights']} | **{w('forecast')}** | {l['best_baseline']} | {l['ratio_to_best']:.2f} | {100 * l['coverage']:.0f} % "
          f"| {w('stly_final')} | {w('stly_pickup')} | {w('additive_pickup')} | {w('multiplicative_pickup')} |")
print(f"\nMean ratio to the best baseline over the leads: {sum(ratios) / len(ratios):.2f}")
PY
