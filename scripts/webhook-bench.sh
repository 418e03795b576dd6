#!/usr/bin/env bash
# Webhooks under load, all figures from one run per engine:
#   1. durable reservations per second (wrk, RESERVERS clients) without a webhook, then
#      with one subscribed to every event (the outbox's cost on the write path);
#   2. the backlog those reservations left: how fast it drains (events delivered per
#      second, the outbox's throughput);
#   3. at RATE events a second (reservations made at a fixed pace), the delay from the
#      event's commit to its arrival at a local receiver (p50, p99).
#
#   scripts/webhook-bench.sh                 # release build, 200,000 boxes, 10 s each, both engines
#   SMOKE=1 scripts/webhook-bench.sh         # CI: debug binary, small, 2 s each
#   ENGINES=sqlite scripts/webhook-bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."

BIN_GIVEN=${BIN:-}
if [ "${SMOKE:-0}" = 1 ]; then
  BOXES=${BOXES:-2000} DURATION=${DURATION:-2} RATE=${RATE:-50} BIN=${BIN:-target/debug/feasibility}
else
  BOXES=${BOXES:-200000} DURATION=${DURATION:-10} RATE=${RATE:-200} BIN=${BIN:-target/release/feasibility}
fi
ENGINES=${ENGINES:-sqlite postgres} RESERVERS=${RESERVERS:-8}
TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
if [ -z "$BIN_GIVEN" ]; then
  case "$BIN" in
    *release*) cargo build --release --locked ;;
    *) cargo build --locked ;;
  esac
fi
command -v wrk >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq wrk >/dev/null)

work=$(mktemp -d)
pid= rpid= schema=
cleanup() {
  for p in $pid $rpid; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  if [ -n "$schema" ]; then psql -q "$TEST_DATABASE_URL" -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# The receiver: answers 204 at once and notes, per delivery, the delay since the event's
# `created_at` and when it arrived.
cat > "$work/receiver.py" <<'PY'
import json, sys, time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
out = open(sys.argv[2], "a", buffering=1)
class H(BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        now = time.time()
        made = datetime.fromisoformat(body["created_at"].replace("Z", "+00:00")).timestamp()
        out.write(f"{now:.6f} {now - made:.6f} {body['type']}\n")
        self.send_response(204); self.end_headers()
    def log_message(self, *a): pass
ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer.request_queue_size = 128
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY

for engine in $ENGINES; do
  port=$(free_port) hook=$(free_port)
  case $engine in
    sqlite) db="sqlite://$work/$engine.db" ;;
    postgres)
      schema="webhook_bench_$$"
      psql -q "$TEST_DATABASE_URL" -c "CREATE SCHEMA $schema" >/dev/null
      db="$TEST_DATABASE_URL?options=-csearch_path%3D$schema" ;;
  esac
  FEASIBILITY_JWT_SECRET="webhook-bench-secret-0123456789ab" FEASIBILITY_DATABASE_URL="$db" \
    FEASIBILITY_LISTEN="127.0.0.1:$port" FEASIBILITY_WEBHOOK_ALLOW_HTTP=true \
    FEASIBILITY_WEBHOOK_ALLOW_PRIVATE=true RUST_LOG=warn \
    "$BIN" demo --boxes "$BOXES" > "$work/server-$engine.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 1200); do
    grep -q "listening on port" "$work/server-$engine.log" 2>/dev/null && break
    kill -0 $pid 2>/dev/null || { cat "$work/server-$engine.log"; exit 1; }
    sleep 0.5
  done
  export FEASIBILITY_JWT_SECRET="webhook-bench-secret-0123456789ab" FEASIBILITY_DATABASE_URL="$db"
  token=$("$BIN" token --sub bench --projects '*' --scopes reservations:write,reservations:manage,reservations:read,admin,feasibility --ttl 2h)
  base="http://127.0.0.1:$port"
  curl -fsS "$base/boxes?bbox=-56,-31,-34,-4&limit=10000" -H "Authorization: Bearer $token" > "$work/boxes.json"
  python3 - "$work" "$token" <<'PY'
import json, random, sys
work, token = sys.argv[1], sys.argv[2]
feats = json.load(open(f"{work}/boxes.json"))["features"]
random.seed(7)
near = lambda f: (f["geometry"]["coordinates"][1] + random.uniform(-3e-4, 3e-4),
                  f["geometry"]["coordinates"][0] + random.uniform(-3e-4, 3e-4))
