"""Four textbook baselines on the lead matrix. All vectorised over nights.
D[i,k] = otb(night i, as-of i-k); fin[i] = D[i,0]."""
import numpy as np

def stly_final(D, idx, k):
    """absent (NaN) when night n-364 is before the hotel's first night, or after a (lead > 364: not known yet)"""
    ly = idx - 364
    if k > 364: return np.full(len(idx), np.nan)
    return np.where(ly >= 0, D[np.maximum(ly, 0), 0], np.nan)

def stly_pickup(D, idx, k):
    ly = idx - 364
    if k > 364: return np.full(len(idx), np.nan)
    lyc = np.maximum(ly, 0)
    return np.where(ly >= 0, D[idx, k] + D[lyc, 0] - D[lyc, k], np.nan)

def same_weekday_refs(idx, k, nmax=8, weeks=60, first=0):
    """matrix [len(idx), nmax] of reference night indices m = n-7j, j>=ceil(k/7) (m<=a), j<=weeks,
    m >= first (data start); -1 where absent."""
    j0 = max(1, -(-k // 7))
    js = np.arange(j0, j0 + nmax)
    M = idx[:, None] - 7 * js[None, :]
    M[(js[None, :] > weeks) | (M < first)] = -1
    return M

def additive_pickup(D, idx, k, nmax=8, weeks=60, first=0):
    M = same_weekday_refs(idx, k, nmax, weeks, first)
    ok = M >= 0
    Mc = np.where(ok, M, 0)
    pu = (D[Mc, 0] - D[Mc, k]) * ok
    cnt = ok.sum(1)
    mean = np.where(cnt > 0, pu.sum(1) / np.maximum(cnt, 1), np.nan)
    return D[idx, k] + mean

def multiplicative_pickup(D, idx, k, nmax=8, weeks=60, first=0):
    M = same_weekday_refs(idx, k, nmax, weeks, first)
    ok = M >= 0
    Mc = np.where(ok, M, 0)
    den = D[Mc, k]
    ok = ok & (den > 0)
    r = np.where(ok, D[Mc, 0] / np.where(ok, den, 1), 0)
    cnt = ok.sum(1)
    ratio = np.where(cnt > 0, r.sum(1) / np.maximum(cnt, 1), 1.0)
    return D[idx, k] * ratio

BASELINES = {'stly_final': stly_final, 'stly_pickup': stly_pickup,
             'additive_pickup': additive_pickup, 'multiplicative_pickup': multiplicative_pickup}

def wape(f, y):
    ok = ~np.isnan(f)
    return np.abs(f[ok] - y[ok]).sum() / y[ok].sum()
