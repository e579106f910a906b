"""Which reading of the baseline definitions reproduces the issue's figures (nights 2016-08-01..2017-08-31)."""
import numpy as np
from load import load_events, lead_matrix
from baselines import wape, BASELINES
df = load_events(); n0, D = lead_matrix(df)
def ix(s): return int((np.datetime64(s) - n0).astype(int))
idx = np.arange(ix('2016-08-01'), ix('2017-08-31') + 1); fin = D[idx, 0].astype(float)
def add_var(k, j0, nmax=8, mult=False):
    js = np.arange(j0, j0 + nmax); M = idx[:, None] - 7 * js[None, :]
    if not mult:
        return D[idx, k] + (D[M, 0] - D[M, k]).mean(1)
    den = D[M, k]; ok = den > 0
    r = np.where(ok, D[M, 0] / np.where(ok, den, 1), 0); c = ok.sum(1)
    return D[idx, k] * np.where(c > 0, r.sum(1) / np.maximum(c, 1), 1)
def first8(k, mult=False):
    js = np.arange(1, 9); M = idx[:, None] - 7 * js[None, :]; ok = M <= (idx - k)[:, None]
    pu = np.where(ok, D[M, 0] - D[M, k], 0); c = ok.sum(1)
    return D[idx, k] + np.where(c > 0, pu.sum(1) / np.maximum(c, 1), np.nan)
print('lead | issue | additive: m<=a (used) | m<a strict | only n-7..n-56 (absent if none) | mult m<=a | mult mean-of-ratios incl. otb=0 as skip (used) | stly_pickup 364 | 365 | stly_final 364 | 365')
issue = {7: 0.034, 14: 0.049, 30: 0.106, 60: 0.183, 90: 0.195}
for k in [7, 14, 30, 60, 90]:
    j0 = max(1, -(-k // 7)); j0s = k // 7 + 1
    v = [wape(add_var(k, j0), fin), wape(add_var(k, j0s), fin)]
    f8 = first8(k); v.append(f'{wape(f8, fin):.4f} ({np.isnan(f8).sum()} absent)')
    v.append(wape(add_var(k, j0, mult=True), fin))
    v.append(wape(BASELINES['multiplicative_pickup'](D, idx, k), fin))
    for L in (364, 365):
        v.append(wape(D[idx, k] + D[idx - L, 0] - D[idx - L, k], fin))
    for L in (364, 365):
        v.append(wape(D[idx - L, 0].astype(float), fin))
    print(k, issue[k], ' '.join(x if isinstance(x, str) else f'{x:.4f}' for x in v))
