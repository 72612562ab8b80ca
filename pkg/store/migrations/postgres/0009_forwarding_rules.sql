-- Forwarding rules (pkg/forwarding): per tenant, statements matching a
-- filter are sent on to a target (another LRS, a webhook). filter and target
-- are the rule's JSON as pkg/forwarding validated it; the target holds the
-- credentials it needs, which the admin API never shows. start_at is where a
-- rule without positions starts reading (NULL: the beginning of retention);
-- a rewind sets it and raises generation, so that positions saved under an
-- older generation are ignored.
CREATE TABLE IF NOT EXISTS forwarding_rules (
    tenant     TEXT NOT NULL REFERENCES tenants (id),
    name       TEXT NOT NULL,
    filter     TEXT NOT NULL,
    target     TEXT NOT NULL,
    start_at   timestamptz,
    generation BIGINT NOT NULL DEFAULT 1,
    paused     BOOLEAN NOT NULL DEFAULT FALSE,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant, name)
);

-- Where each rule stands in each partition of the statements topic, and
-- what it did there: the forwarder that owns the partition saves it after
-- every delivery (counters are added, positions only move under the rule's
-- current generation).
CREATE TABLE IF NOT EXISTS forwarding_positions (
    tenant        TEXT NOT NULL,
    rule          TEXT NOT NULL,
    partition     INTEGER NOT NULL,
    generation    BIGINT NOT NULL,
    next_offset   BIGINT NOT NULL,
    end_offset    BIGINT NOT NULL,
    pending_since timestamptz,
    delivered     BIGINT NOT NULL DEFAULT 0,
    failed        BIGINT NOT NULL DEFAULT 0,
    dead_letters  BIGINT NOT NULL DEFAULT 0,
    last_error    TEXT NOT NULL DEFAULT '',
    last_error_at timestamptz,
    updated_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant, rule, partition),
    FOREIGN KEY (tenant, rule) REFERENCES forwarding_rules (tenant, name) ON DELETE CASCADE
);

-- Statements a rule's target refused for good (a 4xx other than 429), with
-- its answer; resend marks those an operator asked to send again.
CREATE TABLE IF NOT EXISTS forwarding_dead_letters (
    id            BIGSERIAL PRIMARY KEY,
    tenant        TEXT NOT NULL,
    rule          TEXT NOT NULL,
    statement_id  TEXT NOT NULL,
    statement     TEXT NOT NULL,
    partition     INTEGER NOT NULL,
    record_offset BIGINT NOT NULL,
    status        INTEGER NOT NULL,
    answer        TEXT NOT NULL,
    resend        BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    timestamptz NOT NULL,
    FOREIGN KEY (tenant, rule) REFERENCES forwarding_rules (tenant, name) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS forwarding_dead_letters_rule ON forwarding_dead_letters (tenant, rule, id);
