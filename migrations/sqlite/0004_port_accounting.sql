-- Port accounting: an installed port stays occupied by its reservation until an import
-- shows it used (`inventory_confirmed_at`); holds an import displaces record their moves.
-- Idempotency keys keep a reference to the reservation and a keyed hash, never the body.

ALTER TABLE reservations ADD COLUMN port_moves TEXT NOT NULL DEFAULT '[]';  -- JSON array
ALTER TABLE reservations ADD COLUMN inventory_confirmed_at INTEGER;
-- Installs completed before this migration were written into the splitter's used ports.
UPDATE reservations SET inventory_confirmed_at = closed_at WHERE status = 'installed';

-- The arbiter of "never two customers on one port": live holds and unconfirmed installs.
DROP INDEX reservations_one_live_hold_per_port;
DROP INDEX reservations_live_box;
CREATE UNIQUE INDEX reservations_one_occupant_per_port ON reservations (splitter_id, port)
    WHERE status IN ('pending', 'confirmed', 'installed') AND inventory_confirmed_at IS NULL;
CREATE INDEX reservations_occupying_box ON reservations (box_id)
    WHERE status IN ('pending', 'confirmed', 'installed') AND inventory_confirmed_at IS NULL;

-- Keys stored before keep their reservation; their plain hash no longer matches a
-- replay, which is then refused as reused (422) rather than held twice.
ALTER TABLE idempotency_keys ADD COLUMN reservation_id TEXT NOT NULL DEFAULT '';
UPDATE idempotency_keys SET reservation_id = json_extract(body, '$.id');
ALTER TABLE idempotency_keys DROP COLUMN body;
ALTER TABLE idempotency_keys RENAME COLUMN request_hash TO request_hmac;

-- Random secrets the service draws once (the idempotency HMAC key).
CREATE TABLE secrets (
    name  TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

CREATE INDEX changes_age ON changes (created_at);
