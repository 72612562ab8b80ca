-- Where a statement brought in by `lrs import` or `lrs pull` came from: the
-- source (a file:// URL or the source LRS's xAPI URL) and the stored time
-- it had there, which xAPI makes this LRS replace with its own. Written in
-- the transaction that inserts the statement, for imported statements only.
CREATE TABLE statement_provenance (
    tenant          text COLLATE "C" NOT NULL,
    id              uuid NOT NULL,
    source          text NOT NULL,
    original_stored timestamptz,
    PRIMARY KEY (tenant, id)
);

-- How far a pull from one source into one tenant got: every statement the
-- source stored up to since was delivered. It only moves forward.
CREATE TABLE pull_cursors (
    tenant     text NOT NULL,
    source     text NOT NULL,
    since      timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant, source)
);

-- The other LRSs each tenant pulls from (`lrs pulls`, the admin API), read
-- by `lrs pull -store-dsn`. The source's secret is kept as given: it must
-- be sent to the source; it is never shown back.
CREATE TABLE pull_sources (
    tenant      text NOT NULL REFERENCES tenants (id),
    name        text NOT NULL,
    endpoint    text NOT NULL,
    key         text NOT NULL,
    secret      text NOT NULL,
    version     text NOT NULL,
    interval_ms bigint NOT NULL,
    since       timestamptz,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant, name)
);
