"""Mean combination weights per lead on the test period (what the method looks at)."""
import numpy as np
from load import load_events, lead_matrix
import forecast as F
n0, D = lead_matrix(load_events())
def ix(s): return int((np.datetime64(s) - n0).astype(int))
idx = np.arange(ix('2016-08-01'), ix('2017-08-31') + 1)
print('lead  A(additive) P(stly pickup) S(stly final) R(recent level)   share of nights capped')
y = D[:, 0].astype(float)
for k in [1, 7, 14, 30, 60, 90, 180]:
    C = F.components(D, k); f0, w = F.combine(C, y, k, **F.P)
    f = F.forecast_all(D, k)[0]
    print(f'{k:4d}  ' + '  '.join(f'{x:.2f}' for x in w[idx].mean(0)), f'   {np.mean(f[idx] < f0[idx] - 1e-9):.2f}')
