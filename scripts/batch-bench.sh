#!/usr/bin/env bash
# Batch feasibility throughput, all in one run on the same network and the same points:
#   1. POST /feasibility/batch over HTTP, CSV in and CSV out, one request (curl streams the
#      file up and the answer down), with the server's peak RSS during the batch, for a
#      tenth of the points and for all of them (memory must not grow with the rows);
#   2. PostGIS answering the same points in one set-based query (a LATERAL join with
#      ST_DWithin and `<->` KNN over geography; scripts/postgis-setup.sh);
#   3. a sample of the same points sent one by one to POST /feasibility (wrk, CONNS
#      connections), per second.
# The server runs the release build on PostgreSQL with a synthetic network of BOXES boxes.
#
#   scripts/batch-bench.sh              # 1,000,000 boxes, 1,000,000 points
#   SMOKE=1 scripts/batch-bench.sh      # CI: debug build, 2,000 boxes, 5,000 points
set -euo pipefail
cd "$(dirname "$0")/.."
PG=${PG:-postgres://postgres@127.0.0.1:5432}
DB=ftth_batch_bench
CONNS=${CONNS:-16}
BIN_GIVEN=${BIN:-}
if [ "${SMOKE:-0}" = 1 ]; then
  BOXES=${BOXES:-2000} POINTS=${POINTS:-5000} DURATION=${DURATION:-2s} BIN=${BIN:-target/debug/feasibility}
else
  BOXES=${BOXES:-1000000} POINTS=${POINTS:-1000000} DURATION=${DURATION:-20s} BIN=${BIN:-target/release/feasibility}
fi
RADIUS=250 PLAN=fibra-600

command -v wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
if [ -z "$BIN_GIVEN" ]; then
  case "$BIN" in
    *release*) cargo build --release --locked ;;
    *) cargo build --locked ;;
  esac
fi

work=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export FEASIBILITY_JWT_SECRET="batch-bench-secret-0123456789abcdef"
export FEASIBILITY_DATABASE_URL="$PG/$DB"
export FEASIBILITY_LISTEN="127.0.0.1:$port"
export RUST_LOG=warn
base="http://127.0.0.1:$port"
started=$(date +%s)
"$BIN" demo --boxes "$BOXES" > "$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 1200); do
  grep -q "listening on port" "$work/server.log" 2>/dev/null && break
  kill -0 $pid 2>/dev/null || { cat "$work/server.log"; exit 1; }
  sleep 0.5
done
echo "server ready with $BOXES boxes after $(( $(date +%s) - started )) s"
token=$("$BIN" token --sub batch-bench --projects '*' --scopes feasibility --ttl 2h)

# The points: each within ~30 m of a random box (as the other benches ask), one in ten
# somewhere with no box near, so every outcome is there. Written once, as CSV.
psql "$PG/$DB" -Atqc "\\copy (SELECT lat, lon FROM boxes ORDER BY random() LIMIT 100000) TO '$work/boxes.csv' CSV"
python3 - "$work" "$POINTS" <<'PY'
import random, sys
work, n = sys.argv[1], int(sys.argv[2])
boxes = [tuple(map(float, l.split(","))) for l in open(f"{work}/boxes.csv")]
random.seed(19)
with open(f"{work}/points.csv", "w") as f, open(f"{work}/pg-points.csv", "w") as g:
    f.write("ref,lat,lon\n")
    for i in range(n):
        if i % 10 == 9:
            lat, lon = random.uniform(-30, -5), random.uniform(-60, -38)
        else:
            lat, lon = random.choice(boxes)
            lat, lon = lat + random.uniform(-3e-4, 3e-4), lon + random.uniform(-3e-4, 3e-4)
        f.write(f"lead-{i},{lat:.7f},{lon:.7f}\n")
        g.write(f"{i},{lat:.7f},{lon:.7f}\n")
PY
head -n $(( POINTS / 10 + 1 )) "$work/points.csv" > "$work/points-tenth.csv"

# Peak RSS of the server from here on (VmHWM after clearing it), in KiB.
rss() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status"; }
reset_peak() { echo 5 > "/proc/$pid/clear_refs"; }
peak() { awk '/^VmHWM/ {print $2}' "/proc/$pid/status"; }

# The server's CPU time (user + system), in clock ticks: its own cost per point, apart
# from curl's and from whatever else the shared machine runs meanwhile.
server_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
ticks_per_s=$(getconf CLK_TCK)

