"""Scalar reference implementation of REPORT.md's algorithm (plain loops, no numpy tricks), written from the
spec to cross-check forecast.py. otb(n, a) is read through a function so the same code can sit on any store.
python3 reference.py  -> compares with forecast.py for a few leads on the real hotel."""
import math
import numpy as np

NREF, WEEKS, S, T, PEXP, MINROWS, WQ, QMIN, GAMMA, TARGET = 8, 60, 2, 56, 2.0, 14, 91, 28, 0.005, 0.20

class Hotel:
    def __init__(self, D):
        self.D = D; self.N = D.shape[0]          # nights 0..N-1 (0 = the hotel's first night)
    def otb(self, n, a):                         # on the books of night n as of day a (a <= n)
        k = n - a
        return int(self.D[n, k]) if k < self.D.shape[1] else 0
    def final(self, n):
        return int(self.D[n, 0])

def components(h, n, k):
    a = n - k
    o = h.otb(n, a)
    j0 = max(1, math.ceil(k / 7))
    refs = [n - 7 * j for j in range(j0, j0 + NREF) if j <= WEEKS and n - 7 * j >= 0]
    if refs:
        RF = sum(h.final(m) for m in refs) / len(refs)
        RO = sum(h.otb(m, m - k) for m in refs) / len(refs)
        A, R = o + RF - RO, RF
    else:
        A = R = None
    ly = [n - 364 + 7 * t for t in range(-S, S + 1)]
    ly = [l for l in ly if 0 <= l <= a - 1]
    if ly:
        SF = sum(h.final(l) for l in ly) / len(ly)
        SO = sum(h.otb(l, l - k) for l in ly) / len(ly)
        P, Sv = o + SF - SO, SF
    else:
        P = Sv = None
    return [A, P, Sv, R], o

def quantile(xs, p):                             # linear interpolation between order statistics (numpy default)
    xs = sorted(xs); h = (len(xs) - 1) * p
    lo = math.floor(h); hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (h - lo) * (xs[hi] - xs[lo])

def lead_series(h, k):
    """forecast, p10, p90 of every night at lead k, in night order (as the service's daily job would)."""
    N = h.N
    comps = [components(h, n, k) for n in range(N)]
    f = [None] * N; band = [None] * N; p10 = [None] * N; p90 = [None] * N
    for n in range(N):
        a = n - k
        c, o = comps[n]
        ws = []; vals = []
        for ci in range(4):
            if c[ci] is None: continue
            err = cnt = 0
            for m in range(max(0, a - T), max(0, a)):
                cm = comps[m][0][ci]
                if cm is None: continue
                err += abs(cm - h.final(m)); cnt += 1
            if cnt >= MINROWS:
                ws.append(1.0 / max(err / cnt, 0.5) ** PEXP); vals.append(c[ci])
        if ws:
            f[n] = sum(w * v for w, v in zip(ws, vals)) / sum(ws)
        else:
            f[n] = c[0] if c[0] is not None else None
    # bands with the adaptive level beta, updated each as-of day d with the miss of night d-1
    beta = TARGET
    for d in range(-k, N):
        if d >= 1 and band[d - 1] is not None:
            lo, hi = band[d - 1]; r = h.final(d - 1) - f[d - 1]
            miss = 0.0 if lo <= r <= hi else 1.0
            beta = min(max(beta + GAMMA * (TARGET - miss), 0.01), 0.9)
        n = d + k
        if n < 0 or n >= N or f[n] is None: continue
        win = [h.final(m) - f[m] for m in range(max(0, d - WQ), max(0, d)) if f[m] is not None]
        if len(win) >= QMIN:
            band[n] = (quantile(win, beta / 2), quantile(win, 1 - beta / 2))
            p10[n] = max(0.0, f[n] + band[n][0]); p90[n] = f[n] + band[n][1]
    # cap the point forecast (after the bands, which use the uncapped combination's residuals)
    out = list(f)
    for n in range(N):
        a = n - k
        if out[n] is not None and a >= 1:    # highest final of the last 364 nights, or otb if higher
            cap = max(h.final(m) for m in range(max(0, a - 364), a))
            out[n] = min(out[n], max(cap, comps[n][1]))
            if p10[n] is not None: p10[n] = min(p10[n], out[n])
    return out, p10, p90

if __name__ == '__main__':
    import time
    from load import load_events, lead_matrix
    import forecast as F
    n0, D = lead_matrix(load_events()); h = Hotel(D)
    for k in [0, 3, 30, 90, 200, 370]:
        t = time.time()
        f, p10, p90 = lead_series(h, k)
        g = F.forecast_all(D, k)
        nf = lambda x: np.array([np.nan if v is None else v for v in x], float)
        for a_, b_ in zip((f, p10, p90), g[:3]):
            assert np.allclose(nf(a_), b_, equal_nan=True, atol=1e-9), k
        print(f'lead {k}: reference == forecast.py on all {h.N} nights ({time.time() - t:.1f} s)')
