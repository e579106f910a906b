#!/usr/bin/env bash
# Builds the scratch database of BENCHMARKS.md's "GET /events filters at 10 M (issue 11)":
# the Data Provider's migrations, then ~RESERVATIONS × 4.67 generated events
# (scripts/filters-scratch.sql), PARTITION_ROWS arrivals a partition (2,000,000 by default), of
# HOTELS hotels (10 by default).
# Usage: [PARTITION_ROWS=N] [HOTELS=N] scripts/filters-scratch.sh [database] [reservations]
set -euo pipefail
cd "$(dirname "$0")/.."
DB=${1:-roompulse_scratch_filters}
RESERVATIONS=${2:-2140000}
PG=${PG:-"-h 127.0.0.1 -U postgres"}
# shellcheck disable=SC2086
{
  dropdb $PG --if-exists --force "$DB"
  createdb $PG "$DB"
  for f in migrations_data_provider/*/up.sql; do
    psql $PG -d "$DB" -q -v ON_ERROR_STOP=1 -f "$f" >/dev/null
  done
  psql $PG -d "$DB" -v ON_ERROR_STOP=1 -v reservations="$RESERVATIONS" \
    -v partition_rows="${PARTITION_ROWS:-2000000}" -v hotels="${HOTELS:-10}" \
    -f scripts/filters-scratch.sql
}
