#!/usr/bin/env bash
# The sync's writes without the sync (BENCHMARKS.md, "The dashboard's writes"): loads a CSV
# export into database $DB (default dashwrites) and folds its events, in file order, into the
# per-transaction deltas the sync would write for CHUNK events a commit (default 11,500, the
# chain's size): tables dda_CHUNK and pda_CHUNK, one row of column arrays per transaction.
#   scripts/dashboard-writes/setup.sh events.csv [CHUNK]
# The server reads the CSV itself (COPY FROM a file: same machine). Needs a superuser (run.sh reads the backend's CPU from /proc/self/stat with pg_read_file).
set -euo pipefail
csv=$(realpath "$1"); chunk=${2:-11500}
pg=${PG:-postgres://postgres@127.0.0.1:5432}; db=${DB:-dashwrites}
psql "$pg/postgres" -qAt -c "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1 ||
  psql "$pg/postgres" -q -c "CREATE DATABASE \"$db\""
psql "$pg/$db" -q -v ON_ERROR_STOP=1 <<SQL
DO \$\$ BEGIN
IF to_regclass('ev') IS NULL THEN
  CREATE TEMP TABLE csv (room_reservation_id text, night_of_stay date, id bigint, status int2,
    event_timestamp timestamp, hotel_id int4);
  EXECUTE format('COPY csv FROM %L CSV HEADER', '$csv');
  CREATE TABLE ev AS SELECT row_number() OVER () - 1 AS seq, hotel_id, status,
    event_timestamp::date AS event_day, night_of_stay FROM csv;
END IF; END \$\$;
DROP TABLE IF EXISTS dda_$chunk, pda_$chunk;
CREATE TABLE dda_$chunk AS
SELECT chunk, array_agg(hotel_id ORDER BY hotel_id, basis, day) h,
  array_agg(basis ORDER BY hotel_id, basis, day) a, array_agg(day ORDER BY hotel_id, basis, day) b,
  array_agg(bk ORDER BY hotel_id, basis, day) bk, array_agg(cn ORDER BY hotel_id, basis, day) cn
FROM (SELECT seq / $chunk AS chunk, hotel_id, basis::int2 AS basis, day,
        count(*) FILTER (WHERE status = 1)::int8 bk, count(*) FILTER (WHERE status = 2)::int8 cn
      FROM (SELECT seq, hotel_id, status, 1 AS basis, event_day AS day FROM ev
            UNION ALL SELECT seq, hotel_id, status, 2, night_of_stay FROM ev) x
      GROUP BY 1, 2, 3, 4) d
GROUP BY chunk;
CREATE TABLE pda_$chunk AS
SELECT chunk, array_agg(hotel_id ORDER BY hotel_id, night, event_day) h,
  array_agg(night ORDER BY hotel_id, night, event_day) a,
  array_agg(event_day ORDER BY hotel_id, night, event_day) b,
  array_agg(bk ORDER BY hotel_id, night, event_day) bk,
  array_agg(cn ORDER BY hotel_id, night, event_day) cn
FROM (SELECT seq / $chunk AS chunk, hotel_id, night_of_stay AS night, event_day,
        count(*) FILTER (WHERE status = 1)::int8 bk, count(*) FILTER (WHERE status = 2)::int8 cn
      FROM ev GROUP BY 1, 2, 3, 4) p
GROUP BY chunk;
SQL
