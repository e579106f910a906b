"""The proposed method: inverse-error-weighted combination of four component forecasts, per lead,
with empirical p10/p90 from the combination's own past errors at that lead. Everything for a
forecast as of day a uses only nights m <= a-1 (finals known) and otb values as of <= a."""
import numpy as np

P = dict(nref=8, weeks=60, s=2, T=56, p=2.0, min_rows=14, Wq=91, qmin=28, lo=0.10, hi=0.90, rel=False, gamma=0.005, cap=1)

def components(D, k, nref=8, weeks=60, s=2, **_):
    """component forecasts of every night i at lead k (as of a = i-k). NaN = absent."""
    N = D.shape[0]; i = np.arange(N)
    o = D[:, k].astype(float)
    j0 = max(1, -(-k // 7)); js = np.arange(j0, j0 + nref)
    M = i[:, None] - 7 * js[None, :]
    ok = (M >= 0) & (js[None, :] <= weeks)
    Mc = np.where(ok, M, 0); cnt = ok.sum(1)
    with np.errstate(invalid='ignore', divide='ignore'):
        RF = np.where(cnt > 0, (D[Mc, 0] * ok).sum(1) / cnt, np.nan)
        RO = np.where(cnt > 0, (D[Mc, k] * ok).sum(1) / cnt, np.nan)
    # last year: nights l = n-364+7t, t=-s..s, that exist (>= first night) and whose final is known (l <= a-1)
    L = i[:, None] - 364 + 7 * np.arange(-s, s + 1)[None, :]
    okL = (L >= 0) & (L <= (i - k - 1)[:, None])
    Lc = np.clip(L, 0, N - 1); cL = okL.sum(1)
    with np.errstate(invalid='ignore', divide='ignore'):
        SF = np.where(cL > 0, (D[Lc, 0] * okL).sum(1) / cL, np.nan)
        SO = np.where(cL > 0, (D[Lc, k] * okL).sum(1) / cL, np.nan)
    return np.column_stack([o + RF - RO,      # A  additive pickup (the baseline)
                            o + SF - SO,      # P  STLY pickup, smoothed over 5 same-weekday nights
                            SF,               # S  STLY final, smoothed likewise
                            RF])              # R  recent level: mean final of the 8 reference nights

def combine(C, y, k, T=56, p=1.0, min_rows=14, **_):
    """combined forecast of every night i at lead k, plus the weights used."""
    N = len(y)
    E = np.abs(C - y[:, None]); av = ~np.isnan(E)
    cE = np.vstack([np.zeros((1, C.shape[1])), np.cumsum(np.where(av, E, 0), 0)])
    cN = np.vstack([np.zeros((1, C.shape[1])), np.cumsum(av, 0)])
    a = np.arange(N) - k
    lo = np.clip(a - T, 0, N); hi = np.clip(a, 0, N)          # training nights m in [a-T, a-1]
    sE = cE[hi] - cE[lo]; sN = cN[hi] - cN[lo]
    ok = (sN >= min_rows) & ~np.isnan(C)
    mae = sE / np.maximum(sN, 1)
    w = np.where(ok, 1.0 / np.maximum(mae, 0.5) ** p, 0.0)
    ws = w.sum(1)
    fallback = np.where(np.isnan(C[:, 0]), np.nan, C[:, 0])
    f = np.where(ws > 0, (w * np.where(ok, C, 0)).sum(1) / np.where(ws > 0, ws, 1), fallback)
    return f, w / np.where(ws > 0, ws, 1)[:, None]

def bands(f, y, k, Wq=91, qmin=28, lo=0.10, hi=0.90, rel=False, gamma=0.0, **_):
    """p10/p90 of every night i at lead k from the residuals y(m)-f(m) of nights m in [a-Wq, a-1].
    gamma > 0: adaptive conformal level (Gibbs & Candes 2021): the miss rate target 1-(hi-lo) is kept
    by moving the quantile level beta after each night whose final becomes known (delayed feedback)."""
    N = len(y)
    r = (y / np.maximum(f, 1)) if rel else (y - f)
    qlo = np.full(N, np.nan); qhi = np.full(N, np.nan)
    target = 1 - (hi - lo); beta = target
    betas = np.full(N + 1, target)   # betas[a] = level in force on as-of day a
    # the recursion runs over as-of days a = 0..N-1; on day a the final of night a-1 is known.
    for a in range(-k, N):
        if gamma > 0 and a >= 1:
            m = a - 1
            if not np.isnan(qlo[m]):
                miss = float(not (qlo[m] <= r[m] <= qhi[m]))
                beta = min(max(beta + gamma * (target - miss), 0.01), 0.9)
        if a >= 0: betas[a] = beta
        i = a + k
        if i >= N or i < 0: continue
        win = r[max(0, a - Wq):max(0, a)]
        win = win[~np.isnan(win)]
        if len(win) >= qmin:
            qlo[i], qhi[i] = np.quantile(win, [beta / 2, 1 - beta / 2])
    if rel:
        return np.maximum(f * qlo, 0), f * qhi
    return np.maximum(f + qlo, 0), f + qhi

def cap_series(y, k, window=364):
    """cap[i] = highest final among nights m in [a-window, a-1], a = i-k (NaN when none)"""
    N = len(y); out = np.full(N, np.nan)
    for i in range(N):
        a = i - k
        if a >= 1:
            out[i] = y[max(0, a - window):a].max()
    return out

def forecast_all(D, k, **kw):
    prm = dict(P); prm.update(kw)
    y = D[:, 0].astype(float)
    C = components(D, k, **prm)
    f, w = combine(C, y, k, **prm)
    p10, p90 = bands(f, y, k, **prm)      # bands from the uncapped combination's own residuals
    if prm['cap']:
        # a night does not end above the most the hotel has sold on one night in the last 364 nights,
        # unless it already has more than that on the books: cap the point forecast (not the band)
        cap = np.fmax(cap_series(y, k), D[:, k])
        f = np.where(np.isnan(cap), f, np.minimum(f, cap))
        p10 = np.where(np.isnan(p10), np.nan, np.minimum(p10, f))
    return f, p10, p90, w, C
