-- Integrations (partner systems) and the keys the provider issues them. An integration's
-- record is one JSON document (contacts, support hours, modules, projects), read whole;
-- a deleted one keeps its row (`deleted_at`) so that its id stays taken.

CREATE TABLE integrations (
    id          TEXT PRIMARY KEY NOT NULL,
    doc         TEXT NOT NULL,          -- the Integration as JSON
    created_at  INTEGER NOT NULL,       -- microseconds since the epoch, as elsewhere
    updated_at  INTEGER NOT NULL,
    deleted_at  INTEGER
);

-- Keys are kept only as the SHA-256 of the key (hex) and its first 12 characters.
CREATE TABLE api_keys (
    id                 TEXT PRIMARY KEY NOT NULL,
    integration_id     TEXT NOT NULL REFERENCES integrations (id),
    hash               TEXT NOT NULL UNIQUE,
    prefix             TEXT NOT NULL,
    name               TEXT NOT NULL,
    kind               TEXT NOT NULL,   -- secret | publishable
    scopes             TEXT,            -- JSON array; NULL: whatever the modules grant
    expires_at         INTEGER,
    allowed_origins    TEXT NOT NULL DEFAULT '[]',
    rate_limit_per_min INTEGER,
    created_at         INTEGER NOT NULL,
    last_used_at       INTEGER,
    revoked_at         INTEGER
);
CREATE INDEX api_keys_integration ON api_keys (integration_id);

-- The change log takes any kind the code records (it now also records `integrations`):
-- SQLite cannot drop a CHECK, so the table is rebuilt, its versions and its sequence kept
-- (a pruned log's next version must not repeat one a replica has seen).
CREATE TABLE changes_new (
    version    INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT NOT NULL,
    subject    TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
INSERT INTO changes_new (version, kind, subject, created_at)
    SELECT version, kind, subject, created_at FROM changes;
DELETE FROM sqlite_sequence WHERE name = 'changes_new';
INSERT INTO sqlite_sequence (name, seq) SELECT 'changes_new', seq FROM sqlite_sequence WHERE name = 'changes';
DROP TABLE changes;
ALTER TABLE changes_new RENAME TO changes;
CREATE INDEX changes_age ON changes (created_at);
