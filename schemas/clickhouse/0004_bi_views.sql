-- BI views for the questions people ask. Each reads statements_current, so
-- retried or replayed copies and voided statements never count, and a BI
-- tool needs no knowledge of either. Voiding statements are bookkeeping, not
-- learning: they are left out here (they still show in statements_current
-- and in ingest_hourly). Days and hours are UTC.

-- Active learners per tenant and day. A learner is an actor IFI; anonymous
-- groups have none and are not counted.
CREATE VIEW IF NOT EXISTS learners_daily AS
SELECT
    tenant,
    toDate(timestamp) AS day,
    uniqExact(actor_ifi) AS learners,
    count() AS statements
FROM statements_current
WHERE verb_id != 'http://adlnet.gov/expapi/verbs/voided' AND actor_ifi != ''
GROUP BY tenant, day;

-- Per activity and day: learners, statements, attempts, completions and
-- pass rate. passed/failed read both the verbs and result.success, since
-- LMSs report outcomes either way; pass_rate is passed / (passed + failed),
-- NULL when nothing was judged.
CREATE VIEW IF NOT EXISTS activity_daily AS
SELECT
    tenant,
    toDate(timestamp) AS day,
    object_id AS activity_id,
    any(object_name) AS activity_name,
    uniqExactIf(actor_ifi, actor_ifi != '') AS learners,
    count() AS statements,
    countIf(verb_id = 'http://adlnet.gov/expapi/verbs/attempted') AS attempts,
    countIf(verb_id = 'http://adlnet.gov/expapi/verbs/completed' OR result_completion = 1) AS completions,
    countIf(verb_id = 'http://adlnet.gov/expapi/verbs/passed' OR (result_success = 1 AND verb_id != 'http://adlnet.gov/expapi/verbs/failed')) AS passed,
    countIf(verb_id = 'http://adlnet.gov/expapi/verbs/failed' OR (result_success = 0 AND verb_id != 'http://adlnet.gov/expapi/verbs/passed')) AS failed,
    if(passed + failed = 0, NULL, passed / (passed + failed)) AS pass_rate
FROM statements_current
WHERE object_kind = 'Activity' AND verb_id != 'http://adlnet.gov/expapi/verbs/voided'
GROUP BY tenant, day, activity_id;

-- Distribution of scaled scores per activity and day in buckets of 0.1
-- (bucket 0.7 holds 0.7 <= score < 0.8; a perfect 1.0 gets bucket 1.0).
CREATE VIEW IF NOT EXISTS score_distribution_daily AS
SELECT
    tenant,
    toDate(timestamp) AS day,
    object_id AS activity_id,
    floor(assumeNotNull(result_score_scaled) * 10) / 10 AS score_bucket,
    count() AS statements,
    uniqExact(actor_ifi) AS learners
FROM statements_current
WHERE result_score_scaled IS NOT NULL AND verb_id != 'http://adlnet.gov/expapi/verbs/voided'
GROUP BY tenant, day, activity_id, score_bucket;

-- Time spent per learner, activity and day: the sum of result.duration in
-- seconds (calendar units approximated: a month is 30 days, a year 365).
CREATE VIEW IF NOT EXISTS time_spent_daily AS
SELECT
    tenant,
    toDate(timestamp) AS day,
    object_id AS activity_id,
    actor_ifi,
    sum(assumeNotNull(result_duration_s)) AS seconds,
    count() AS statements
FROM statements_current
WHERE result_duration_s IS NOT NULL AND verb_id != 'http://adlnet.gov/expapi/verbs/voided'
GROUP BY tenant, day, activity_id, actor_ifi;

-- Ingest monitoring: statements received per LMS credential (authority) and
-- hour of stored, voided or not, once each.
CREATE VIEW IF NOT EXISTS ingest_hourly AS
SELECT
    tenant,
    toStartOfHour(stored) AS hour,
    authority,
    count() AS statements,
    countIf(voided) AS voided_statements
FROM statements_all
GROUP BY tenant, hour, authority;
