-- Integrations (partner systems) and the keys the provider issues them. An integration's
-- record is one JSON document (contacts, support hours, modules, projects), read whole;
-- a deleted one keeps its row (`deleted_at`) so that its id stays taken.

CREATE TABLE integrations (
    id          TEXT PRIMARY KEY NOT NULL,
    doc         TEXT NOT NULL,          -- the Integration as JSON
    created_at  BIGINT NOT NULL,       -- microseconds since the epoch, as elsewhere
    updated_at  BIGINT NOT NULL,
    deleted_at  BIGINT
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
    expires_at         BIGINT,
    allowed_origins    TEXT NOT NULL DEFAULT '[]',
    rate_limit_per_min BIGINT,
    created_at         BIGINT NOT NULL,
    last_used_at       BIGINT,
    revoked_at         BIGINT
);
CREATE INDEX api_keys_integration ON api_keys (integration_id);

-- The change log takes any kind the code records (it now also records `integrations`).
ALTER TABLE changes DROP CONSTRAINT changes_kind_check;
