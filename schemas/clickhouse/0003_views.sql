-- Views a BI tool can use without knowing about deduplication or voiding.
-- statements_all: every statement once (FINAL collapses retried/replayed
-- copies that background merges have not collapsed yet), with a voided flag.
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
    version, authority, voided_statement_id, statement_json
FROM statements FINAL
WHERE (tenant, statement_id) NOT IN (SELECT tenant, target_statement_id FROM voided_statements);
