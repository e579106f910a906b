import numpy as np
from load import load_events, lead_matrix
from baselines import BASELINES, wape
df = load_events(); n0, D = lead_matrix(df)
def ix(s): return int((np.datetime64(s) - n0).astype(int))
idx = np.arange(ix('2016-08-01'), ix('2017-08-31') + 1)
fin = D[idx, 0].astype(float)
print('nights', len(idx))
print('lead  ' + '  '.join(f'{b:>22s}' for b in BASELINES))
for k in [1, 7, 14, 30, 60, 90]:
    print(f'{k:4d}  ' + '  '.join(f'{wape(f(D, idx, k), fin):22.4f}' for f in BASELINES.values()))
