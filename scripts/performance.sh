#!/usr/bin/env bash
# Every figure behind the targets table of docs/PERFORMANCE.md, taken in one run, and the
# table itself (printed last, in Markdown). Runs on SQLite and on PostgreSQL
# (TEST_DATABASE_URL, default the local server), installs wrk and PostGIS when missing.
#
#   scripts/performance.sh            # full run: 5M-box index, 1M-box load and HTTP; ~10 min
#   SMOKE=1 scripts/performance.sh    # CI: small sizes, debug builds, a few seconds a step
#
# The raw output of each step is kept in OUT (default: a new temporary directory).
set -euo pipefail
cd "$(dirname "$0")/.."
export TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
out=${OUT:-$(mktemp -d)}
mkdir -p "$out"

if [ "${SMOKE:-0}" = 1 ]; then
  index_boxes=20000 load_boxes=2000
  # Debug builds (CI has them already) and short criterion measurements.
  bench() { local name=$1; shift; cargo test --locked --bench "$name" -- --bench --warm-up-time 0.1 --measurement-time 0.2 "$@"; }
  export BENCH_SECONDS=1
else
  index_boxes=5000000 load_boxes=1000000
  bench() { local name=$1; shift; cargo bench --locked --bench "$name" -- "$@"; }
fi

step() { echo "== $(date -u +%H:%M:%S) $1" >&2; }

step "index: queries at $index_boxes boxes"
BENCH_SIZES=$index_boxes bench index query > "$out/index.txt"
step "index: loading $load_boxes boxes from each engine"
BENCH_LOAD_BOXES=$load_boxes bench load > "$out/load.txt"
step "reservations: 8 clients on each engine"
bench reservations > "$out/reservations.txt"
step "HTTP on SQLite (scripts/load-test.sh)"
bash scripts/load-test.sh > "$out/http-sqlite.txt"
step "HTTP on PostgreSQL, then PostGIS (scripts/postgis-compare.sh)"
bash scripts/postgis-compare.sh > "$out/http-postgres.txt"
step "a large import over HTTP on each engine (scripts/import-test.sh)"
BOXES=$load_boxes bash scripts/import-test.sh > "$out/import.txt"
step "webhooks under load on each engine (scripts/webhook-bench.sh)"
BOXES=$((load_boxes < 200000 ? load_boxes : 200000)) bash scripts/webhook-bench.sh > "$out/webhooks.txt"
step "demand counting: one count (criterion), then /feasibility ÷ /healthz on and off (scripts/demand-bench.sh)"
bench demand > "$out/demand-count.txt"
bash scripts/demand-bench.sh > "$out/demand.txt"
step "batch feasibility: HTTP, PostGIS set-based, one by one (scripts/batch-bench.sh)"
BOXES=$load_boxes bash scripts/batch-bench.sh > "$out/batch.txt"
step "done; raw output in $out"

python3 - "$out" "$index_boxes" "$load_boxes" <<'PY'
import re, sys
out, index_boxes, load_boxes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
text = {name: open(f"{out}/{name}.txt").read()
        for name in ("index", "load", "reservations", "http-sqlite", "http-postgres", "import", "webhooks",
                     "demand-count", "demand", "batch")}

def seconds(value, unit):
    return float(value) * {"ns": 1e-9, "µs": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1.0}[unit]

def find(pattern, name):
    m = re.search(pattern, text[name], re.M)
    if not m:
        sys.exit(f"performance.sh: no match for {pattern!r} in {name}")
    return m

rows = []
def row(target, measured, met):
    rows.append((target, measured, "yes" if met else "**no**"))

p50 = {r: float(find(rf"query/{index_boxes}/{r}: single queries p50 ([\d.]+) µs", "index").group(1))
       for r in (250, 1000, 5000)}
row(f"index query p50 ≤ 10 µs at {index_boxes:,} boxes, tag and free-port filters",
    ", ".join(f"{r} m {v:.2f} µs" for r, v in p50.items()), max(p50.values()) <= 10)

ratios = {}
for engine, name in (("SQLite", "http-sqlite"), ("PostgreSQL", "http-postgres")):
    h = float(find(r"^healthz\s+(\d+) req/s", name).group(1))
    f = float(find(r"^feasibility\s+(\d+) req/s", name).group(1))
    cpu = [float(find(rf"^{line}\s.*server CPU\s+([\d.]+) us/req", name).group(1))
           for line in ("healthz", "feasibility")]
    ratios[engine] = (f, h, cpu)
row("`/feasibility` ≥ 0.5 × `/healthz` requests per second",
    "; ".join(f"{e} run {f:,.0f} vs {h:,.0f} req/s = {f / h:.2f}× (server CPU {c[1]:.1f} vs {c[0]:.1f} µs/request)"
              for e, (f, h, c) in ratios.items()),
    all(f / h >= 0.5 for f, h, _ in ratios.values()))

service = ratios["PostgreSQL"][0]
postgis = float(find(r"vs PostGIS (\d+) queries/s", "http-postgres").group(1))
row("≥ 8 × the PostGIS query's throughput",
    f"{service:,.0f} req/s vs {postgis:,.0f} queries/s = {service / postgis:.1f}×", service / postgis >= 8)

loads = {}
for engine in ("sqlite", "postgres"):
    m = find(rf"load_index/{load_boxes}/{engine}\s+time:\s+\[\S+ \S+ (\S+) (\S+)", "load")
    loads[engine] = seconds(m.group(1), m.group(2))
row(f"loading {load_boxes:,} boxes into the index ≤ 3 s",
    ", ".join(f"{e} {s:.2f} s" for e, s in loads.items()), max(loads.values()) <= 3)

