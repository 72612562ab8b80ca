-- See the PostgreSQL migration: the erasures applied, the agent as a keyed
-- hash only; times are unix microseconds.
CREATE TABLE IF NOT EXISTS erasures (
    tenant       TEXT NOT NULL,
    id           TEXT NOT NULL,
    agent_hash   TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    before_time  INTEGER NOT NULL,
    applied_at   INTEGER NOT NULL,
    statements   INTEGER NOT NULL,
    attachments  INTEGER NOT NULL,
    documents    INTEGER NOT NULL,
    copies       INTEGER NOT NULL,
    PRIMARY KEY (tenant, id)
);
ALTER TABLE tenants ADD COLUMN retention_seconds INTEGER NOT NULL DEFAULT 0;
