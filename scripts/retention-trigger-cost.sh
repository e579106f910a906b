#!/bin/bash
# The cost of the retired-ids check on insert (BENCHMARKS.md, "Retention"): loads 1,000,000 rows
# into a migrated events table in 200 statements of 5,000 rows, one transaction each, and prints
# the check's own time (pg_stat_user_functions) with retired_event_ids empty, with 1 M ids above
# the new ones, and with 1 M ids interleaved with them.
# Usage: scripts/retention-trigger-cost.sh [SCRATCH_DATABASE_URL] (a roompulse binary on PATH).
set -euo pipefail
DB=${1:-postgres://postgres@127.0.0.1:5432/roompulse_retention_cost}
DATA_PROVIDER_DATABASE_URL=$DB DASHBOARD_DATABASE_URL=${DB}_dashboard roompulse migrate >/dev/null
psql -q "$DB" <<'SQL'
\set ON_ERROR_STOP 1
TRUNCATE events, retired_event_ids;
DROP TABLE IF EXISTS src;
CREATE TABLE src AS
SELECT row_number() OVER (ORDER BY random()) AS rn, g AS id, (g % 10) + 1 AS hotel_id,
       timestamptz '2022-01-01' + random() * interval '730 days' AS event_timestamp,
       (1 + (g % 4 = 0)::int)::smallint AS status, gen_random_uuid() AS room_reservation_id,
       date '2022-01-01' + (g % 730) AS night_of_stay
FROM generate_series(1, 1000000) g;
CREATE INDEX ON src (rn);
ANALYZE src;
CREATE OR REPLACE PROCEDURE load_batches() LANGUAGE plpgsql AS $$
DECLARE i int;
BEGIN
  FOR i IN 0..199 LOOP
    INSERT INTO events (id, hotel_id, event_timestamp, status, room_reservation_id, night_of_stay, tx_id)
    SELECT id, hotel_id, event_timestamp, status, room_reservation_id, night_of_stay, 1
      FROM src WHERE rn > i * 5000 AND rn <= (i + 1) * 5000;
    COMMIT;
  END LOOP;
END $$;
SQL
measure() {
  psql -q "$DB" -c "TRUNCATE events" -c "SELECT pg_stat_reset()" >/dev/null
  PGOPTIONS="-c track_functions=all" psql -q "$DB" -c "CALL load_batches()" -c "SELECT pg_stat_force_next_flush()" >/dev/null
  sleep 1
  echo "$1: $(psql -At "$DB" -c "SELECT string_agg(funcname || ' ms=' || round(self_time::numeric, 1), '; ') FROM pg_stat_user_functions WHERE funcname IN ('load_batches', 'roompulse_refuse_retired_ids')")"
}
measure "retired_event_ids empty"
psql -q "$DB" -c "INSERT INTO retired_event_ids SELECT generate_series(2000001, 3000000)" -c "VACUUM ANALYZE retired_event_ids"
measure "1 M retired ids above the new ones"
psql -q "$DB" -c "TRUNCATE retired_event_ids" -c "UPDATE src SET id = id * 2" \
  -c "INSERT INTO retired_event_ids SELECT 2 * g - 1 FROM generate_series(1, 1000000) g" \
  -c "VACUUM ANALYZE retired_event_ids" -c "VACUUM ANALYZE src"
measure "1 M retired ids interleaved with the new ones"
