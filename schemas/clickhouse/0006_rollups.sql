-- Materialized rollups: the BI views' results stored per month, for
-- dashboards over large histories. RefreshRollups recomputes whole months
-- from the views and swaps each month in with REPLACE PARTITION, so a
-- rollup month is always exactly what the view said at refresh time:
-- replays change nothing and voided statements leave the numbers.
-- Between refreshes they lag; the views are always current.
CREATE TABLE IF NOT EXISTS rollup_learners_daily
(
    tenant     String,
    day        Date,
    learners   UInt64,
    statements UInt64
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (tenant, day);

CREATE TABLE IF NOT EXISTS rollup_activity_daily
(
    tenant        String,
    day           Date,
    activity_id   String,
    activity_name String,
    learners      UInt64,
    statements    UInt64,
    attempts      UInt64,
    completions   UInt64,
    passed        UInt64,
    failed        UInt64,
    pass_rate     Nullable(Float64)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (tenant, activity_id, day);

CREATE TABLE IF NOT EXISTS rollup_score_distribution_daily
(
    tenant       String,
    day          Date,
    activity_id  String,
    score_bucket Float64,
    statements   UInt64,
    learners     UInt64
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (tenant, activity_id, day, score_bucket);

CREATE TABLE IF NOT EXISTS rollup_time_spent_daily
(
    tenant      String,
    day         Date,
    activity_id String,
    actor_ifi   String,
    seconds     Float64,
    statements  UInt64
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (tenant, day, activity_id, actor_ifi);

-- Months that received statements, marked by every insert (one row per
-- insert block and month). A refresh recomputes the months marked since the
-- previous refresh began.
CREATE TABLE IF NOT EXISTS rollup_dirty
(
    month     UInt32,
    marked_at DateTime('UTC')
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(marked_at)
ORDER BY (marked_at, month);

CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_dirty_mv TO rollup_dirty AS
SELECT DISTINCT toYYYYMM(timestamp) AS month, now() AS marked_at
FROM statements;

CREATE TABLE IF NOT EXISTS rollup_refreshes
(
    started_at DateTime('UTC'),
    months     Array(UInt32)
)
ENGINE = MergeTree
ORDER BY started_at;
