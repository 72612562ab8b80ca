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
    tenant      text COLLATE "C" NOT NULL,
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
-- registration), including those it inherits through a StatementRef.
-- Filtered listings walk one digest's range in (stored, id) order. The
-- digest is 128 bits of SHA-256 over tenant and key: fixed-width keys make
-- this index (the store's largest) small and fast to insert into, with
-- collision odds no worse than those of the random UUIDs that identify
-- statements. Listings join statements on (tenant, id), so no digest can
-- ever reach another tenant's rows.
CREATE TABLE statement_keys (
    digest uuid NOT NULL,
    stored timestamptz NOT NULL,
    id     uuid NOT NULL,
    direct boolean NOT NULL,
    tenant text NOT NULL,
    PRIMARY KEY (digest, stored, id) INCLUDE (direct)
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
