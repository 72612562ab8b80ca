-- min_server_version: 22.3
-- Fixes for current releases (24.x-26.x), applied after 0005 on a new
-- install and on an upgraded 18.16-era database alike.
--
-- 0005 made object_kind LowCardinality. With the old query analyzer
-- (enable_analyzer = 0, still chosen by many operators) 25.8 fails
-- `SELECT * FROM activity_daily` with "Block structure mismatch ...
-- LowCardinality(UInt8)": the filter on a LowCardinality column inside the
-- view. Comparing the plain String keeps the filter an ordinary UInt8 and
-- the view's results the same.
CREATE OR REPLACE VIEW activity_daily AS
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
WHERE CAST(object_kind AS String) = 'Activity' AND verb_id != 'http://adlnet.gov/expapi/verbs/voided'
GROUP BY tenant, day, activity_id;

-- ADD INDEX (0005) indexes only parts written afterwards; on a table that
-- already held statements, build the indexes for the existing parts too.
-- A mutation: it runs in the background, and look-ups are correct (only
-- slower) until it is done. Follow it in system.mutations.
ALTER TABLE statements MATERIALIZE INDEX idx_statement_id;
ALTER TABLE statements MATERIALIZE INDEX idx_actor_ifi;
ALTER TABLE statements MATERIALIZE INDEX idx_registration;
