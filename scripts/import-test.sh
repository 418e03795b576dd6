#!/usr/bin/env bash
# A large import over HTTP, on each engine: what it costs the server in memory and whether
# queries are answered meanwhile.
#
# Generates a GeoJSON FeatureCollection of BOXES boxes (default 1,000,000; two splitters
# each, about 300 MB), starts the release server on a fresh database, and POSTs the file
# to /inventory/import while two clients ask /feasibility and /readyz every 10 ms, each on
# a new connection (so every worker thread is sampled). Prints, per engine: the file size S,
# the server's peak resident memory (VmHWM) before and after and the contract's bound
# (3·S + 300 MiB over the resident memory before), the longest wait for an answer during
# the import, and the import's time.
#
#   scripts/import-test.sh                       # release build, 1M boxes, SQLite and PostgreSQL
#   SMOKE=1 scripts/import-test.sh               # CI: debug binary, 2,000 boxes
#   ENGINES=sqlite BOXES=200000 scripts/import-test.sh
#
# PostgreSQL runs in a fresh schema of TEST_DATABASE_URL (default the local server), dropped
# afterwards. Exits non-zero when an import fails or a bound is exceeded (memory; a wait
# over 1 s, which SMOKE runs only report).
set -euo pipefail
cd "$(dirname "$0")/.."

BIN_GIVEN=${BIN:-}
if [ "${SMOKE:-0}" = 1 ]; then
  BOXES=${BOXES:-2000} BIN=${BIN:-target/debug/feasibility}
else
  BOXES=${BOXES:-1000000} BIN=${BIN:-target/release/feasibility}
fi
ENGINES=${ENGINES:-sqlite postgres}
TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"

if [ -z "$BIN_GIVEN" ]; then
  case "$BIN" in
    *release*) cargo build --release --locked ;;
    *) cargo build --locked ;;
  esac
fi

work=$(mktemp -d)
pid=
schema=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  if [ -n "$schema" ]; then psql -q "$TEST_DATABASE_URL" -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

file="$work/import.geojson"
python3 - "$file" "$BOXES" <<'PY'
import random, sys
path, boxes = sys.argv[1], int(sys.argv[2])
random.seed(15)
# 40 cities in Brazil; three boxes in four near one, the rest over the countryside.
cities = [(random.uniform(-30, -5), random.uniform(-55, -35)) for _ in range(40)]
with open(path, "w") as out:
    out.write('{"type":"FeatureCollection","features":[\n')
    for n in range(boxes):
        if random.random() < 0.75:
            lat, lon = random.choice(cities)
            lat += random.gauss(0, 0.03)
            lon += random.gauss(0, 0.03)
        else:
            lat, lon = random.uniform(-30, -5), random.uniform(-55, -35)
        status = "deployed" if random.random() < 0.85 else random.choice(("in_project", "out_of_service"))
        ports = random.choice((8, 16))
        used = random.randrange(ports + 1)
        # Compact, as most exporters write it without indentation.
        out.write(
            f'{{"type":"Feature","geometry":{{"type":"Point","coordinates":[{lon:.6f},{lat:.6f}]}},'
            f'"properties":{{"kind":"box","id":"CTO-{n:07d}","name":"CTO {n}","status":"{status}",'
            f'"splitters":[{{"id":"CTO-{n:07d}-S1","kind":"attendance","ports":{ports},"used":{used}}},'
            f'{{"id":"CTO-{n:07d}-S2","kind":"connection","ports":4,"used":1}}]}}}},\n')
    for i, (lat, lon) in enumerate(cities):
        ring = [[lon - 0.05, lat - 0.05], [lon + 0.05, lat - 0.05], [lon + 0.05, lat + 0.05],
                [lon - 0.05, lat + 0.05], [lon - 0.05, lat - 0.05]]
        sep = ",\n" if i + 1 < len(cities) else "\n"
        out.write(f'{{"type":"Feature","geometry":{{"type":"Polygon","coordinates":[{ring}]}},'
                  f'"properties":{{"kind":"region","id":"city-{i}","name":"City {i}","tags":["fibra"]}}}}{sep}')
    out.write("]}\n")
# A point near the first city, where most boxes are, for the feasibility client.
print(f"{cities[0][0]:.6f} {cities[0][1]:.6f}", file=open(path + ".at", "w"))
PY
read -r at_lat at_lon < "$file.at"
size=$(stat -c %s "$file")

