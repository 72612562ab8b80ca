"""Measure what current ClickHouse features would change for the statements
table (docs/analytics.md, "DateTime64, JSON, projections, refreshable
views"): the same generated statements in tables that differ by one feature,
each query run several times, the median reported with the rows and bytes it
read and the table's size on disk.

Runs in-process on chDB (no server): use the venv scripts/testenv makes,
  ~/.cache/streamlrs/chdb/4.4.0/venv/bin/python scripts/bench/clickhouse_features.py [ROWS]
ROWS defaults to 2,000,000 (about 3 minutes on 2 cores).
"""

import shutil
import statistics
import sys
import tempfile
import time

from chdb import session

ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 2_000_000
RUNS = 5
LEARNERS = 20_000
ACTIVITIES = 500
PROGRESS = "https://w3id.org/xapi/cmi5/result/extensions/progress"

# The columns of schemas/clickhouse/0001_statements.sql that the compared
# queries touch, plus the statement JSON that makes up most of a row.
COLUMNS = """
    tenant String,
    statement_id UUID,
    {time_columns},
    actor_ifi String,
    verb_id String,
    object_id String,
    result_score_scaled Nullable(Float64),
    statement_json {json_type}
"""
DATETIME = "timestamp DateTime('UTC'), timestamp_ms UInt16"
DATETIME64 = "timestamp DateTime64(3, 'UTC')"

GENERATED = f"""
SELECT
    if(number % 10 = 0, 'beta', 'acme') AS tenant,
    generateUUIDv4(number) AS statement_id,
    toDateTime('2024-01-01 00:00:00', 'UTC') + toIntervalSecond(intHash32(number) % (730 * 86400)) AS ts,
    toUInt16(intHash32(number + 1) % 1000) AS ms,
    concat('mbox:mailto:learner', toString(intHash32(number + 2) % {LEARNERS}), '@example.com') AS actor_ifi,
    ['http://adlnet.gov/expapi/verbs/attempted', 'http://adlnet.gov/expapi/verbs/completed',
     'http://adlnet.gov/expapi/verbs/passed', 'http://adlnet.gov/expapi/verbs/failed',
     'http://adlnet.gov/expapi/verbs/experienced'][intHash32(number + 3) % 5 + 1] AS verb_id,
    concat('https://lms.example.com/course/', toString(intHash32(number + 4) % {ACTIVITIES})) AS object_id,
    if(number % 3 = 0, NULL, (intHash32(number + 5) % 101) / 100) AS score,
    concat('{{"id":"', toString(statement_id), '","actor":{{"mbox":"', substring(actor_ifi, 6),
           '","name":"Learner"}},"verb":{{"id":"', verb_id, '"}},"object":{{"id":"', object_id,
           '","definition":{{"type":"http://adlnet.gov/expapi/activities/lesson"}}}},"result":{{"score":{{"scaled":',
           toString(ifNull(score, 0)), '}},"extensions":{{"{PROGRESS}":', toString(intHash32(number + 6) % 101),
           '}}}},"timestamp":"', formatDateTime(ts, '%Y-%m-%dT%H:%i:%S'), 'Z"}}') AS json
FROM numbers({ROWS})
"""

SORT = "ORDER BY (tenant, object_id, timestamp, statement_id)"


class Bench:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="chfeatures.")
        self.s = session.Session(self.dir)
        self.s.query("CREATE DATABASE IF NOT EXISTS b")

    def q(self, sql):
        return self.s.query(sql, "CSV")

    def scalar(self, sql):
        return str(self.q(sql)).strip().strip('"')

    def make(self, name, time_columns=DATETIME, json_type="String", extra="", engine_extra=""):
        t0 = time.perf_counter()
        self.q(f"CREATE TABLE b.{name} ({COLUMNS.format(time_columns=time_columns, json_type=json_type)} {extra}) "
               f"ENGINE = ReplacingMergeTree PARTITION BY toYYYYMM(timestamp) {SORT} {engine_extra}")
        if time_columns == DATETIME:
            select = "tenant, statement_id, ts, ms, actor_ifi, verb_id, object_id, score, json"
        else:
            select = "tenant, statement_id, toDateTime64(ts, 3, 'UTC') + toIntervalMillisecond(ms), actor_ifi, verb_id, object_id, score, json"
        # Without json_type_escape_dots_in_keys (off by default on 25.8 and
        # 26.9) the JSON type splits IRI keys at their dots.
        self.q(f"INSERT INTO b.{name} SELECT {select} FROM ({GENERATED}) SETTINGS json_type_escape_dots_in_keys = 1")
        insert = time.perf_counter() - t0
        self.q(f"OPTIMIZE TABLE b.{name} FINAL")
        size = int(self.scalar(f"SELECT sum(bytes_on_disk) FROM system.parts WHERE database = 'b' AND table = '{name}' AND active"))
        return insert, size

    def time(self, sql):
        times = []
        for _ in range(RUNS):
            t0 = time.perf_counter()
            res = self.q(sql)
            times.append(time.perf_counter() - t0)
        # The rows and bytes the last run read, as the engine counted them.
        return statistics.median(times) * 1000, res.storage_rows_read(), res.storage_bytes_read()

    def close(self):
        self.s.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def report(title, rows):
    print(f"\n{title}")
    print("| variant | median ms | rows read | MB read |")
    print("|---|---|---|---|")
    for name, (ms, r, b) in rows:
        print(f"| {name} | {ms:.1f} | {r:,} | {b / 1e6:.1f} |")


