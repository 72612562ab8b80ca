-- Erasures the store-writer applied (erasure.v1 records on the topic): who
-- asked, when, and what went. The agent is kept only as a keyed hash
-- (HMAC-SHA256 under the server key "erasure", see server_keys), so the
-- record proves an erasure of a given agent without naming it. One row per
-- erasure; each partition's copy adds what it removed.
CREATE TABLE IF NOT EXISTS erasures (
    tenant       TEXT NOT NULL,
    id           TEXT NOT NULL,
    agent_hash   TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    before_time  timestamptz NOT NULL,
    applied_at   timestamptz NOT NULL,
    statements   bigint NOT NULL,
    attachments  bigint NOT NULL,
    documents    bigint NOT NULL,
    copies       integer NOT NULL,
    PRIMARY KEY (tenant, id)
);
-- The longest a tenant keeps statements, in seconds (0: for ever): the
-- store-writer and the analytics-writer purge older ones periodically.
ALTER TABLE tenants ADD COLUMN retention_seconds bigint NOT NULL DEFAULT 0;
