-- Where a statement brought in by `lrs import` or `lrs pull` came from: the
-- source (a file:// URL or the source LRS's xAPI URL) and the stored time
-- it had there, which xAPI makes this LRS replace with its own. Written in
-- the transaction that inserts the statement, for imported statements only.
CREATE TABLE IF NOT EXISTS statement_provenance (
    tenant          TEXT NOT NULL,
    id              TEXT NOT NULL,
    source          TEXT NOT NULL,
    original_stored INTEGER,
    PRIMARY KEY (tenant, id)
);

-- How far a pull from one source into one tenant got: every statement the
-- source stored up to since was delivered. It only moves forward.
CREATE TABLE IF NOT EXISTS pull_cursors (
    tenant     TEXT NOT NULL,
    source     TEXT NOT NULL,
    since      INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, source)
);

-- The other LRSs each tenant pulls from (`lrs pulls`, the admin API), read
-- by `lrs pull -store-dsn`. The source's secret is kept as given: it must
-- be sent to the source; it is never shown back.
CREATE TABLE IF NOT EXISTS pull_sources (
    tenant      TEXT NOT NULL REFERENCES tenants (id),
    name        TEXT NOT NULL,
    endpoint    TEXT NOT NULL,
    key         TEXT NOT NULL,
    secret      TEXT NOT NULL,
    version     TEXT NOT NULL,
    interval_ms INTEGER NOT NULL,
    since       INTEGER,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant, name)
);