batch() { # name, file: one CSV batch over HTTP, timed, its memory measured
  local before took rows ticks
  before=$(rss)
  reset_peak
  ticks=$(server_ticks)
  took=$(curl -sS --fail -X POST -T "$2" -H 'Content-Type: text/csv' -H "Authorization: Bearer $token" \
    -o "$work/$1.out" -w '%{time_total}' "$base/feasibility/batch?plan_id=$PLAN&radius_m=$RADIUS")
  rows=$(( $(wc -l < "$2") - 1 ))
  [ "$(( $(wc -l < "$work/$1.out") - 1 ))" = "$rows" ] || { echo "$1: $rows rows sent, $(wc -l < "$work/$1.out") lines back"; exit 1; }
  ticks=$(( $(server_ticks) - ticks ))
  python3 - "$1" "$rows" "$took" "$before" "$(peak)" "$ticks" "$ticks_per_s" <<'PY'
import sys
name, rows, took, before, peak, ticks, per_s = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
print(f"batch over HTTP, CSV in and out, {name}: {rows} points in {took:.2f} s = {rows / took:.0f} points/s; "
      f"server peak RSS +{(peak - before) / 1024:.1f} MiB over {before / 1024:.0f} MiB resident before; "
      f"server CPU {ticks / per_s / rows * 1e6:.2f} us/point")
PY
}

echo "== POST /feasibility/batch (CSV, one request, plan $PLAN, radius $RADIUS m)"
batch warm-up "$work/points-tenth.csv" > /dev/null
batch "a tenth" "$work/points-tenth.csv"
batch all "$work/points.csv"
python3 - "$work/all.out" <<'PY'
import collections, sys
c = collections.Counter()
for line in list(open(sys.argv[1]))[1:]:
    cells = line.rstrip("\n").split(",")
    c["feasible" if cells[3] == "true" else cells[4] or cells[8]] += 1
print("outcomes: " + ", ".join(f"{k} {v}" for k, v in c.most_common()))
PY

echo "== PostGIS: the same points in one set-based query"
bash scripts/postgis-setup.sh "$PG/$DB"
psql "$PG/$DB" -q <<SQL
CREATE TABLE pts (i int PRIMARY KEY, lat float8, lon float8);
\\copy pts FROM '$work/pg-points.csv' CSV
ALTER TABLE pts ADD COLUMN g geography(Point, 4326);
UPDATE pts SET g = ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography;
VACUUM ANALYZE pts;
SQL
t0=$(date +%s.%N)
psql "$PG/$DB" -Atq > "$work/postgis.out" <<SQL
COPY (
  SELECT p.i, b.id, ST_Distance(b.geog, p.g) AS distance_m, b.free_ports
  FROM pts p LEFT JOIN LATERAL (
    SELECT id, geog, free_ports FROM boxes b
    WHERE b.status = 'deployed' AND b.free_ports > 0 AND b.tags && ARRAY['fibra']
      AND ST_DWithin(b.geog, p.g, $RADIUS)
    ORDER BY b.geog <-> p.g
    LIMIT 1) b ON true
  ORDER BY p.i
) TO STDOUT WITH CSV
SQL
t1=$(date +%s.%N)
python3 - "$work/postgis.out" "$work/all.out" "$t0" "$t1" <<'PY'
import sys
pg = [l.rstrip("\n").split(",") for l in open(sys.argv[1])]
ours = [l.rstrip("\n").split(",") for l in list(open(sys.argv[2]))[1:]]
took = float(sys.argv[4]) - float(sys.argv[3])
# The same nearest box for (nearly) every point: distances on the sphere (PostGIS's
# geography) and on the ellipsoid (ours) differ by centimetres, so a near tie may differ.
same = sum(1 for a, b in zip(pg, ours) if a[1] == b[5])
print(f"PostGIS, one set-based query (LATERAL, ST_DWithin, <-> KNN): {len(pg)} points in {took:.2f} s = {len(pg) / took:.0f} points/s "
      f"(same nearest box as the service for {same / max(len(pg), 1):.2%})")
PY

echo "== the same points one by one to POST /feasibility (wrk, $CONNS connections, $DURATION)"
python3 - "$work" "$token" "$PLAN" "$RADIUS" <<'PY'
import sys
work, token, plan, radius = sys.argv[1:5]
pts = [l.strip().split(",")[1:] for l in list(open(f"{work}/points.csv"))[1:10001]]
table = ",".join(f'{{"{lat}","{lon}"}}' for lat, lon in pts)
open(f"{work}/one-by-one.lua", "w").write(f'''
local pts = {{{table}}}
local reqs = {{}}
local n = 0
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer {token}"
wrk.headers["Content-Type"] = "application/json"
init = function(args)
  for i, p in ipairs(pts) do
    reqs[i] = wrk.format(nil, "/feasibility", nil, '{{"lat":' .. p[1] .. ',"lon":' .. p[2] .. ',"plan_id":"{plan}","radius_m":{radius},"limit":1}}')
  end
end
request = function()
  n = n % #reqs + 1
  return reqs[n]
end
''')
PY
wrk -t 2 -c "$CONNS" -d "$DURATION" -s "$work/one-by-one.lua" "$base/feasibility" > "$work/wrk.out" 2>&1
python3 - "$work/wrk.out" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
print(f"one by one to POST /feasibility: {rps:.0f} points/s" + (f" ({bad.group(1)} non-2xx)" if bad else ""))
PY
if [ "${SMOKE:-0}" = 1 ]; then
  echo "(smoke run: debug build, $BOXES boxes, $POINTS points: the figures only show the script works)"
fi
