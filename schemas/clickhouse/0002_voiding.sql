-- Voiding flows through the topic like any statement, and the voiding
-- statement may arrive before or after its target. Instead of mutating the
-- target row, every voiding statement also lands here (through the
-- materialized view, in the same INSERT), and views exclude targets found
-- in this table. Small: one row per voiding statement.
CREATE TABLE IF NOT EXISTS voided_statements
(
    tenant               String,
    target_statement_id  UUID,
    voiding_statement_id UUID,
    voided_at            DateTime('UTC'),
    -- when the voiding reached ClickHouse: rollup refreshes look for new
    -- voids by it (voided_at is when the LRS stored it, which can be long
    -- before if ClickHouse was down).
    inserted_at          DateTime('UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (tenant, target_statement_id);

-- The target column is named apart from statements.voided_statement_id on
-- purpose: newer servers resolve WHERE names to SELECT aliases first, so an
-- alias of the same name would turn the filter into one that never fails.
CREATE MATERIALIZED VIEW IF NOT EXISTS voided_statements_mv TO voided_statements AS
SELECT
    tenant,
    assumeNotNull(voided_statement_id) AS target_statement_id,
    statement_id AS voiding_statement_id,
    stored AS voided_at,
    now() AS inserted_at
FROM statements
WHERE voided_statement_id IS NOT NULL;
