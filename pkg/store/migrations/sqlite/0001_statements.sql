-- The same schema as PostgreSQL's: times are unix microseconds, ids text,
-- booleans 0/1, scopes a JSON array.
CREATE TABLE tenants (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE credentials (
    key         TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL,
    tenant      TEXT NOT NULL REFERENCES tenants (id),
    label       TEXT NOT NULL,
    scopes      TEXT NOT NULL,
    authority   BLOB,
    disabled    INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX credentials_tenant ON credentials (tenant);

-- A row whose body is NULL is a placeholder for a statement that another
-- statement referred to (and maybe voided) before it arrived.
CREATE TABLE statements (
    tenant      TEXT NOT NULL,
    id          TEXT NOT NULL,
    stored      INTEGER,
    fingerprint TEXT,
    voided      INTEGER NOT NULL DEFAULT 0,
    voiding     INTEGER NOT NULL DEFAULT 0,
    ref         TEXT,
    body        BLOB,
    PRIMARY KEY (tenant, id)
);
CREATE INDEX statements_stored ON statements (tenant, stored, id);
CREATE INDEX statements_ref ON statements (tenant, ref) WHERE ref IS NOT NULL;

-- Clustered on the key digest (see the PostgreSQL migration) so that a
-- filtered listing reads one contiguous range.
CREATE TABLE statement_keys (
    digest BLOB NOT NULL,
    stored INTEGER NOT NULL,
    id     TEXT NOT NULL,
    direct INTEGER NOT NULL,
    tenant TEXT NOT NULL,
    PRIMARY KEY (digest, stored, id)
) WITHOUT ROWID;

CREATE TABLE consumer_offsets (
    consumer_group TEXT NOT NULL,
    topic          TEXT NOT NULL,
    partition      INTEGER NOT NULL,
    next_offset    INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    PRIMARY KEY (consumer_group, topic, partition)
) WITHOUT ROWID;
