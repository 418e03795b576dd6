#!/usr/bin/env bash
# Gives the service's `boxes` table in database URL $1 what the PostGIS comparisons query:
# a geography column with a GiST index, the box's region tags and its free attendance
# ports kept on the row (the most favourable layout for PostGIS). Installs PostGIS from
# Debian's packages when missing. Used by postgis-compare.sh and batch-bench.sh.
set -euo pipefail
url=$1
server=${url%/*}/postgres
if ! psql "$server" -Atqc "SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'" | grep -q 1; then
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "postgresql-$(ls /etc/postgresql | sort -n | tail -1)-postgis-3" >/dev/null
fi
psql "$url" -q <<'SQL'
CREATE EXTENSION IF NOT EXISTS postgis;
ALTER TABLE boxes ADD COLUMN geog geography(Point, 4326), ADD COLUMN tags text[], ADD COLUMN free_ports int;
UPDATE boxes b SET geog = ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography,
  tags = ARRAY(SELECT json_array_elements_text(region_tags::json)),
  free_ports = COALESCE((SELECT SUM(GREATEST(s.ports - s.used - (SELECT COUNT(*) FROM reservations r
       WHERE r.splitter_id = s.id AND r.status IN ('pending', 'confirmed')), 0))
     FROM splitters s WHERE s.box_id = b.id AND s.kind = 'attendance'), 0);
CREATE INDEX boxes_geog ON boxes USING gist (geog);
VACUUM ANALYZE boxes;
SQL
