#!/usr/bin/env bash
# HTTP load test, all figures from one run on this machine:
#   1. /feasibility against /healthz (requests per second, p50, p99), wrk, same concurrency;
#   2. /feasibility with an integration's secret key against the same with the JWT;
#   3. /feasibility again while clients place reservations (durable, 201s per second).
# Starts the release server on a country-sized synthetic network (BOXES, default 1,000,000).
#
#   scripts/load-test.sh                     # full run (release build, 1M boxes, 20 s each)
#   SMOKE=1 scripts/load-test.sh             # CI: debug binary, 2,000 boxes, 2 s each
#   DATABASE_URL=postgres://... scripts/load-test.sh   # on PostgreSQL (default: a temp SQLite)
set -euo pipefail
cd "$(dirname "$0")/.."

BIN_GIVEN=${BIN:-}
if [ "${SMOKE:-0}" = 1 ]; then
  BOXES=${BOXES:-2000} DURATION=${DURATION:-2s} BIN=${BIN:-target/debug/feasibility}
else
  BOXES=${BOXES:-1000000} DURATION=${DURATION:-20s} BIN=${BIN:-target/release/feasibility}
fi
CONNS=${CONNS:-16} THREADS=${THREADS:-2} RESERVERS=${RESERVERS:-8}

if ! command -v wrk >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
# Always (re)build the default binary, so a stale one is never measured; BIN=... skips this.
if [ -z "${BIN_GIVEN:-}" ]; then
  case "$BIN" in
    *release*) cargo build --release --locked ;;
    *) cargo build --locked ;;
  esac
fi

work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export FEASIBILITY_JWT_SECRET="load-test-secret-0123456789abcdef"
export FEASIBILITY_DATABASE_URL="${DATABASE_URL:-sqlite://$work/load.db}"
export FEASIBILITY_LISTEN="127.0.0.1:$port"
export RUST_LOG=warn
base="http://127.0.0.1:$port"
started=$(date +%s)
"$BIN" demo --boxes "$BOXES" > "$work/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 1200); do
  grep -q "listening on port" "$work/server.log" 2>/dev/null && break
  kill -0 $pid 2>/dev/null || { cat "$work/server.log"; exit 1; }
  sleep 0.5
done
echo "server ready with $BOXES boxes after $(( $(date +%s) - started )) s"
token=$("$BIN" token --sub load --projects '*' \
  --scopes feasibility,reservations:write,reservations:read --ttl 2h)

# Query points: 1,000 addresses ~30 m from real boxes.
curl -fsS "$base/boxes?bbox=-56,-31,-34,-4&limit=10000" -H "Authorization: Bearer $token" > "$work/boxes.json"
python3 - "$work" "$token" <<'PY'
import json, random, sys
work, token = sys.argv[1], sys.argv[2]
feats = json.load(open(f"{work}/boxes.json"))["features"]
random.seed(7)
pts = [(f["geometry"]["coordinates"][1] + random.uniform(-3e-4, 3e-4),
        f["geometry"]["coordinates"][0] + random.uniform(-3e-4, 3e-4)) for f in random.sample(feats, min(1000, len(feats)))]
table = ",".join(f"{{{lat:.7f},{lon:.7f}}}" for lat, lon in pts)
common = f'''
local pts = {{{table}}}
local n = 0
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer {token}"
wrk.headers["Content-Type"] = "application/json"
'''
# Requests are made once, in init() (as wrk's example scripts do for fast servers): a
# Lua call per request would bill the load generator's work to /feasibility (the /healthz
# run sends one fixed request).
open(f"{work}/feasibility.lua", "w").write(common + '''
local reqs = {}
init = function(args)
  for i, p in ipairs(pts) do
    reqs[i] = wrk.format(nil, "/feasibility", nil, string.format('{"lat":%.7f,"lon":%.7f,"plan_id":"fibra-600","radius_m":250,"limit":5}', p[1], p[2]))
  end
end
request = function()
  n = n % #reqs + 1
  return reqs[n]
end
''')
open(f"{work}/reserve.lua", "w").write(common + '''
request = function()
  n = n % #pts + 1
  local p = pts[n]
  return wrk.format(nil, "/reservations", nil, string.format('{"lat":%.7f,"lon":%.7f,"radius_m":500,"address":"Rua Carga 1","customer":{"name":"Carga"}}', p[1], p[2]))
end
response = function(status, headers, body)
  if status == 201 then created = (created or 0) + 1 end
end
''')
PY
echo 'wrk.headers["Authorization"] = "Bearer '"$token"'"' > "$work/healthz.lua"

