-- Provenance of statements brought in by `lrs import` and `lrs pull`: the
-- source (a file:// URL or the source LRS's xAPI URL; '' for a statement
-- sent to this LRS directly) and the stored time the statement had there
-- (NULL when none), which xAPI makes this LRS replace with its own.
-- ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS: Migrate takes "already
-- exists" for an ADD COLUMN that ran before its migration was recorded.
ALTER TABLE statements ADD COLUMN source String DEFAULT '';
ALTER TABLE statements ADD COLUMN original_stored Nullable(DateTime('UTC'));
ALTER TABLE statements ADD COLUMN original_stored_ms UInt16 DEFAULT 0;

-- The two deduplicated views (0003) with the new columns. A view cannot be
-- altered on 18.16: it is dropped and created again, so a query of it in
-- that instant fails and should be retried.
DROP TABLE IF EXISTS statements_all;
DROP TABLE IF EXISTS statements_current;
CREATE VIEW IF NOT EXISTS statements_all AS
SELECT
    tenant, statement_id, timestamp, timestamp_ms, stored, stored_ms,
    actor_kind, actor_ifi_kind, actor_ifi, actor_name, actor_account_home_page, actor_account_name,
    verb_id, verb_display, object_kind, object_id, object_type, object_name,
    result_success, result_completion, result_score_scaled, result_score_raw, result_score_min,
    result_score_max, result_duration_s, result_response,
    context_registration, context_platform, context_language, context_instructor, context_team,
    context_parent_ids, context_grouping_ids, context_category_ids, context_other_ids,
    context_agents, context_groups, context_extension_keys, result_extension_keys, object_extension_keys,
    version, authority, voided_statement_id, statement_json,
    source, original_stored, original_stored_ms,
    (tenant, statement_id) IN (SELECT tenant, target_statement_id FROM voided_statements) AS voided
FROM statements FINAL;

-- statements_current: what an xAPI GET would return: deduplicated and
-- without voided statements. Voiding statements themselves stay (as in xAPI).
CREATE VIEW IF NOT EXISTS statements_current AS
SELECT
    tenant, statement_id, timestamp, timestamp_ms, stored, stored_ms,
    actor_kind, actor_ifi_kind, actor_ifi, actor_name, actor_account_home_page, actor_account_name,
    verb_id, verb_display, object_kind, object_id, object_type, object_name,
    result_success, result_completion, result_score_scaled, result_score_raw, result_score_min,
    result_score_max, result_duration_s, result_response,
    context_registration, context_platform, context_language, context_instructor, context_team,
    context_parent_ids, context_grouping_ids, context_category_ids, context_other_ids,
    context_agents, context_groups, context_extension_keys, result_extension_keys, object_extension_keys,
    version, authority, voided_statement_id, statement_json,
    source, original_stored, original_stored_ms
FROM statements FINAL
WHERE (tenant, statement_id) NOT IN (SELECT tenant, target_statement_id FROM voided_statements);
