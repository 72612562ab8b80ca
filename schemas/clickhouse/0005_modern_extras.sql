-- min_server_version: 22.3
-- Extras that ClickHouse 18.16 lacks, applied once the server is new enough
-- (Migrate skips this file on older servers and applies it after an upgrade).
-- On a populated table each MODIFY COLUMN rewrites that column once.
-- ZSTD keeps the full statement JSON about a third smaller than the default LZ4.
ALTER TABLE statements MODIFY COLUMN statement_json String CODEC(ZSTD(3));
-- Dictionary-encode repetitive columns that are not part of the sorting key
-- (a key column's type cannot change).
ALTER TABLE statements
    MODIFY COLUMN actor_kind LowCardinality(String),
    MODIFY COLUMN actor_ifi_kind LowCardinality(String),
    MODIFY COLUMN verb_display LowCardinality(String),
    MODIFY COLUMN object_kind LowCardinality(String),
    MODIFY COLUMN object_type LowCardinality(String),
    MODIFY COLUMN context_platform LowCardinality(String),
    MODIFY COLUMN context_language LowCardinality(String),
    MODIFY COLUMN version LowCardinality(String),
    MODIFY COLUMN authority LowCardinality(String);
-- Point look-ups by statement, learner or registration skip granules
-- instead of scanning the partition.
ALTER TABLE statements ADD INDEX IF NOT EXISTS idx_statement_id statement_id TYPE bloom_filter GRANULARITY 4;
ALTER TABLE statements ADD INDEX IF NOT EXISTS idx_actor_ifi actor_ifi TYPE bloom_filter GRANULARITY 4;
ALTER TABLE statements ADD INDEX IF NOT EXISTS idx_registration context_registration TYPE bloom_filter GRANULARITY 4;
