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
    start_at   INTEGER,
    generation INTEGER NOT NULL DEFAULT 1,
    paused     INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
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
    generation    INTEGER NOT NULL,
    next_offset   INTEGER NOT NULL,
    end_offset    INTEGER NOT NULL,
    pending_since INTEGER,
    delivered     INTEGER NOT NULL DEFAULT 0,
    failed        INTEGER NOT NULL DEFAULT 0,
    dead_letters  INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT NOT NULL DEFAULT '',
    last_error_at INTEGER,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (tenant, rule, partition),
    FOREIGN KEY (tenant, rule) REFERENCES forwarding_rules (tenant, name) ON DELETE CASCADE
);

-- Statements a rule's target refused for good (a 4xx other than 429), with
-- its answer; resend marks those an operator asked to send again.
CREATE TABLE IF NOT EXISTS forwarding_dead_letters (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant        TEXT NOT NULL,
    rule          TEXT NOT NULL,
    statement_id  TEXT NOT NULL,
    statement     TEXT NOT NULL,
    partition     INTEGER NOT NULL,
    record_offset INTEGER NOT NULL,
    status        INTEGER NOT NULL,
    answer        TEXT NOT NULL,
    resend        INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    FOREIGN KEY (tenant, rule) REFERENCES forwarding_rules (tenant, name) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS forwarding_dead_letters_rule ON forwarding_dead_letters (tenant, rule, id);
