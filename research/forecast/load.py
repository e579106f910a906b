"""Load events, build lead matrix D[n_idx, k] = otb(night n, as-of n-k)."""
import numpy as np, pandas as pd, os
import os
HERE = os.path.dirname(os.path.abspath(__file__))
# The real hotel shipped in data/, or EVENTS=path.csv.gz.
PATH = os.environ.get('EVENTS', os.path.join(HERE, '..', '..', 'data', 'city_hotel_events.csv.gz'))
CACHE = os.path.join(os.environ.get('TMPDIR', '/tmp'), 'roompulse-forecast-events.parquet')
KMAX = 800

def load_events():
    if os.path.exists(CACHE + '.pkl'):
        return pd.read_pickle(CACHE + '.pkl')
    df = pd.read_csv(PATH)
    df['night'] = pd.to_datetime(df['night_of_stay']).values.astype('datetime64[D]')
    df['eday'] = pd.to_datetime(df['event_timestamp']).values.astype('datetime64[D]')
    df = df[['room_reservation_id', 'night', 'id', 'status', 'eday', 'event_timestamp', 'hotel_id']]
    df.to_pickle(CACHE + '.pkl')
    return df

def lead_matrix(df, kmax=KMAX):
    """returns (night0, D) with D[i,k] = otb(night0+i, night0+i-k), k in 0..kmax.
    Events with event day > night contribute to final? -- final = otb(n,n): only event day <= n."""
    sign = np.where(df['status'].values == 1, 1, -1)
    night = df['night'].values.astype('datetime64[D]').astype(np.int64)
    eday = df['eday'].values.astype('datetime64[D]').astype(np.int64)
    n0 = night.min(); N = night.max() - n0 + 1
    lead = night - eday  # may be negative (event after night)
    # cum from far lead to near: otb(n, n-k) = sum of events with lead >= k
    M = np.zeros((N, kmax + 2), np.int64)
    l = np.clip(lead, -1, kmax + 1)  # lead > kmax: counted in all; lead<0: never counted (bucket -1 -> dropped)
    keep = l >= 0
    np.add.at(M, (night[keep] - n0, np.minimum(l[keep], kmax)), sign[keep])
    # D[:,k] = sum_{j>=k} M[:,j]
    D = np.cumsum(M[:, ::-1], axis=1)[:, ::-1][:, :kmax + 1]
    return np.datetime64(int(n0), 'D'), D
