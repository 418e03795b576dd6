#!/usr/bin/env bash
# What demand counting costs the answers: `/feasibility` ÷ `/healthz` with counting on and
# off, in one run. Two servers on the same synthetic network (BOXES, default 1,000,000),
# one with `demand_counting = false`; wrk runs healthz then feasibility on each, in
# alternating order over ROUNDS rounds, and the ratios are averaged per server. The
# counting server flushes every second, so its flushes fall inside the measurement.
#
#   scripts/demand-bench.sh            # release build, 1M boxes, 10 s per run, 3 rounds
#   SMOKE=1 scripts/demand-bench.sh    # CI: debug binary, 2,000 boxes, 1 s per run, 1 round
set -euo pipefail
cd "$(dirname "$0")/.."

BIN_GIVEN=${BIN:-}
if [ "${SMOKE:-0}" = 1 ]; then
  BOXES=${BOXES:-2000} DURATION=${DURATION:-1s} ROUNDS=${ROUNDS:-1} BIN=${BIN:-target/debug/feasibility}
else
  BOXES=${BOXES:-1000000} DURATION=${DURATION:-10s} ROUNDS=${ROUNDS:-3} BIN=${BIN:-target/release/feasibility}
fi
CONNS=${CONNS:-16} THREADS=${THREADS:-2}

if ! command -v wrk >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
if [ -z "${BIN_GIVEN:-}" ]; then
  case "$BIN" in
    *release*) cargo build --release --locked ;;
    *) cargo build --locked ;;
  esac
fi

work=$(mktemp -d)
export FEASIBILITY_JWT_SECRET="demand-bench-secret-0123456789abcdef"
export FEASIBILITY_DEMAND_FLUSH_S=1
export RUST_LOG=warn
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"' EXIT

declare -A port
for mode in on off; do
  port[$mode]=$(free_port)
  counting=true
  [ "$mode" = off ] && counting=false
  FEASIBILITY_DEMAND_COUNTING=$counting FEASIBILITY_LISTEN="127.0.0.1:${port[$mode]}" \
    FEASIBILITY_DATABASE_URL="sqlite://$work/$mode.db" \
    "$BIN" demo --boxes "$BOXES" > "$work/server-$mode.log" 2>&1 &
  pids+=($!)
  eval "pid_$mode=$!"
done
for mode in on off; do
  for _ in $(seq 1 1200); do
    grep -q "listening on port" "$work/server-$mode.log" 2>/dev/null && break
    sleep 0.5
  done
  grep -q "listening on port" "$work/server-$mode.log" || { cat "$work/server-$mode.log"; exit 1; }
done
echo "two servers ready with $BOXES boxes (demand counting on and off)"
token=$("$BIN" token --sub bench --projects '*' --scopes feasibility,demand:read --ttl 2h)

curl -fsS "http://127.0.0.1:${port[on]}/boxes?bbox=-56,-31,-34,-4&limit=10000" \
  -H "Authorization: Bearer $token" > "$work/boxes.json"
python3 - "$work" "$token" <<'PY'
import json, random, sys
work, token = sys.argv[1], sys.argv[2]
feats = json.load(open(f"{work}/boxes.json"))["features"]
random.seed(7)
pts = [(f["geometry"]["coordinates"][1] + random.uniform(-3e-3, 3e-3),
        f["geometry"]["coordinates"][0] + random.uniform(-3e-3, 3e-3)) for f in random.sample(feats, min(1000, len(feats)))]
table = ",".join(f"{{{lat:.7f},{lon:.7f}}}" for lat, lon in pts)
# Spread over many cells and outcomes (points up to ~300 m from a box), requests made
# once in init() so that the load generator's Lua is not billed to the server.
open(f"{work}/feasibility.lua", "w").write(f'''
local pts = {{{table}}}
local n = 0
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer {token}"
wrk.headers["Content-Type"] = "application/json"
local reqs = {{}}
init = function(args)
  for i, p in ipairs(pts) do
    reqs[i] = wrk.format(nil, "/feasibility", nil, string.format('{{"lat":%.7f,"lon":%.7f,"plan_id":"fibra-600","radius_m":250,"limit":5}}', p[1], p[2]))
  end
end
request = function()
  n = n % #reqs + 1
  return reqs[n]
end
''')
PY

rps() { grep -oP 'Requests/sec:\s+\K[\d.]+' "$1"; }
for round in $(seq 1 "$ROUNDS"); do
  order="on off"
  [ $((round % 2)) = 0 ] && order="off on"
  for mode in $order; do
    base="http://127.0.0.1:${port[$mode]}"
    wrk -t "$THREADS" -c "$CONNS" -d "$DURATION" "$base/healthz" > "$work/h-$mode-$round.out" 2>&1
    wrk -t "$THREADS" -c "$CONNS" -d "$DURATION" -s "$work/feasibility.lua" "$base/feasibility" > "$work/f-$mode-$round.out" 2>&1
    echo "round $round counting $mode: healthz $(rps "$work/h-$mode-$round.out") req/s, feasibility $(rps "$work/f-$mode-$round.out") req/s"
  done
done

# The counting server stored what it counted; the other stored nothing.
sleep 2
cells() {
  curl -fsS "http://127.0.0.1:${port[$1]}/demand?bbox=-180,-90,180,90&resolution=5" -H "Authorization: Bearer $token" \
    | python3 -c 'import json, sys; print(sum(f["properties"]["total"] for f in json.load(sys.stdin)["features"]))'
}
counted_on=$(cells on) counted_off=$(cells off)

python3 - "$work" "$ROUNDS" "$counted_on" "$counted_off" <<'PY'
import re, sys
work, rounds, on_total, off_total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
def rps(path):
    return float(re.search(r"Requests/sec:\s+([\d.]+)", open(path).read()).group(1))
def total(path):
    return int(re.search(r"(\d+) requests in", open(path).read()).group(1))
ratio = {}
for mode in ("on", "off"):
    h = sum(rps(f"{work}/h-{mode}-{r}.out") for r in range(1, rounds + 1)) / rounds
    f = sum(rps(f"{work}/f-{mode}-{r}.out") for r in range(1, rounds + 1)) / rounds
    ratio[mode] = f / h
    print(f"demand counting {mode:<3}: feasibility {f:,.0f} req/s, healthz {h:,.0f} req/s, ratio {f / h:.3f}")
answered = sum(total(f"{work}/f-on-{r}.out") for r in range(1, rounds + 1))
print(f"counting on / off: {ratio['on'] / ratio['off']:.3f} of the ratio")
print(f"stored counts: {on_total:,} on the counting server (of {answered:,} answers), {off_total:,} on the other")
if off_total != 0 or on_total < answered:
    sys.exit("demand-bench.sh: the counts stored do not match the answers")
PY