per_box = float(find(rf"index of {index_boxes} boxes: ([\d.]+) bytes/box", "index").group(1))
row("index memory ≤ 150 bytes per box", f"{per_box:.1f} at {index_boxes:,} boxes", per_box <= 150)

held = {}
for engine in ("sqlite", "postgres"):
    m = find(rf"^{engine}: (\d+) clients, (\d+) durable reservations/s.*p50 ([\d.]+) ms, p99 ([\d.]+) ms",
             "reservations")
    held[engine] = (int(m.group(2)), float(m.group(4)))
row("durable reservations ≥ 2,000/s with 8 clients on each engine",
    ", ".join(f"{e} {n:,}/s" for e, (n, _) in held.items()), min(n for n, _ in held.values()) >= 2000)
hooked = {}
for engine in ("sqlite", "postgres"):
    m = find(rf"^{engine} median of (\d+) alternating runs: (\d+) durable reservations/s without a webhook, (\d+) with one: ([\d.]+)x", "reservations")
    hooked[engine] = (int(m.group(1)), int(m.group(2)), int(m.group(3)), float(m.group(4)))
row("durable reservations with a subscribed webhook ≥ 0.9 × without (same run)",
    ", ".join(f"{e} {w:,}/s vs {wo:,}/s = {r:.2f}× (median of {n} runs each)" for e, (n, wo, w, r) in hooked.items()),
    all(r >= 0.9 for _, _, _, r in hooked.values()))
delays = {}
for engine in ("sqlite", "postgres"):
    m = find(rf"^{engine}: at (\d+) events/s, commit to delivery p50 ([\d.]+) ms, p99 ([\d.]+) ms", "webhooks")
    t = find(rf"^{engine}: \d+ of \d+ events delivered at (\d+) events/s", "webhooks")
    delays[engine] = (int(m.group(1)), float(m.group(2)), float(m.group(3)), int(t.group(1)))
row("webhook delivery: commit to delivery at a steady rate (p50, p99); outbox throughput",
    "; ".join(f"{e} at {r}/s p50 {p50:.1f} ms, p99 {p99:.1f} ms; {tp:,} events/s" for e, (r, p50, p99, tp) in delays.items()),
    all(p99 < 5000 for _, _, p99, _ in delays.values()))
row("`/feasibility` p99 ≤ 2 ms under concurrent reservations",
    ", ".join(f"{e} {p:.2f} ms" for e, (_, p) in held.items())
    + " (200 req/s beside the 8 reserving clients)", max(p for _, p in held.values()) <= 2)

imports = {}
for engine in ("sqlite", "postgres"):
    took = float(find(rf"^{engine}: file .* import answered 200 in ([\d.]+) s", "import").group(1))
    m = find(rf"^{engine}: peak RSS .*: \+(\d+) MiB over resident, bound .* = (\d+) MiB", "import")
    gap = float(find(rf"^{engine}: during the import, .*longest query gap ([\d.]+) s", "import").group(1))
    imports[engine] = (took, int(m.group(1)), int(m.group(2)), gap)
row(f"import of {load_boxes:,} boxes over HTTP < 10 s on each engine",
    ", ".join(f"{e} {t:.1f} s" for e, (t, _, _, _) in imports.items()), max(t for t, _, _, _ in imports.values()) < 10)
row("an import raises peak memory by ≤ 3·S + 300 MiB",
    ", ".join(f"{e} +{r:,} MiB (bound {b:,})" for e, (_, r, b, _) in imports.items()),
    all(r <= b for _, r, b, _ in imports.values()))
row("no query waits over 1 s during an import",
    ", ".join(f"{e} {g:.3f} s" for e, (_, _, _, g) in imports.items()), max(g for _, _, _, g in imports.values()) <= 1)

counted = {mode: float(find(rf"^demand counting {mode}\s*: .* ratio ([\d.]+)", "demand").group(1))
           for mode in ("on", "off")}
m = find(r"demand/count\s+time:\s+\[\S+ \S+ (\S+) (\S+)", "demand-count")
row("demand counting leaves `/feasibility` ÷ `/healthz` where it was (≥ 0.95 × with it off, same run)",
    f"on {counted['on']:.3f}, off {counted['off']:.3f} = {counted['on'] / counted['off']:.2f}×; "
    f"one count {seconds(m.group(1), m.group(2)) * 1e9:.0f} ns",
    counted["on"] / counted["off"] >= 0.95)
batch = find(r"^batch over HTTP, CSV in and out, all: (\d+) points in [\d.]+ s = (\d+) points/s; server peak RSS \+([\d.]+) MiB", "batch")
tenth = find(r"^batch over HTTP, CSV in and out, a tenth: (\d+) points .* server peak RSS \+([\d.]+) MiB", "batch")
pg_batch = int(find(r"^PostGIS, one set-based query .* = (\d+) points/s", "batch").group(1))
one_by_one = int(find(r"^one by one to POST /feasibility: (\d+) points/s", "batch").group(1))
points, per_s = int(batch.group(1)), int(batch.group(2))
row(f"batch over HTTP ≥ 100,000 points/s at {load_boxes:,} boxes (CSV in and out)",
    f"{per_s:,} points/s ({points:,} points); PostGIS set-based {pg_batch:,}/s; one by one {one_by_one:,}/s; "
    f"server peak RSS +{float(batch.group(3)):.0f} MiB ({int(tenth.group(1)):,} points: +{float(tenth.group(2)):.0f} MiB)",
    per_s >= 100_000)

print("\n| target | measured | met? |\n|---|---|---|")
for r in rows:
    print("| " + " | ".join(r) + " |")
if index_boxes < 5_000_000:
    print("\n(smoke run: debug builds and small data; the figures only show that the steps work)")
PY
