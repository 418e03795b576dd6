-- Webhooks and the events they are told of. `events` is the transactional outbox: a row
-- is written in the same transaction as the change it reports, so whatever commits is
-- delivered. `deliveries` holds one row per event and webhook it goes to.

CREATE TABLE webhooks (
    id                     TEXT PRIMARY KEY NOT NULL,
    integration_id         TEXT NOT NULL REFERENCES integrations (id),
    url                    TEXT NOT NULL,
    events                 TEXT NOT NULL,      -- JSON array of types and patterns
    description            TEXT NOT NULL DEFAULT '',
    secret                 TEXT NOT NULL,      -- whsec_...
    previous_secret        TEXT,               -- still signs until previous_secret_until
    previous_secret_until  INTEGER,
    enabled                INTEGER NOT NULL,
    disabled_reason        TEXT,
    failing_since          INTEGER,            -- first failed attempt since the last success
    alerted_at             INTEGER,            -- last "failing" alert e-mail
    created_at             INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL
);
CREATE INDEX webhooks_integration ON webhooks (integration_id);

CREATE TABLE events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT NOT NULL UNIQUE,       -- evt_...
    type        TEXT NOT NULL,
    project     TEXT NOT NULL,
    subject     TEXT NOT NULL DEFAULT '',   -- the reservation's id, for erasing personal data
    created_by  TEXT NOT NULL DEFAULT '',   -- the reservation's creator (who may be told)
    body        TEXT NOT NULL,              -- the JSON body as delivered
    created_at  INTEGER NOT NULL,
    fanned_out  INTEGER NOT NULL DEFAULT 0            -- deliveries rows written for the webhooks it goes to
);
CREATE INDEX events_pending ON events (seq) WHERE NOT fanned_out;
CREATE INDEX events_subject ON events (subject);
CREATE INDEX events_age ON events (created_at);

CREATE TABLE deliveries (
    webhook_id        TEXT NOT NULL,
    event_id          TEXT NOT NULL,
    type              TEXT NOT NULL,
    status            TEXT NOT NULL,       -- pending | delivered | failed
    attempts          INTEGER NOT NULL DEFAULT 0,
    retry_base        INTEGER NOT NULL DEFAULT 0,  -- attempts before the last manual retry
    next_attempt_at   INTEGER,
    leased_until      INTEGER,             -- a replica is attempting it until then
    last_attempt_at   INTEGER,
    last_status_code  INTEGER,
    last_error        TEXT,
    delivered_at      INTEGER,
    created_at        INTEGER NOT NULL,
    PRIMARY KEY (webhook_id, event_id)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_log ON deliveries (webhook_id, created_at);

-- When a key's "last 7 days" alert e-mail went (once per key).
ALTER TABLE api_keys ADD COLUMN expiry_alerted_at INTEGER;
