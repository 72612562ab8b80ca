-- Tenants and their credentials. A credential belongs to exactly one tenant.
CREATE TABLE tenants (
    id         text PRIMARY KEY,
    name       text NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE TABLE credentials (
    key         text PRIMARY KEY,
    secret_hash text NOT NULL,
    tenant      text NOT NULL REFERENCES tenants (id),
    label       text NOT NULL,
    scopes      text[] NOT NULL,
    authority   bytea,
    disabled    boolean NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX credentials_tenant ON credentials (tenant);

-- One row per statement, keyed by (tenant, id). The body is kept byte for
-- byte as ingest prepared it. A row whose body is NULL is a placeholder for a
-- statement that another statement referred to (and maybe voided) before it
-- arrived; its unique key is what serializes concurrent writers of a
-- statement and of the statements referring to it.
CREATE TABLE statements (
    tenant      text NOT NULL,
    id          uuid NOT NULL,
    stored      timestamptz,
    fingerprint text,
    voided      boolean NOT NULL DEFAULT false,
    voiding     boolean NOT NULL DEFAULT false,
    ref         uuid,
    body        bytea,
    PRIMARY KEY (tenant, id)
);
-- Unfiltered listings walk this index in (stored, id) order.
CREATE INDEX statements_stored ON statements (tenant, stored, id);
-- Finds the statements that refer to a statement arriving late.
CREATE INDEX statements_ref ON statements (tenant, ref) WHERE ref IS NOT NULL;

-- Every filterable value of a statement (agent, activity, verb,
-- registration, prefixed by kind), including those it inherits through a
-- StatementRef. Filtered listings walk one key's range in (stored, id) order.
CREATE TABLE statement_keys (
    tenant text NOT NULL,
    key    text NOT NULL,
    stored timestamptz NOT NULL,
    id     uuid NOT NULL,
    direct boolean NOT NULL,
    PRIMARY KEY (tenant, key, stored, id) INCLUDE (direct)
);

-- The next offset to consume per consumer group and partition, written in
-- the same transaction as the statements it covers.
CREATE TABLE consumer_offsets (
    consumer_group text NOT NULL,
    topic          text NOT NULL,
    partition      integer NOT NULL,
    next_offset    bigint NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_group, topic, partition)
);
