import numpy as np, pandas as pd
from load import load_events, lead_matrix
df = load_events()
print(len(df), df.hotel_id.unique(), df.status.value_counts().to_dict())
print('nights', df.night.min(), df.night.max(), 'edays', df.eday.min(), df.eday.max())
print('dup ids', df.id.duplicated().sum())
print('dup (res,night,status)', df.duplicated(['room_reservation_id','night','status']).sum())
print('dup (res,night,status,ts)', df.duplicated(['room_reservation_id','night','status','event_timestamp']).sum())
b = df[df.status==1].set_index(['room_reservation_id','night'])
c = df[df.status==2].set_index(['room_reservation_id','night'])
j = c.join(b, lsuffix='_c', rsuffix='_b', how='left')
print('cancels without booking', j.eday_b.isna().sum())
print('cancel eday < booking eday', (j.eday_c < j.eday_b).sum(), ' same day', (j.eday_c == j.eday_b).sum())
print('cancel ts < booking ts', (pd.to_datetime(j.event_timestamp_c) < pd.to_datetime(j.event_timestamp_b)).sum())
d = (j.eday_c - j.eday_b).dt.days
print('cancel-before-booking day diffs', d[d<0].describe())
print('events after night: booking', ((df.status==1)&(df.eday>df.night)).sum(), 'cancel', ((df.status==2)&(df.eday>df.night)).sum())
print('cancel after night days', (df[(df.status==2)&(df.eday>df.night)].eday - df[(df.status==2)&(df.eday>df.night)].night).dt.days.describe())
lead = (df.night - df.eday).dt.days
print('booking lead quantiles', lead[df.status==1].quantile([.5,.9,.99,1]).to_dict())
n0, D = lead_matrix(df)
print('neg otb cells', (D < 0).sum(), 'nights with some neg otb', (D<0).any(1).sum(), 'min', D.min())
nights = n0 + np.arange(len(D))
negn = nights[(D<0).any(1)]
print('neg nights sample', negn[:10])
# otb by as-of day (full grid, not just lead 0..800): check also a > n? not needed
fin = D[:,0]
s = pd.Series(fin, index=pd.to_datetime(nights))
print(s.resample('MS').mean().round(1).to_string())
# cancellations after the night -> final excludes them; how many room nights
print('final incl later cancels vs otb(n,n): total diff', ((df.status==2)&(df.eday>df.night)).sum())
# extra counts
nres = df.room_reservation_id.nunique()
canc_res = df[df.status == 2].room_reservation_id.nunique()
print('reservations', nres, 'cancelled', canc_res, f'({canc_res/nres:.1%})')
c = df[df.status == 2]
print('cancellations dated on the night itself', int((c.eday == c.night).sum()), 'of', len(c))
b = df[df.status == 1]
print('bookings dated on the night itself (lead 0)', int((b.eday == b.night).sum()), 'of', len(b))
print('earliest event day', df.eday.min(), ' max booking lead (days)', int(lead[df.status == 1].max()))
fin_s = pd.Series(fin, index=pd.to_datetime(nights))
print('nights with final 0 in 2015-07-15..2017-08-31:', int((fin_s['2015-07-15':'2017-08-31'] == 0).sum()))
print('final by weekday (2016-08..2017-08):', fin_s['2016-08-01':'2017-08-31'].groupby(fin_s['2016-08-01':'2017-08-31'].index.dayofweek).mean().round(1).to_dict())