def main():
    b = Bench()
    print(f"ClickHouse {b.scalar('SELECT version()')} (chDB), {ROWS:,} generated statements, median of {RUNS} runs")
    sizes = {}
    for name, kw in [
        ("base", {}),
        ("bloom", {"extra": ", INDEX idx_actor_ifi actor_ifi TYPE bloom_filter(0.01) GRANULARITY 4"}),
        # A ReplacingMergeTree takes a projection only if its merges rebuild
        # it (the default, throw, refuses the table).
        ("projection", {"extra": ", PROJECTION by_actor (SELECT * ORDER BY tenant, actor_ifi, timestamp)",
                        "engine_extra": "SETTINGS deduplicate_merge_projection_mode = 'rebuild'"}),
        ("dt64", {"time_columns": DATETIME64}),
        ("json", {"json_type": "JSON"}),
        # What a data engineer can add for a hot extension on any server
        # since 1.1: a column computed once, at insert.
        ("materialized", {"extra": f", progress Float64 MATERIALIZED JSONExtractFloat(statement_json, 'result', 'extensions', '{PROGRESS}')"}),
    ]:
        sizes[name] = b.make(name, **kw)
    print("\n| table | insert s | MB on disk |\n|---|---|---|")
    for name, (ins, size) in sizes.items():
        print(f"| {name} | {ins:.1f} | {size / 1e6:.1f} |")

    learner = "mbox:mailto:learner4242@example.com"
    one = "SELECT count(), avg(result_score_scaled) FROM b.{t} FINAL WHERE tenant = 'acme' AND actor_ifi = '" + learner + "'"
    report("One learner's statements (FINAL, as statements_current reads)",
           [(t, b.time(one.format(t=t))) for t in ("base", "bloom", "projection")])
    one_nofinal = "SELECT count(), avg(result_score_scaled) FROM b.{t} WHERE tenant = 'acme' AND actor_ifi = '" + learner + "'"
    report("One learner's statements (no FINAL)",
           [(t, b.time(one_nofinal.format(t=t))) for t in ("base", "bloom", "projection")])

    month = ("SELECT toDate(timestamp) AS day, count() FROM b.{t} WHERE tenant = 'acme' "
             "AND timestamp >= '2025-03-01 00:00:00' AND timestamp < '2025-04-01 00:00:00' GROUP BY day ORDER BY day")
    latest = "SELECT statement_id FROM b.{t} WHERE tenant = 'acme' ORDER BY {order} DESC LIMIT 100"
    report("Time: one month per day, and the newest 100 in millisecond order", [
        ("DateTime + UInt16, month", b.time(month.format(t="base"))),
        ("DateTime64(3), month", b.time(month.format(t="dt64"))),
        ("DateTime + UInt16, newest 100", b.time(latest.format(t="base", order="timestamp DESC, timestamp_ms"))),
        ("DateTime64(3), newest 100", b.time(latest.format(t="dt64", order="timestamp"))),
    ])

    # With the dots escaped at insert, the path names them escaped; 25.8
    # does not apply the setting to INSERT ... SELECT, and splits the keys.
    path = PROGRESS.replace(".", "%2E")
    found = f"SELECT countIf(statement_json.result.extensions.`{{p}}`.:Int64 IS NOT NULL) = count() FROM b.json"
    json_note = "keys escaped"
    if b.scalar(found.format(p=path)) not in ("true", "1"):
        path, json_note = PROGRESS, "keys split at their dots: this release ignores the escaping setting on INSERT ... SELECT"
        if b.scalar(found.format(p=path)) not in ("true", "1"):
            sys.exit("the JSON subcolumn query reads no values under either path")
    ext = ("SELECT object_id, avg({expr}) AS progress FROM b.{t} WHERE tenant = 'acme' "
           "GROUP BY object_id ORDER BY progress DESC LIMIT 10")
    report("An extension's average per activity (result.extensions progress)", [
        ("String + JSONExtractFloat", b.time(ext.format(t="base", expr=f"JSONExtractFloat(statement_json, 'result', 'extensions', '{PROGRESS}')"))),
        (f"JSON type, subcolumn ({json_note})", b.time(ext.format(t="json", expr=f"statement_json.result.extensions.`{path}`.:Int64"))),
        ("String + MATERIALIZED column", b.time(ext.format(t="materialized", expr="progress"))),
    ])
    back = b.scalar("SELECT statement_json::String FROM b.json LIMIT 1")
    print(f"\nOne statement as the JSON type gives it back: {back}")

    rollup = ("SELECT tenant, toStartOfMonth(timestamp) AS month, object_id, uniqExact(actor_ifi), count(), "
              "avg(result_score_scaled) FROM b.base FINAL {where} GROUP BY tenant, month, object_id FORMAT Null")
    report("A monthly rollup: the whole table (what a refreshable view recomputes) vs one month (RefreshMonths)", [
        ("all 24 months", b.time(rollup.format(where=""))),
        ("one month", b.time(rollup.format(where="WHERE timestamp >= '2025-03-01 00:00:00' AND timestamp < '2025-04-01 00:00:00'"))),
    ])
    b.close()


if __name__ == "__main__":
    main()
