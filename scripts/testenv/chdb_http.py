"""A ClickHouse HTTP front end for chDB, for tests only.

chDB (PyPI `chdb`) is the real ClickHouse engine in-process; it cannot listen
on a port. This server speaks the part of ClickHouse's HTTP interface that
clickhouse-go v2 uses over HTTP, so the Go tests reach current releases:

  - POST with the query in the body, or in `query=` with the INSERT data in
    the body (chunked or not); Native format in and out (`default_format`);
  - `database=` (the DSN's database), every other URL parameter a setting,
    `param_*` query parameters;
  - errors as HTTP 500 with the "Code: N. DB::Exception: ..." text and the
    X-ClickHouse-Exception-Code header, as the server sends them.

One engine, one session: queries run one at a time under a lock, and the
settings a request brings are put back afterwards, so requests never see
each other's settings. `session_id` is accepted and ignored (everything
shares the one session). No authentication: it binds to loopback only.

Usage: python chdb_http.py --port 48124 --path DATA_DIR [--log]
(--log writes every query, its status and its time to stderr.)
"""

import argparse
import http.server
import os
import re
import sys
import tempfile
import threading
import time
import urllib.parse

import chdb
from chdb import session as chdb_session

# URL parameters that are not settings.
NOT_SETTINGS = {
    "query", "database", "default_format", "client_protocol_version", "query_id",
    "session_id", "session_timeout", "session_check", "quota_key", "user", "password",
    "compress", "decompress", "wait_end_of_query", "buffer_size",
}

# clickhouse-go decodes every Native block by the revision the server reports
# in its answer to this query, and decodes that answer itself by its own
# protocol revision (block info, a custom-serialization flag per column).
# chDB writes Native as for revision 0 (neither), whatever the client asks
# for, so the adapter answers the hello itself, encoded the way the client
# reads it, and reports revision 0: the client then decodes what chDB writes.
HELLO = re.compile(r"^\s*SELECT\s+displayName\(\),\s*version\(\),\s*revision\(\),\s*timezone\(\)\s*$", re.I)


def uvarint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def native_str(s):
    b = s.encode()
    return uvarint(len(b)) + b


def hello_block(display_name, version, tz):
    """One Native block, as a server writes it for a client of revision
    >= 54454, with the row displayName(), version(), 0, timezone()."""
    out = bytearray(b"\x01\x00\x02\xff\xff\xff\xff\x00")  # block info: not overflows, bucket -1
    out += uvarint(4) + uvarint(1)
    for name, typ, data in (
        ("displayName()", "String", native_str(display_name)),
        ("version()", "String", native_str(version)),
        ("revision()", "UInt32", (0).to_bytes(4, "little")),
        ("timezone()", "String", native_str(tz)),
    ):
        out += native_str(name) + native_str(typ) + b"\x00" + data
    return bytes(out)


INSERT_NATIVE = re.compile(r"^(\s*INSERT\s+INTO\s+.+?)\s+FORMAT\s+Native\s*$", re.I | re.S)
SESSION_CHANGE = re.compile(r"^\s*(SET|USE)\s", re.I)
ERROR_CODE = re.compile(r"Code: (\d+)\.")


def quote(s):
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


