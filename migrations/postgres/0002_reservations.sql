-- Reservations: a pending or confirmed one holds (splitter_id, port).
-- Times are microseconds since the Unix epoch (UTC), the same in both engines.

CREATE TABLE reservations (
    id           TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    code         TEXT NOT NULL UNIQUE,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'confirmed', 'cancelled', 'installed', 'expired')),
    project      TEXT COLLATE "C" NOT NULL,
    box_id       TEXT COLLATE "C" NOT NULL,
    splitter_id  TEXT COLLATE "C" NOT NULL,
    port         BIGINT NOT NULL,
    distance_m   DOUBLE PRECISION NOT NULL,
    plan_id      TEXT,
    tags         TEXT NOT NULL,         -- JSON array: the tags in force
    lat          DOUBLE PRECISION NOT NULL,
    lon          DOUBLE PRECISION NOT NULL,
    address      TEXT,                  -- personal data: erased on expiry
    customer     TEXT,                  -- personal data (JSON): erased on expiry
    external_ref TEXT,
    created_by   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    confirmed_at BIGINT,
    closed_at    BIGINT
);
-- The arbiter of "never two holds on one port".
CREATE UNIQUE INDEX reservations_one_live_hold_per_port
    ON reservations (splitter_id, port) WHERE status IN ('pending', 'confirmed');
CREATE INDEX reservations_live_box ON reservations (box_id) WHERE status IN ('pending', 'confirmed');
CREATE INDEX reservations_due ON reservations (expires_at) WHERE status = 'pending';
CREATE INDEX reservations_newest ON reservations (created_at DESC, id DESC);
CREATE INDEX reservations_external_ref ON reservations (external_ref);

-- Idempotency-Key: the first answer to (sub, key), replayed for the same body.
CREATE TABLE idempotency_keys (
    sub          TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status       BIGINT NOT NULL,
    body         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (sub, key)
);
CREATE INDEX idempotency_keys_age ON idempotency_keys (created_at);
