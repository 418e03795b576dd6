-- Network plant, plans, settings and reservations (holds) for PostgreSQL.
-- Ids compare byte-wise (COLLATE "C"), the order the in-memory index relies on.

CREATE TABLE boxes (
    id          TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    project     TEXT COLLATE "C" NOT NULL,
    name        TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('deployed', 'in_project', 'out_of_service')),
    lat         DOUBLE PRECISION NOT NULL,
    lon         DOUBLE PRECISION NOT NULL,
    -- JSON array: tags of the project's regions covering the box, derived at import.
    region_tags TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX boxes_project ON boxes (project, id);
CREATE INDEX boxes_lat_lon ON boxes (lat, lon);

CREATE TABLE splitters (
    id         TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    box_id     TEXT COLLATE "C" NOT NULL REFERENCES boxes (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('attendance', 'connection')),
    ports      BIGINT NOT NULL CHECK (ports > 0),
    used       BIGINT NOT NULL CHECK (used >= 0 AND used <= ports),
    -- Comma-separated occupied port numbers (1-based); `used` is their count.
    used_ports TEXT NOT NULL DEFAULT ''
);
CREATE INDEX splitters_box ON splitters (box_id, id);

CREATE TABLE regions (
    project  TEXT NOT NULL,
    id       TEXT NOT NULL,
    name     TEXT NOT NULL,
    tags     TEXT NOT NULL,     -- JSON array
    geometry TEXT NOT NULL,     -- GeoJSON MultiPolygon
    PRIMARY KEY (project, id)
);

CREATE TABLE plans (
    id   TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    tags TEXT NOT NULL          -- JSON array
);

CREATE TABLE settings (
    id                BIGINT PRIMARY KEY CHECK (id = 1),
    default_radius_m  DOUBLE PRECISION NOT NULL,
    max_radius_m      DOUBLE PRECISION NOT NULL,
    reservation_ttl_s BIGINT NOT NULL
);
