"""Alert rule backtest. python3 alerts.py [--thin 0.3]
For as-of day a and each night n = a+k, k = 0..H, three checks with values
  x_otb = otb(n,a) - RO(n,k)      (on the books vs the mean otb at lead k of the 8 same-weekday reference nights)
  x_pu1 = otb(n,a) - otb(n,a-1)   (net pickup over the last day)
  x_pu7 = otb(n,a) - otb(n,a-7)   (net pickup over the last 7 days)
Each check's usual range at lead k as of a comes from the same value for the nights d+j at lead j
for as-of days d in [a-W, a-1] and leads j in [k-B, k+B] (all known by a-1).
Listed if x < q(lo) or x > q(hi); score = |x - median| / max(1, (q90 - q10)/2.5631)."""
import numpy as np, argparse
from load import load_events, lead_matrix
from forecast import components
ap = argparse.ArgumentParser()
ap.add_argument('--thin', type=float, default=1.0); ap.add_argument('--seed', type=int, default=1)
ap.add_argument('--from', dest='frm', default='2016-08-01'); ap.add_argument('--to', default='2017-08-31')
ap.add_argument('--W', type=int, default=91); ap.add_argument('--B', type=int, default=3)
ap.add_argument('--q', type=float, default=0.01); ap.add_argument('--H', type=int, default=90)
ap.add_argument('--otb', default='mix')
ap.add_argument('--agg', default='max')
ap.add_argument('--burst', type=int, default=30); ap.add_argument('--burst_lead', type=int, default=40)
A = ap.parse_args()
df = load_events()
if A.thin < 1:
    rng = np.random.default_rng(A.seed); res = df.room_reservation_id.unique()
    df = df[df.room_reservation_id.isin(set(res[rng.random(len(res)) < A.thin]))]
n0, D = lead_matrix(df)
N, K = D.shape
def ix(s): return int((np.datetime64(s) - n0).astype(int))
H, W, B = A.H, A.W, A.B
KL = H + B + 1
# X[c][n, k] = value of check c for night n at lead k (as of n-k); NaN where undefined
X = np.full((3, N, KL), np.nan)
RO = np.full((N, KL), np.nan)
for k in range(KL):
    C = components(D, k)             # A = o + RF - RO  -> RO = o + RF - A ; R = RF
    o = D[:, k].astype(float)
    RO[:, k] = o + C[:, 3] - C[:, 0]
    if A.otb == 'mix':      # expected otb: mean of RO and last year's smoothed otb at lead k (P = o + SF - SO)
        SO = o + C[:, 2] - C[:, 1]
        RO[:, k] = np.where(np.isnan(SO), RO[:, k], 0.5 * (RO[:, k] + SO))
    X[0, :, k] = o - RO[:, k]
    X[1, :, k] = D[:, k] - D[:, k + 1]
    X[2, :, k] = D[:, k] - D[:, k + 7]
qs = [A.q, 0.10, 0.50, 0.90, 1 - A.q]
def ranges(a):
    """quantile table [3 checks, H+1 leads, 5 quantiles] for as-of day a."""
    out = np.full((3, H + 1, 5), np.nan)
    d = np.arange(max(0, a - W), a)
    for k in range(H + 1):
        js = np.arange(max(0, k - B), k + B + 1)
        nn = d[:, None] + js[None, :]
        ok = nn < N
        vals = X[:, np.where(ok, nn, 0), js[None, :]][:, ok]
        out[:, k, :] = np.nanquantile(vals, qs, axis=1).T
    return out
def evaluate(a, Dm=None, extra=None):
    """listed flags and scores for nights a..a+H as of a. extra: (night, count) burst booked on day a."""
    k = np.arange(H + 1); n = a + k; okn = n < N
    n = np.where(okn, n, 0)
    o = D[n, k].astype(float); o1 = D[n, k + 1].astype(float); o7 = D[n, k + 7].astype(float)
    if extra is not None:
        o = o + np.where(n == extra[0], extra[1], 0)
    x = np.stack([o - RO[n, k], o - o1, o - o7])
    R = ranges(a)
    lo, q10, med, q90, hi = [R[:, :, j] for j in range(5)]
    s = np.maximum(1.0, (q90 - q10) / 2.5631)
    out = (x < lo) | (x > hi)
    score = np.abs(x - med) / s
    score = np.where(out, score, 0).max(0) if A.agg == 'max' else score.sum(0)
    listed = out.any(0) & okn
    return listed, np.where(listed, score, 0), out
days = np.arange(ix(A.frm), ix(A.to) + 1)
days = days[days + H < N]
shares = []; per_check = []; top = 0; ranks = []
for a in days:
    listed, score, out = evaluate(a)
    shares.append(listed.mean()); per_check.append(out.mean(1))
    if A.burst:
        nb = a + A.burst_lead
        l2, s2, _ = evaluate(a, extra=(nb, A.burst))
        order = np.argsort(-s2, kind='stable')
        r = int(np.where(order == A.burst_lead)[0][0]) + 1 if l2[A.burst_lead] else 999
        ranks.append(r)
shares = np.array(shares); ranks = np.array(ranks)
print(f'as-of days {len(days)} ({A.frm}..{A.to}), horizon {H}, W={W}, B={B}, q={A.q}, thin={A.thin}')
print(f'share of the next {H+1} nights listed: mean {shares.mean():.3f}  median {np.median(shares):.3f}  p90 {np.quantile(shares, .9):.3f}  max {shares.max():.3f}')
print('per check (otb, pu1, pu7) share:', np.array(per_check).mean(0).round(3))
if A.burst:
    print(f'burst {A.burst} bookings at lead {A.burst_lead}: listed first on {np.mean(ranks == 1):.3f} of days, listed at all {np.mean(ranks < 999):.3f}, worst rank {ranks.max()}')
