-- Demand: answers counted by H3 cell (resolution 9), plan ('' for none), outcome and UTC
-- day; never a point. `lat`/`lon` are the cell's centre, for reading a bbox.
CREATE TABLE demand_counts (
    cell     INTEGER NOT NULL,
    plan_id  TEXT NOT NULL,
    outcome  TEXT NOT NULL,
    day      TEXT NOT NULL,         -- YYYY-MM-DD (UTC)
    lat      REAL NOT NULL,
    lon      REAL NOT NULL,
    count    INTEGER NOT NULL,
    PRIMARY KEY (cell, plan_id, outcome, day)
);
CREATE INDEX demand_counts_lat ON demand_counts (lat, lon);

-- Interests: a prospect told no, waiting to be told when the plan reaches the point.
CREATE TABLE interests (
    id           TEXT PRIMARY KEY NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('waiting', 'notified', 'withdrawn', 'lapsed')),
    plan_id      TEXT NOT NULL,
    lat          REAL NOT NULL,
    lon          REAL NOT NULL,
    address      TEXT,                  -- personal data: erased on schedule
    contact      TEXT,                  -- personal data (JSON): erased on schedule
    external_ref TEXT,
    created_by   TEXT NOT NULL,
    by_key       INTEGER NOT NULL,      -- registered with an integration's key (else a JWT)
    projects     TEXT NOT NULL,         -- JSON: the registrant's projects at registration
    project      TEXT,      -- the box's project, once notified
    box_id       TEXT,
    distance_m   REAL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    notified_at  INTEGER,
    erased_at    INTEGER
);
CREATE INDEX interests_waiting ON interests (created_at) WHERE status = 'waiting';
CREATE INDEX interests_newest ON interests (created_at DESC, id DESC);
CREATE INDEX interests_to_erase ON interests (created_at) WHERE contact IS NOT NULL;
