#!/usr/bin/env bash
# The same network, the same concurrency, in one run: the service's /feasibility (over
# HTTP, wrk) against the best PostGIS query an engineer would write (geography KNN with
# `<->` and an ST_DWithin cut, tag and free-port filters, a GiST index; run by pgbench,
# without any HTTP in front of it). Installs PostGIS from Debian's packages.
#
#   scripts/postgis-compare.sh              # 1,000,000 boxes, 20 s each
#   SMOKE=1 scripts/postgis-compare.sh      # CI: 2,000 boxes, 2 s each
set -euo pipefail
cd "$(dirname "$0")/.."
PG=${PG:-postgres://postgres@127.0.0.1:5432}
DB=ftth_postgis_bench
CONNS=${CONNS:-16}
if [ "${SMOKE:-0}" = 1 ]; then DURATION=${DURATION:-2s}; else DURATION=${DURATION:-20s}; fi
seconds=${DURATION%s}

psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
trap 'psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true' EXIT

echo "== the service (HTTP, wrk, $CONNS connections)"
DATABASE_URL="$PG/$DB" CONNS=$CONNS DURATION=$DURATION scripts/load-test.sh | tee /tmp/ftth-load.out

echo "== PostGIS (pgbench, $CONNS connections, the same boxes)"
bash scripts/postgis-setup.sh "$PG/$DB"
psql "$PG/$DB" -q <<'SQL'
-- 1,000 query points ~30 m from random boxes, as the HTTP run uses.
CREATE TABLE pts AS
  SELECT row_number() OVER () AS i,
         ST_SetSRID(ST_MakePoint(lon + (random() - 0.5) * 6e-4, lat + (random() - 0.5) * 6e-4), 4326)::geography AS g
  FROM (SELECT lon, lat FROM boxes ORDER BY random() LIMIT 1000) s;
CREATE UNIQUE INDEX ON pts (i);
VACUUM ANALYZE;
SQL
cat > /tmp/ftth-postgis.sql <<'SQL'
\set i random(1, 1000)
SELECT b.id, ST_Distance(b.geog, p.g) AS distance_m
FROM pts p, LATERAL (
  SELECT id, geog FROM boxes b
  WHERE b.status = 'deployed' AND b.free_ports > 0 AND b.tags && ARRAY['fibra']
    AND ST_DWithin(b.geog, p.g, 250)
  ORDER BY b.geog <-> p.g
  LIMIT 5) b
WHERE p.i = :i;
SQL
pgbench -n -c "$CONNS" -j 2 -T "$seconds" -f /tmp/ftth-postgis.sql "$PG/$DB" > /tmp/ftth-pgbench.out 2>&1
grep -E "tps|latency" /tmp/ftth-pgbench.out
python3 - <<'PY'
import re
service = float(re.search(r"^feasibility\s+(\d+) req/s", open("/tmp/ftth-load.out").read(), re.M).group(1))
postgis = float(re.search(r"tps = ([\d.]+)", open("/tmp/ftth-pgbench.out").read()).group(1))
print(f"/feasibility {service:.0f} req/s over HTTP vs PostGIS {postgis:.0f} queries/s: {service / postgis:.1f}x")
import os
if os.environ.get("SMOKE") == "1":
    print("(smoke run: debug build, 2,000 boxes, 2 s: the figures only show the scripts work)")
PY
