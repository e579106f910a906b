#!/usr/bin/env bash
# Applies the deltas setup.sh folded (CHUNK events a transaction) to fresh copies of the two
# dashboard tables, one transaction per chunk, with one of the statement shapes: `oc` (INSERT …
# ON CONFLICT, 61e6a84), `merge` (MERGE with index probes, today's; run it with
# SETS="SET enable_hashjoin = off; SET enable_mergejoin = off;" as apply_page does) or `cte`
# (UPDATE … RETURNING, then INSERT … WHERE NOT EXISTS). Prints the backend's CPU seconds, the
# wall time, the WAL written, the tables' row counts and digests of both tables (equal digests:
# the same figures).
#   SETS="…" scripts/dashboard-writes/run.sh merge FILLFACTOR_DAILY FILLFACTOR_PACE [CHUNK]
set -euo pipefail
P=${PG:-postgres://postgres@127.0.0.1:5432}/${DB:-dashwrites}
v=$1; ffd=$2; ffp=$3; SUF=_${4:-11500}
case $v in
oc) # today's statement
 D="INSERT INTO t_daily (hotel_id, basis, day, bookings, cancellations) SELECT * FROM unnest(\$1, \$2, \$3, \$4, \$5) ON CONFLICT (hotel_id, basis, day) DO UPDATE SET bookings = t_daily.bookings + EXCLUDED.bookings, cancellations = t_daily.cancellations + EXCLUDED.cancellations"
 PQ="INSERT INTO t_pace (hotel_id, night, event_day, bookings, cancellations) SELECT * FROM unnest(\$1, \$2, \$3, \$4, \$5) ON CONFLICT (hotel_id, night, event_day) DO UPDATE SET bookings = t_pace.bookings + EXCLUDED.bookings, cancellations = t_pace.cancellations + EXCLUDED.cancellations";;
cte)
 D="WITH u AS (SELECT * FROM unnest(\$1, \$2, \$3, \$4, \$5) AS u(h, a, b, bk, cn)), up AS (UPDATE t_daily t SET bookings = t.bookings + u.bk, cancellations = t.cancellations + u.cn FROM u WHERE t.hotel_id = u.h AND t.basis = u.a AND t.day = u.b RETURNING t.hotel_id, t.basis, t.day) INSERT INTO t_daily (hotel_id, basis, day, bookings, cancellations) SELECT * FROM u WHERE NOT EXISTS (SELECT FROM up WHERE up.hotel_id = u.h AND up.basis = u.a AND up.day = u.b)"
 PQ="WITH u AS (SELECT * FROM unnest(\$1, \$2, \$3, \$4, \$5) AS u(h, a, b, bk, cn)), up AS (UPDATE t_pace t SET bookings = t.bookings + u.bk, cancellations = t.cancellations + u.cn FROM u WHERE t.hotel_id = u.h AND t.night = u.a AND t.event_day = u.b RETURNING t.hotel_id, t.night, t.event_day) INSERT INTO t_pace (hotel_id, night, event_day, bookings, cancellations) SELECT * FROM u WHERE NOT EXISTS (SELECT FROM up WHERE up.hotel_id = u.h AND up.night = u.a AND up.event_day = u.b)";;
merge)
 D="MERGE INTO t_daily t USING unnest(\$1, \$2, \$3, \$4, \$5) AS u(h, a, b, bk, cn) ON t.hotel_id = u.h AND t.basis = u.a AND t.day = u.b WHEN MATCHED THEN UPDATE SET bookings = t.bookings + u.bk, cancellations = t.cancellations + u.cn WHEN NOT MATCHED THEN INSERT VALUES (u.h, u.a, u.b, u.bk, u.cn)"
 PQ="MERGE INTO t_pace t USING unnest(\$1, \$2, \$3, \$4, \$5) AS u(h, a, b, bk, cn) ON t.hotel_id = u.h AND t.night = u.a AND t.event_day = u.b WHEN MATCHED THEN UPDATE SET bookings = t.bookings + u.bk, cancellations = t.cancellations + u.cn WHEN NOT MATCHED THEN INSERT VALUES (u.h, u.a, u.b, u.bk, u.cn)";;
esac
psql $P -qAt -v ON_ERROR_STOP=1 <<SQL
DROP TABLE IF EXISTS t_daily, t_pace;
CREATE TABLE t_daily (hotel_id int4 NOT NULL, basis int2 NOT NULL CHECK (basis IN (1, 2)), day date NOT NULL, bookings int8 NOT NULL DEFAULT 0, cancellations int8 NOT NULL DEFAULT 0, PRIMARY KEY (hotel_id, basis, day)) WITH (fillfactor = $ffd);
CREATE TABLE t_pace (hotel_id int4 NOT NULL, night date NOT NULL, event_day date NOT NULL, bookings int8 NOT NULL DEFAULT 0, cancellations int8 NOT NULL DEFAULT 0, PRIMARY KEY (hotel_id, night, event_day)) WITH (fillfactor = $ffp);
CHECKPOINT;
${SETS:-}
SELECT pg_stat_reset();
CREATE TEMP TABLE m AS SELECT split_part(pg_read_file('/proc/self/stat'), ') ', 2) s, clock_timestamp() t, pg_current_wal_lsn() l;
DO \$\$
DECLARE r record; p record;
BEGIN
  FOR r IN SELECT * FROM dda${SUF:-} ORDER BY chunk LOOP
    SELECT * INTO p FROM pda${SUF:-} WHERE chunk = r.chunk;
    EXECUTE \$q\$$D\$q\$ USING r.h, r.a, r.b, r.bk, r.cn;
    EXECUTE \$q\$$PQ\$q\$ USING p.h, p.a, p.b, p.bk, p.cn;
    COMMIT;
  END LOOP;
END
\$\$;
SELECT format('$v ffd=$ffd ffp=$ffp cpu %s s wall %s s wal %s',
  ((split_part(split_part(pg_read_file('/proc/self/stat'), ') ', 2), ' ', 12)::int + split_part(split_part(pg_read_file('/proc/self/stat'), ') ', 2), ' ', 13)::int)
   - (split_part(s, ' ', 12)::int + split_part(s, ' ', 13)::int)) / 100.0,
  round(extract(epoch FROM clock_timestamp() - t)::numeric, 2), pg_size_pretty(pg_current_wal_lsn() - l)) FROM m;
SELECT pg_sleep(0.6);
SELECT format('  %s ins %s upd %s hot %s dead %s size %s', relname, n_tup_ins, n_tup_upd, n_tup_hot_upd, n_dead_tup, pg_size_pretty(pg_total_relation_size(relid))) FROM pg_stat_user_tables WHERE relname IN ('t_daily', 't_pace') ORDER BY 1;
SELECT '  digest ' || md5(string_agg(t::text, ',' ORDER BY t::text)) FROM t_daily t;
SELECT '  digest ' || md5(string_agg(t::text, ',' ORDER BY t::text)) FROM t_pace t;
SQL
