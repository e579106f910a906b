"""Ablation: component subsets and weighting exponent (main test period and the 30 % thinned hotel)."""
import numpy as np
from load import load_events, lead_matrix
from baselines import BASELINES, wape
import forecast as F
df0 = load_events()
rng = np.random.default_rng(1); res = df0.room_reservation_id.unique()
sets = {'real': df0, 'thin0.3': df0[df0.room_reservation_id.isin(set(res[rng.random(len(res)) < 0.3]))]}
names = ['A', 'P', 'S', 'R']
for nm, df in sets.items():
    n0, D = lead_matrix(df)
    def ix(s): return int((np.datetime64(s) - n0).astype(int))
    idx = np.arange(ix('2016-08-01'), ix('2017-08-31') + 1); y = D[:, 0].astype(float); fin = y[idx]
    best = {k: np.nanmin([wape(f(D, idx, k), fin) for f in BASELINES.values()]) for k in [7, 14, 30, 60, 90]}
    print(f'[{nm}] best baseline', ' '.join(f'{v:.4f}' for v in best.values()))
    for cols in [[0, 1], [0, 1, 2], [0, 3], [0, 1, 3], [0, 1, 2, 3]]:
        for p in [0.0, 1.0, 2.0]:
            ws = []
            for k in best:
                C = F.components(D, k)[:, cols]
                f, _ = F.combine(C, y, k, p=p)
                ws.append(wape(f[idx], fin))
            rat = [w / best[k] for w, k in zip(ws, best)]
            print(f'  {"+".join(names[c] for c in cols):8s} p={p:.0f}  ', ' '.join(f'{w:.4f}' for w in ws),
                  f' ratios {" ".join(f"{r:.2f}" for r in rat)}  mean {np.mean(rat):.3f}')
