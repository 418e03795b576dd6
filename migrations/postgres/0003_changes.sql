-- The change log replicas follow: every committed write that changes what the index,
-- the plans or the settings hold adds a row in its own transaction. A replica applies rows
-- newer than the last it applied (all are "reload this from the database", so applying
-- one twice is harmless).
CREATE TABLE changes (
    version    BIGSERIAL PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('project', 'splitters', 'plans', 'settings')),
    subject    TEXT NOT NULL,       -- project id, or JSON array of splitter ids, or ''
    created_at BIGINT NOT NULL      -- microseconds since the epoch
);
