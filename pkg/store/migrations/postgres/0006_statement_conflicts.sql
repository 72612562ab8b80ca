-- Statements the store-writer refused because their id was stored first
-- with other content (and dead-lettered with reason "conflict"): the
-- conflicts ingest could not answer with 409 (two instances at the same
-- moment, or the store unreachable for the check). Kept so that operators
-- can list them per tenant with both fingerprints; recorded in the
-- transaction that applies the batch, once per (tenant, id, fingerprint).
CREATE TABLE IF NOT EXISTS statement_conflicts (
    tenant             TEXT NOT NULL,
    id                 uuid NOT NULL,
    fingerprint        TEXT NOT NULL,
    stored_fingerprint TEXT NOT NULL,
    detected_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, id, fingerprint)
);
CREATE INDEX IF NOT EXISTS statement_conflicts_recent ON statement_conflicts (tenant, detected_at);
