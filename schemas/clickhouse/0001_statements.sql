-- One row per statement as flattened by the analytics-writer. Retries and
-- replays insert the same row again: ReplacingMergeTree collapses rows with
-- the same sorting key at merge time, and every view reads deduplicated rows
-- (FINAL or duplicate-insensitive aggregates), so no query counts twice.
-- A statement's timestamp never changes, so all copies of one statement land
-- in the same partition and the same sorting key, which is what lets the
-- engine collapse them. DDL kept to what ClickHouse 18.16 and current
-- releases both accept (DateTime plus a milliseconds column; no codecs, no
-- LowCardinality here: see the gated migration for newer servers).
CREATE TABLE IF NOT EXISTS statements
(
    tenant                  String,
    statement_id            UUID,
    timestamp               DateTime('UTC'),
    timestamp_ms            UInt16,
    stored                  DateTime('UTC'),
    stored_ms               UInt16,
    actor_kind              String,
    actor_ifi_kind          String,
    actor_ifi               String,
    actor_name              String,
    actor_account_home_page String,
    actor_account_name      String,
    verb_id                 String,
    verb_display            String,
    object_kind             String,
    object_id               String,
    object_type             String,
    object_name             String,
    result_success          Nullable(UInt8),
    result_completion       Nullable(UInt8),
    result_score_scaled     Nullable(Float64),
    result_score_raw        Nullable(Float64),
    result_score_min        Nullable(Float64),
    result_score_max        Nullable(Float64),
    result_duration_s       Nullable(Float64),
    result_response         Nullable(String),
    context_registration    Nullable(UUID),
    context_platform        String,
    context_language        String,
    context_instructor      String,
    context_team            String,
    context_parent_ids      Array(String),
    context_grouping_ids    Array(String),
    context_category_ids    Array(String),
    context_other_ids       Array(String),
    context_agents          Array(String),
    context_groups          Array(String),
    context_extension_keys  Array(String),
    result_extension_keys   Array(String),
    object_extension_keys   Array(String),
    version                 String,
    authority               String,
    voided_statement_id     Nullable(UUID),
    statement_json          String
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(timestamp)
ORDER BY (tenant, object_id, timestamp, statement_id);
