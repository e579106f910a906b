#!/bin/bash
# Re-runs every number in REPORT.md (about 3-4 minutes on 2 cores). Needs numpy and pandas.
set -e
cd "$(dirname "$0")"
python3 quirks.py 2>/dev/null          > out_quirks.txt
python3 run_baselines.py               > out_baselines.txt
python3 baseline_variants.py 2>/dev/null > out_baseline_variants.txt
python3 evaluate.py                    > out_main.txt
python3 evaluate.py --leads 1,7,14,30,60,90,180 > out_main_more_leads.txt
python3 evaluate.py --set cap=0        > out_main_nocap.txt
python3 evaluate.py --set gamma=0      > out_main_noaci.txt
python3 evaluate.py --from 2016-01-01 --to 2016-07-31 --set gamma=0 > out_h1_2016_noaci.txt
python3 evaluate.py --from 2016-01-01 --to 2016-07-31 > out_h1_2016.txt
for s in 1 2 3; do python3 evaluate.py --thin 0.3 --seed $s > out_thin03_s$s.txt; done
python3 evaluate.py --thin 0.1         > out_thin01.txt
python3 ablation.py                    > out_ablation.txt
python3 weights_report.py              > out_weights.txt
python3 check_lookahead.py             > out_checks.txt
python3 reference.py                   >> out_checks.txt
python3 alerts.py                      > out_alerts_main.txt
python3 alerts.py --thin 0.3           > out_alerts_thin03.txt
python3 alerts.py --from 2016-01-01 --to 2016-07-31 > out_alerts_h1_2016.txt
python3 export_fixture.py            > fixture_real.json
tail -n +1 out_*.txt