export FEASIBILITY_JWT_SECRET="import-test-secret-0123456789abcdef"
export FEASIBILITY_IMPORT_BODY_LIMIT_BYTES=$(( size + (1 << 20) ))
export RUST_LOG=warn
failed=0
for engine in $ENGINES; do
  case "$engine" in
    sqlite) url="sqlite://$work/import.db" ;;
    postgres)
      schema="import_test_$$"
      psql -q "$TEST_DATABASE_URL" -c "CREATE SCHEMA $schema" >/dev/null
      case "$TEST_DATABASE_URL" in *\?*) sep='&' ;; *) sep='?' ;; esac
      url="$TEST_DATABASE_URL${sep}options=-csearch_path%3D$schema" ;;
    *) echo "unknown engine $engine" >&2; exit 2 ;;
  esac
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  FEASIBILITY_DATABASE_URL="$url" FEASIBILITY_LISTEN="127.0.0.1:$port" \
    "$BIN" serve > "$work/server-$engine.log" 2>&1 &
  pid=$!
  token=$("$BIN" token --sub import-test --projects '*' --scopes inventory:write,feasibility --ttl 2h)
  python3 - "$engine" "$pid" "$port" "$token" "$file" "$size" "$at_lat" "$at_lon" "${SMOKE:-0}" <<'PY' || failed=1
import http.client, json, subprocess, sys, threading, time
engine, pid, port, token, path, size, lat, lon, smoke = sys.argv[1:]
pid, port, size, smoke = int(pid), int(port), int(size), smoke == "1"
MiB = 1 << 20

def status():
    fields = {}
    for line in open(f"/proc/{pid}/status"):
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) * 1024
    return fields

def request(method, target, body=None, timeout=60):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"Authorization": f"Bearer {token}"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    conn.request(method, target, body=body, headers=headers)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, data

deadline = time.time() + 120
while True:
    try:
        if request("GET", "/readyz", timeout=2)[0] == 200:
            break
    except OSError:
        pass
    if time.time() > deadline:
        sys.exit(f"{engine}: the server did not become ready")
    time.sleep(0.1)
time.sleep(1)
before = status()

stop = threading.Event()
waits = {"/feasibility": [], "/readyz": []}
errors = []
def ask(target, method, body):
    while not stop.is_set():
        started = time.monotonic()
        try:
            code, _ = request(method, target, body)
            if code != 200:
                errors.append(f"{target} answered {code}")
        except OSError as e:
            errors.append(f"{target}: {e}")
        waits[target].append(time.monotonic() - started)
        time.sleep(0.01)
feasibility = json.dumps({"lat": float(lat), "lon": float(lon), "radius_m": 2000})
clients = [threading.Thread(target=ask, args=("/feasibility", "POST", feasibility)),
           threading.Thread(target=ask, args=("/readyz", "GET", None))]
peak_rss = 0
def sample():
    global peak_rss
    while not stop.is_set():
        peak_rss = max(peak_rss, status()["VmRSS"])
        time.sleep(0.02)
sampler = threading.Thread(target=sample)
for t in clients + [sampler]:
    t.start()
time.sleep(0.5)

started = time.monotonic()
curl = subprocess.run(
    ["curl", "-sS", "-o", "/dev/stderr", "-w", "%{http_code}", "-X", "POST", "-T", path,
     "-H", f"Authorization: Bearer {token}", "-H", "Content-Type: application/geo+json",
     "-H", "Expect:", f"http://127.0.0.1:{port}/inventory/import?project=imported&mode=replace"],
    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
seconds = time.monotonic() - started
time.sleep(0.5)
stop.set()
for t in clients + [sampler]:
    t.join()
after = status()
time.sleep(3)
settled = status()["VmRSS"]

answer = curl.stderr
try:
    boxes = json.loads(answer)["boxes"]["added"]
except (ValueError, KeyError):
    boxes = None
code = curl.stdout.strip()
growth = after["VmHWM"] - before["VmRSS"]
bound = 3 * size + 300 * MiB
longest = {t: max(w, default=0.0) for t, w in waits.items()}
print(f"{engine}: file {size / 1e6:.1f} MB ({size:,} bytes), import answered {code} in {seconds:.1f} s ({boxes:,} boxes)"
      if boxes is not None else f"{engine}: import answered {code} in {seconds:.1f} s: {answer[:500]}")
print(f"{engine}: peak RSS before {before['VmHWM'] / MiB:.0f} MiB (resident {before['VmRSS'] / MiB:.0f} MiB), "
      f"after {after['VmHWM'] / MiB:.0f} MiB: +{growth / MiB:.0f} MiB over resident, "
      f"bound 3·S + 300 MiB = {bound / MiB:.0f} MiB ({'within' if growth <= bound else 'EXCEEDED'}); "
      f"resident 3 s later {settled / MiB:.0f} MiB")
print(f"{engine}: during the import, longest wait /feasibility {longest['/feasibility']:.3f} s "
      f"({len(waits['/feasibility'])} answers), /readyz {longest['/readyz']:.3f} s ({len(waits['/readyz'])} answers); "
      f"longest query gap {max(longest.values()):.3f} s")
for e in sorted(set(errors))[:5]:
    print(f"{engine}: query error: {e}")
ok = code == "200" and growth <= bound and not errors and (smoke or max(longest.values()) <= 1.0)
sys.exit(0 if ok else 1)
PY
  kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=
  if [ -n "$schema" ]; then psql -q "$TEST_DATABASE_URL" -c "DROP SCHEMA $schema CASCADE" >/dev/null; schema=; fi
done
exit $failed