class Engine:
    def __init__(self, path):
        self.lock = threading.Lock()
        self.sess = chdb_session.Session(path)
        self.tmp = tempfile.mkdtemp(prefix="insert-", dir=path)
        self.defaults = {}   # setting -> its default, as system.settings says
        self.changed = {}    # setting -> value, where the session differs from the default
        self.database = None  # the session's current database
        self.hello = None

    def run(self, sql, fmt="Native"):
        res = self.sess.query(sql, fmt)
        # chDB 2.x returns an error object instead of raising.
        err = getattr(res, "error_message", None)
        if callable(err):
            err = err()
        if err:
            raise RuntimeError(err)
        return res.bytes() if hasattr(res, "bytes") else bytes(res)

    def default_of(self, name):
        if name not in self.defaults:
            out = self.run("SELECT value FROM system.settings WHERE name = " + quote(name), "TSVRaw")
            self.defaults[name] = out.decode().rstrip("\n") if out else None
        return self.defaults[name]

    def execute(self, sql, database, settings, params, data):
        with self.lock:
            # Each chDB query costs tens of milliseconds, so the session's
            # database and settings change only where a request differs from
            # the one before; a setting a request does not bring is put back
            # to its default, so requests never see each other's settings.
            database = (database or "default").replace("`", "")
            if database != self.database:
                self.database = None
                self.run("USE `%s`" % database, "TSV")
                self.database = database
            for k, v in settings.items():
                if self.default_of(k) is None:
                    raise RuntimeError("Code: 115. DB::Exception: Unknown setting %s. (UNKNOWN_SETTING)" % k)
            for k in [k for k in self.changed if k not in settings]:
                self.set(k, self.defaults[k])
            for k, v in settings.items():
                if self.changed.get(k, self.defaults[k]) != v:
                    self.set(k, v)
            for k, v in params.items():
                self.run("SET param_%s = %s" % (k, quote(v)), "TSV")
            if data is not None:
                return self.insert(sql, data)
            if HELLO.match(sql):
                if self.hello is None:
                    name, version, tz = self.run("SELECT displayName(), version(), timezone()", "TSVRaw").decode().rstrip("\n").split("\t")
                    self.hello = hello_block(name, version, tz)
                return self.hello
            if SESSION_CHANGE.match(sql):  # the session is no longer what the caches say
                self.database, self.changed = None, {}
                for k in list(self.defaults):
                    self.set(k, self.defaults[k])
            return self.run(sql)

    def set(self, name, value):
        self.changed.pop(name, None)
        self.run("SET %s = %s" % (name, quote(value)), "TSV")
        if value != self.defaults[name]:
            self.changed[name] = value

    def insert(self, sql, data):
        m = INSERT_NATIVE.match(sql)
        if not m:
            raise RuntimeError("Code: 73. DB::Exception: the chDB adapter takes INSERT ... FORMAT Native only. (UNKNOWN_FORMAT)")
        if not data:
            return b""
        fd, name = tempfile.mkstemp(suffix=".native", dir=self.tmp)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            return self.run("%s SELECT * FROM file(%s, 'Native')" % (m.group(1), quote(name)), "TSV") and b""
        finally:
            os.unlink(name)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    engine = None
    log_queries = False

    def log_message(self, fmt, *args):
        pass

    def body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def reply(self, status, payload, headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_query(self, sql, data, t0, outcome):
        if self.log_queries:
            print("chdb_http: %.3fs %s%s: %s" % (time.monotonic() - t0, " ".join(sql.split())[:300],
                  "" if data is None else " [%d bytes]" % len(data), outcome.splitlines()[0][:300]),
                  file=sys.stderr, flush=True)

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        if u.path in ("/ping", "/") and not urllib.parse.parse_qs(u.query).get("query"):
            self.reply(200, b"Ok.\n")
            return
        self.handle_query(b"")

    def do_POST(self):
        self.handle_query(self.body())

    def handle_query(self, body):
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query, keep_blank_values=True)
        one = {k: v[-1] for k, v in q.items()}
        settings = {k: v for k, v in one.items() if k not in NOT_SETTINGS and not k.startswith("param_")}
        params = {k[len("param_"):]: v for k, v in one.items() if k.startswith("param_")}
        if "query" in one:
            sql, data = one["query"], body
            if not INSERT_NATIVE.match(sql):
                sql, data = (sql + "\n" + body.decode()) if body else sql, None
        else:
            sql, data = body.decode(), None
        t0 = time.monotonic()
        try:
            out = self.engine.execute(sql, one.get("database"), settings, params, data)
        except Exception as e:  # chDB raises its server's exception text
            msg = str(e)
            self.log_query(sql, data, t0, msg)
            code = ERROR_CODE.search(msg)
            headers = [("Content-Type", "text/plain; charset=UTF-8")]
            if code:
                headers.append(("X-ClickHouse-Exception-Code", code.group(1)))
            self.reply(500, (msg.strip() + "\n").encode(), headers)
            return
        self.log_query(sql, data, t0, "ok")
        self.reply(200, out, [("Content-Type", "application/octet-stream"),
                              ("X-ClickHouse-Format", "Native")])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", required=True)
    ap.add_argument("--log", action="store_true")
    args = ap.parse_args()
    Handler.log_queries = args.log
    os.makedirs(args.path, exist_ok=True)
    Handler.engine = Engine(args.path)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.daemon_threads = True
    print("chdb_http: chDB %s (ClickHouse %s) on 127.0.0.1:%d" % (
        chdb.__version__, Handler.engine.run("SELECT version()", "TSVRaw").decode().strip(), args.port), flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
