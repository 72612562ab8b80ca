-- Read-only access for BI tools (Superset, Metabase, Grafana) and data
-- engineers, on servers with SQL access control (ClickHouse 20.5 and newer).
-- Not a migration: roles and users are server-wide, so an operator applies
-- this once as a user with access_management, after replacing `lrs` with the
-- analytics database and choosing real names and passwords.

-- SELECT on everything in the analytics database: statements, the
-- deduplicated views, the BI views and the rollup tables.
CREATE ROLE IF NOT EXISTS lrs_analytics_reader;
GRANT SELECT ON lrs.* TO lrs_analytics_reader;

-- readonly = 2 refuses writes and DDL but lets BI drivers set per-query
-- settings (readonly = 1 would refuse those too and break most drivers).
-- enable_optimize_predicate_expression pushes WHERE clauses into the views.
CREATE SETTINGS PROFILE IF NOT EXISTS lrs_analytics_reader_profile
    SETTINGS readonly = 2, enable_optimize_predicate_expression = 1,
             max_execution_time = 120, max_result_rows = 10000000
    TO lrs_analytics_reader;

-- Rows are denied unless a policy below grants them. Without this policy a
-- reader holding no tenant role would see every tenant wherever the server
-- runs with access_control_improvements.users_without_row_policies_can_read_rows
-- = true (the default of current releases, 26.x included): as soon as one
-- tenant policy exists, only users it names are filtered. Permissive
-- policies add up, so a tenant role below still sees its own tenant.
CREATE ROW POLICY IF NOT EXISTS lrs_no_rows ON
    lrs.statements, lrs.voided_statements,
    lrs.rollup_learners_daily, lrs.rollup_activity_daily,
    lrs.rollup_score_distribution_daily, lrs.rollup_time_spent_daily
    FOR SELECT USING 0 TO lrs_analytics_reader;

-- Platform analysts who may read every tenant say so explicitly.
CREATE ROLE IF NOT EXISTS lrs_reader_all_tenants;
GRANT lrs_analytics_reader TO lrs_reader_all_tenants;
CREATE ROW POLICY IF NOT EXISTS all_tenants ON
    lrs.statements, lrs.voided_statements,
    lrs.rollup_learners_daily, lrs.rollup_activity_daily,
    lrs.rollup_score_distribution_daily, lrs.rollup_time_spent_daily
    FOR SELECT USING 1 TO lrs_reader_all_tenants;

CREATE USER IF NOT EXISTS bi_reader IDENTIFIED WITH sha256_password BY 'change-me'
    DEFAULT ROLE lrs_reader_all_tenants;
GRANT lrs_reader_all_tenants TO bi_reader;

-- One organization's analysts see only their tenant: a row policy on every
-- table that holds rows (views read through them). Repeat per tenant.
CREATE ROLE IF NOT EXISTS lrs_reader_acme;
GRANT lrs_analytics_reader TO lrs_reader_acme;
CREATE ROW POLICY IF NOT EXISTS acme_only ON
    lrs.statements, lrs.voided_statements,
    lrs.rollup_learners_daily, lrs.rollup_activity_daily,
    lrs.rollup_score_distribution_daily, lrs.rollup_time_spent_daily
    FOR SELECT USING tenant = 'acme' TO lrs_reader_acme;
