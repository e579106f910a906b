"""python3 evaluate.py [--from 2016-08-01 --to 2017-08-31 --thin 1.0 --seed 1 --set key=val ...]"""
import numpy as np, argparse
from load import load_events, lead_matrix
from baselines import BASELINES, wape
import forecast as F
ap = argparse.ArgumentParser()
ap.add_argument('--from', dest='frm', default='2016-08-01'); ap.add_argument('--to', default='2017-08-31')
ap.add_argument('--thin', type=float, default=1.0); ap.add_argument('--seed', type=int, default=1)
ap.add_argument('--leads', default='7,14,30,60,90'); ap.add_argument('--set', nargs='*', default=[])
ap.add_argument('--quiet', action='store_true')
A = ap.parse_args()
kw = {}
for s in A.set:
    kk, v = s.split('='); kw[kk] = type(F.P[kk])(eval(v)) if kk != 'rel' else v == 'True'
df = load_events()
if A.thin < 1:   # synthetic small hotel: keep each reservation (all its nights and its cancellation) with prob thin
    rng = np.random.default_rng(A.seed)
    res = df.room_reservation_id.unique()
    keep = set(res[rng.random(len(res)) < A.thin])
    df = df[df.room_reservation_id.isin(keep)]
n0, D = lead_matrix(df)
def ix(s): return int((np.datetime64(s) - n0).astype(int))
idx = np.arange(ix(A.frm), ix(A.to) + 1)
y = D[:, 0].astype(float); fin = y[idx]
leads = [int(x) for x in A.leads.split(',')]
rows = []
absent = {}
print(f'nights {A.frm}..{A.to} ({len(idx)}), thin={A.thin}, params {dict(F.P, **kw)}')
print(' lead  additive  stly_pick  stly_fin  mult_pick |  best   method  ratio  coverage  width/final')
for k in leads:
    b = {}
    for nm, bf in BASELINES.items():
        v = bf(D, idx, k)
        b[nm] = wape(v, fin) if np.mean(np.isnan(v)) == 0 else np.nan   # a baseline absent on some nights is not a candidate for 'best'
        if np.isnan(v).any(): absent[nm] = f'{np.isnan(v).sum()} nights absent, WAPE on the rest {wape(v, fin):.4f}'
    f, p10, p90, w, C = F.forecast_all(D, k, **kw)
    fm = wape(f[idx], fin)
    cov = np.mean((fin >= p10[idx]) & (fin <= p90[idx]))
    wid = np.nansum(p90[idx] - p10[idx]) / fin.sum()
    bb = np.nanmin(list(b.values()))
    rows.append((bb, fm))
    print(f'{k:5d}  {b["additive_pickup"]:.4f}  {b["stly_pickup"]:.4f}  {b["stly_final"]:.4f}  {b["multiplicative_pickup"]:.4f} | {bb:.4f}  {fm:.4f}  {fm/bb:.3f}  {cov:.3f}  {wid:.3f}')
r = np.array(rows)
for nm, t in absent.items(): print(f'  (absent baseline {nm}: {t})')
print(f'mean WAPE: best baseline {r[:,0].mean():.4f}  method {r[:,1].mean():.4f}  ratio-of-means {r[:,1].mean()/r[:,0].mean():.3f}  mean-of-ratios {(r[:,1]/r[:,0]).mean():.3f}')