picked = random.sample(feats, min(4000, len(feats)))
pts = [near(f) for f in picked[:1000]]
# The steady phase's points are near other boxes: the wrk phases fill the first ones' ports.
json.dump([near(f) for f in picked[1000:]] or pts, open(f"{work}/steady.json", "w"))
table = ",".join(f"{{{lat:.7f},{lon:.7f}}}" for lat, lon in pts)
open(f"{work}/reserve.lua", "w").write(f'''
local pts = {{{table}}}
local n = 0
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer {token}"
wrk.headers["Content-Type"] = "application/json"
request = function()
  n = n % #pts + 1
  local p = pts[n]
  return wrk.format(nil, "/reservations", nil, string.format('{{"lat":%.7f,"lon":%.7f,"radius_m":500,"address":"Rua Carga 1","customer":{{"name":"Carga"}}}}', p[1], p[2]))
end
''')
PY
  reserve() { # label → durable reservations per second
    wrk -t 1 -c "$RESERVERS" -d "${DURATION}s" -s "$work/reserve.lua" "$base/reservations" > "$work/$1.out" 2>&1
    python3 - "$work/$1.out" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
total = int(re.search(r"(\d+) requests in", t).group(1))
bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", t)
bad = int(bad.group(1)) if bad else 0
print(f"{rps * (total - bad) / max(total, 1):.0f}")
PY
  }
  without=$(reserve without)
  # Subscribe: an integration that manages reservations, its webhook to the receiver.
  python3 "$work/receiver.py" "$hook" "$work/got-$engine.txt" & rpid=$!
  curl -fsS -X POST "$base/integrations" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' -d '{"id": "bench", "name": "Bench", "projects": ["*"], "modules": ["reservations_manage"], "contacts": {"alert": ["a@b.example"], "emergency": ["+5511999990000"], "technical": ["t@b.example"], "operational": ["o@b.example"], "operational_public": "s@b.example"}, "support_hours": [{"days": ["mon"], "from": "08:00", "to": "18:00", "time_zone": "America/Sao_Paulo"}]}' > /dev/null
  curl -fsS -X POST "$base/integrations/bench/webhooks" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' -d "{\"url\": \"http://127.0.0.1:$hook/hook\", \"events\": [\"*\"]}" > /dev/null
  sleep 1
  with=$(reserve with)
  made=$(python3 - "$work/with.out" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
total = int(re.search(r"(\d+) requests in", t).group(1))
bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", t)
print(total - (int(bad.group(1)) if bad else 0))
PY
)
  # The backlog drains; the outbox's throughput is what arrived over the time it took,
  # from the first delivery (during the wrk run) to the last.
  python3 - "$work/got-$engine.txt" "$made" <<'PY' > "$work/drain-$engine.txt"
import sys, time
path, want = sys.argv[1], int(sys.argv[2])
def arrivals():
    try:
        rows = [l.split() for l in open(path)]
        # (a line being written has fewer fields)
        return [float(r[0]) for r in rows if len(r) == 3 and r[2] == "reservation.created"]
    except FileNotFoundError:
        return []
start = time.time()
while len(arrivals()) < want and time.time() - start < 120:
    time.sleep(0.2)
got = arrivals()
took = max(got) - min(got) if len(got) > 1 else 0
print(f"{len(got) / took if took > 0 else 0:.0f} {len(got)} {want}")
PY
  read -r drain delivered wanted < "$work/drain-$engine.txt"
  # A steady RATE events a second: reservations at that pace, each one event.
  : > "$work/got-$engine.txt"
  python3 - "$port" "$token" "$work/steady.json" "$RATE" "$DURATION" <<'PY'
# Reservations on a schedule (the i-th at start + i/RATE), over a few kept-alive
# connections, so that the pace holds whatever a request's latency.
import asyncio, json, sys, time
port, token, pts, rate, duration = int(sys.argv[1]), sys.argv[2], json.load(open(sys.argv[3])), int(sys.argv[4]), float(sys.argv[5])
async def request(conn, p):
    reader, writer = conn
    body = json.dumps({"lat": p[0], "lon": p[1], "radius_m": 500, "address": "Rua 1", "customer": {"name": "X"}}).encode()
    writer.write(b"POST /reservations HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token.encode()
                 + b"\r\nContent-Type: application/json\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length"))
    await reader.readexactly(length)
async def main():
    idle = asyncio.Queue()
    for _ in range(16):
        idle.put_nowait(await asyncio.open_connection("127.0.0.1", port))
    async def one(p):
        conn = await idle.get()
        await request(conn, p)
        idle.put_nowait(conn)
    start, i, tasks = time.monotonic(), 0, []
    while time.monotonic() - start < duration:
        await asyncio.sleep(max(0, start + i / rate - time.monotonic()))
        tasks.append(asyncio.create_task(one(pts[i % len(pts)])))
        i += 1
    await asyncio.gather(*tasks)
    await asyncio.sleep(3)
asyncio.run(main())
PY
  python3 - "$work/got-$engine.txt" "$engine" "$without" "$with" "$drain" "$delivered" "$wanted" "$RATE" "$DURATION" <<'PY'
import sys
path, engine, without, with_, drain, delivered, wanted, asked, duration = sys.argv[1:]
rows = [l.split() for l in open(path)]
lat = sorted(float(r[1]) for r in rows if len(r) == 3 and r[2] == "reservation.created")
pct = lambda p: lat[min(len(lat) - 1, int(p / 100 * len(lat)))] * 1000 if lat else float("nan")
without, with_ = float(without), float(with_)
print(f"{engine}: durable reservations/s without a webhook {without:.0f}, with one {with_:.0f} = {with_ / without:.2f}x (target >= 0.90x)")
print(f"{engine}: {delivered} of {wanted} events delivered at {drain} events/s (first to last arrival)")
# The pace kept (what arrived over the phase).
rate = round(len(lat) / float(duration))
print(f"{engine}: at {rate} events/s, commit to delivery p50 {pct(50):.1f} ms, p99 {pct(99):.1f} ms ({len(lat)} events; {asked}/s asked)")
PY
  kill $rpid $pid 2>/dev/null || true; wait $rpid $pid 2>/dev/null || true; rpid= pid=
  if [ -n "$schema" ]; then psql -q "$TEST_DATABASE_URL" -c "DROP SCHEMA $schema CASCADE" >/dev/null 2>&1; schema=; fi
done
