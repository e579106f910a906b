#!/usr/bin/env bash
# Schema fuzzing: schemathesis (PyPI) against both OpenAPI documents of a running `roompulse
# serve` on scratch databases and queue key. Passes when no request gets a 5xx and every
# response conforms to its documented status codes, content type, headers and schema.
# The two "acceptance" checks are left out on purpose: the schema cannot say that 30 February
# is no date or that years stop at 2100, and empty query values are accepted as absent (HTML
# forms send them).
# Bounded: MAX_EXAMPLES per operation (default 40), a fixed SEED (default 1) so that CI is
# repeatable; run with SEED=random for a fresh exploration.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BIN:-target/debug/roompulse}
[ -x "$bin" ] || cargo build --quiet
if ! command -v st >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check schemathesis
fi
run_id="roompulse_ci_fuzz_$$"
export DATA_PROVIDER_DATABASE_URL="postgres://postgres@127.0.0.1:5432/${run_id}_events"
export DASHBOARD_DATABASE_URL="postgres://postgres@127.0.0.1:5432/${run_id}_dashboard"
export EVENTS_QUEUE_KEY="roompulse-ci-fuzz-$$:events"
export RUST_LOG=warn
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export BIND_ADDR="127.0.0.1:$port"
serve_pid=""
cleanup() {
  [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null || true
  for db in "${run_id}_events" "${run_id}_dashboard"; do
    psql -h 127.0.0.1 -U postgres -q -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" postgres || true
  done
  redis-cli -h 127.0.0.1 --scan --pattern "roompulse-ci-fuzz-$$:*" | xargs -r redis-cli -h 127.0.0.1 del >/dev/null
}
trap cleanup EXIT
"$bin" serve --workers 1 &
serve_pid=$!
for _ in $(seq 1 60); do
  curl -fsS "http://$BIND_ADDR/health" >/dev/null 2>&1 && break
  sleep 0.5
done
seed_args=()
[ "${SEED:-1}" = random ] || seed_args=(--seed "${SEED:-1}")
checks=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance
for doc in data-provider dashboard; do
  echo "--- schemathesis: /api-docs/$doc.json"
  st run "http://$BIND_ADDR/api-docs/$doc.json" --max-examples "${MAX_EXAMPLES:-40}" \
    "${seed_args[@]}" --checks "$checks" --no-color
done
