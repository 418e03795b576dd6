#!/usr/bin/env bash
# Fuzzes the live service against its own OpenAPI document with schemathesis (PyPI): any
# 5xx, or any answer that breaks the documented schema, fails the run.
# Usage: scripts/schemathesis.sh [path/to/feasibility]   (default: target/debug/feasibility)
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-target/debug/feasibility}"
examples="${SCHEMATHESIS_EXAMPLES:-25}"

if ! command -v st >/dev/null 2>&1; then
  python3 -m pip install --quiet schemathesis
fi
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export FEASIBILITY_JWT_SECRET="schemathesis-secret-0123456789abcdef"
export FEASIBILITY_DATABASE_URL="sqlite://$work/st.db"
export FEASIBILITY_LISTEN="127.0.0.1:$port"
export RUST_LOG=warn
"$bin" demo > "$work/demo.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 120); do
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.5
done
curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null
token=$("$bin" token --sub schemathesis --projects '*' \
  --scopes feasibility,reservations:write,reservations:read,reservations:manage,inventory:write,demand:read,admin --ttl 1h)

st run "http://127.0.0.1:$port/openapi.json" \
  --header "Authorization: Bearer $token" \
  --checks not_a_server_error,response_schema_conformance \
  --max-examples "$examples" \
  --request-timeout 10