# The server's CPU time (user + system, from /proc), in clock ticks.
server_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
ticks_per_s=$(getconf CLK_TCK)

run() { # name, script, path, connections
  local before after
  before=$(server_ticks)
  wrk -t "$THREADS" -c "$4" -d "$DURATION" --latency -s "$2" "$base$3" > "$work/$1.out" 2>&1
  after=$(server_ticks)
  python3 - "$1" "$work/$1.out" "$(( after - before ))" "$ticks_per_s" <<'PY'
import re, sys
name, text = sys.argv[1], open(sys.argv[2]).read()
ticks, per_s = int(sys.argv[3]), int(sys.argv[4])
rps = re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)
total = int(re.search(r"(\d+) requests in", text).group(1))
def pct(p):
    m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)\b", text)
    v, unit = float(m.group(1)), m.group(2)
    return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v
non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
# Server CPU per request: the server's own cost, apart from the load generator's (both
# share the machine's cores). Under concurrent reservations it includes theirs too.
cpu = ticks / per_s / max(total, 1) * 1e6
print(f"{name:<34} {float(rps):>10.0f} req/s   p50 {pct(50):7.3f} ms   p99 {pct(99):7.3f} ms   server CPU {cpu:5.1f} us/req" + (f"   non-2xx {non2xx.group(1)}" if non2xx else ""))
PY
}

echo "concurrency: $CONNS connections, $THREADS wrk threads, $DURATION each"
run healthz "$work/healthz.lua" /healthz "$CONNS"
run feasibility "$work/feasibility.lua" /feasibility "$CONNS"
python3 - "$work/healthz.out" "$work/feasibility.out" <<'PY'
import re, sys
h, f = (float(re.search(r"Requests/sec:\s+([\d.]+)", open(p).read()).group(1)) for p in sys.argv[1:])
print(f"{'/feasibility / /healthz':<34} {f / h:>10.2f}x (target 0.5x)")
PY
# The same queries with an integration's secret key instead of the JWT (the key is issued
# through the CLI; the server follows the change log and takes it within a second).
cat > "$work/partner.json" <<JSON
{"id": "load", "name": "Load test", "projects": ["*"], "modules": ["feasibility"],
 "contacts": {"alert": ["a@load.example"], "emergency": ["+5511999990000"], "technical": ["t@load.example"],
   "operational": ["o@load.example"], "operational_public": "s@load.example"},
 "support_hours": [{"days": ["mon"], "from": "08:00", "to": "18:00", "time_zone": "America/Sao_Paulo"}]}
JSON
"$BIN" integration add "$work/partner.json" > /dev/null
key=$("$BIN" key issue --integration load --name load 2>/dev/null)
sed "s|Bearer $token|Bearer $key|" "$work/feasibility.lua" > "$work/feasibility-key.lua"
for _ in $(seq 1 50); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$base/feasibility" -H "Authorization: Bearer $key" \
    -H 'Content-Type: application/json' -d '{"lat": 0, "lon": 0}')" = 200 ] && break
  sleep 0.1
done
run "feasibility with a secret key" "$work/feasibility-key.lua" /feasibility "$CONNS"
python3 - "$work/feasibility.out" "$work/feasibility with a secret key.out" <<'PY'
import re, sys
j, k = (float(re.search(r"Requests/sec:\s+([\d.]+)", open(p).read()).group(1)) for p in sys.argv[1:])
print(f"{'secret key / JWT /feasibility':<34} {k / j:>10.2f}x (target 0.9x)")
PY

# Reservations and feasibility at once.
wrk -t 1 -c "$RESERVERS" -d "$DURATION" --latency -s "$work/reserve.lua" "$base/reservations" > "$work/reserve.out" 2>&1 &
rpid=$!
run "feasibility during reservations" "$work/feasibility.lua" /feasibility "$CONNS"
wait $rpid
python3 - "$work/reserve.out" "$RESERVERS" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
total = int(re.search(r"(\d+) requests in", text).group(1))
bad = int(non2xx.group(1)) if non2xx else 0
print(f"{'reservations (' + sys.argv[2] + ' clients, same time)':<34} {rps * (total - bad) / max(total, 1):>10.0f} 201/s     ({bad} of {total} refused)")
PY
