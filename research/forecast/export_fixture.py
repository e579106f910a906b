"""Writes the fixture the Rust forecast module is checked against (src/dashboard/forecast/, test
`real_hotel_matches_python`): for the real hotel, the Python study's WAPE per lead for the method and
the four baselines, p10-p90 coverage, and forecasts/bands/baselines for sampled (night, lead) pairs.
The events themselves are not copied: the Rust test reads data/city_hotel_events.csv.gz.
    python3 export_fixture.py > fixture_real.json"""
import json, math
import numpy as np
from load import load_events, lead_matrix
from baselines import BASELINES, wape
import forecast as F

FROM, TO = '2016-08-01', '2017-08-31'
LEADS = [7, 14, 30, 60, 90]
SAMPLE_LEADS = [0, 1, 7, 14, 30, 60, 90, 200, 370]

df = load_events()
n0, D = lead_matrix(df)
N = D.shape[0]
def ix(s): return int((np.datetime64(s) - n0).astype(int))
def day(i): return str(n0 + np.timedelta64(int(i), 'D'))
def num(x): return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)
idx = np.arange(ix(FROM), ix(TO) + 1)
y = D[:, 0].astype(float); fin = y[idx]
acc = []
for k in LEADS:
    f, p10, p90, w, C = F.forecast_all(D, k)
    row = {'lead': k, 'nights': len(idx), 'method': wape(f[idx], fin),
           'coverage': float(np.mean((fin >= p10[idx]) & (fin <= p90[idx])))}
    for nm, bf in BASELINES.items():
        v = bf(D, idx, k)
        row[nm] = num(wape(v, fin)) if (~np.isnan(v)).any() else None
        row[nm + '_nights'] = int((~np.isnan(v)).sum())
    acc.append(row)
rng = np.random.default_rng(18)
pairs = []
for k in SAMPLE_LEADS:
    f, p10, p90, w, C = F.forecast_all(D, k)
    for n in sorted(rng.choice(np.arange(0, N), 6, replace=False)):
        one = np.array([n])
        pairs.append({'night': day(n), 'lead': k, 'final': num(f[n]), 'p10': num(p10[n]), 'p90': num(p90[n]),
                      **{nm: num(bf(D, one, k)[0]) for nm, bf in BASELINES.items()}})
# Alerts: alerts.py's rule for a few as-of days whose 91 + 3 nights ahead are all in the data
# (alerts.py pools only nights before the last one with an event).
import sys
sys.argv = ['alerts.py', '--burst', '0', '--from', '2016-09-15', '--to', '2016-09-15']
import contextlib, io
with contextlib.redirect_stdout(io.StringIO()):
    import alerts as AL
alert_days = []
for s in ['2016-09-15', '2016-12-20', '2017-03-01', '2017-05-20']:
    a = ix(s)
    listed, score, out = AL.evaluate(a)
    alert_days.append({'as_of': s, 'horizon': AL.H,
                       'listed': [{'night': day(a + k), 'score': float(score[k]),
                                   'checks': [c for c, o in zip(['otb', 'pickup_1d', 'pickup_7d'], out[:, k]) if o]}
                                  for k in range(AL.H + 1) if listed[k]]})
print(json.dumps({'events': 'city_hotel_events.csv.gz', 'first_night': day(0), 'from': FROM, 'to': TO,
                  'accuracy': acc, 'pairs': pairs, 'alerts': alert_days}, indent=1))
