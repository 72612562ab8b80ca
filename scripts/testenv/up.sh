#!/usr/bin/env bash
# Starts private, loopback-only Kafka (KRaft), PostgreSQL and ClickHouse
# servers with throwaway data under $LRS_TESTENV_DIR, waits until each one
# really answers, and writes $LRS_TESTENV_DIR/env for tests to source.
# If any server fails to start, its log tail is printed, everything this run
# started is stopped, and the script exits non-zero.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR
. "$here/lib.sh"

check_testenv_dir
dir="$LRS_TESTENV_DIR"
[[ ! -e "$dir/env" ]] || die "servers already up in $dir (source $dir/env, or run down.sh first)"
[[ ! -e "$dir" ]] || die "$dir exists from an earlier run: run down.sh first"

for port in "$LRS_TESTENV_KAFKA_PORT" "$LRS_TESTENV_KAFKA_CONTROLLER_PORT" "$LRS_TESTENV_POSTGRES_PORT" \
	"$LRS_TESTENV_KAFKA_SASL_PORT" "$LRS_TESTENV_KAFKA_MTLS_PORT" "$LRS_TESTENV_CLICKHOUSE_PORT" "$LRS_TESTENV_CLICKHOUSE_HTTP_PORT" \
	"$LRS_TESTENV_CHDB_LTS_PORT" "$LRS_TESTENV_CHDB_LATEST_PORT" "$LRS_TESTENV_LEARNINGLOCKER_PORT"; do
	port_open 127.0.0.1 "$port" && die "port $port is already taken: $(ss -Hltnp "sport = :$port" 2>/dev/null | head -n 1)"
done

[[ -f "$KAFKA_LIBS_DONE" ]] || die "no Kafka $LRS_KAFKA_VERSION jars in $KAFKA_LIBS: run install.sh first"
pgbin="$(pg_bindir)" || die "PostgreSQL server binaries not found: run install.sh first"
command -v clickhouse-server >/dev/null || die "clickhouse-server not found: run install.sh first"
[[ -f "$(learninglocker_dir)/complete" ]] || die "no Learning Locker xapi-statements in $(learninglocker_dir): run install.sh first"
chdb_engines=()
[[ "$LRS_TESTENV_CHDB" == 1 ]] && chdb_engines=(chdb-lts chdb-latest)
for v in "$LRS_CHDB_LTS_VERSION" "$LRS_CHDB_LATEST_VERSION"; do
	((${#chdb_engines[@]})) || break
	[[ -f "$(chdb_venv "$v")/complete" ]] || die "no chDB $v in $(chdb_venv "$v"): run install.sh first"
done

# PostgreSQL refuses to run as root, so its files belong to the postgres user.
as_pg() {
	if [[ "$(id -u)" == 0 ]]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# fail WHAT LOG... prints the tails of the server's logs, stops what this run
# started and exits.
fail() {
	local what="$1" f
	shift
	log "FAILED: $what"
	for f in "$@"; do
		[[ -s "$f" ]] || continue
		log "last lines of $f:"
		tail -n 30 "$f" >&2
	done
	"$here/down.sh" >&2 || true
	exit 1
}

# wait_until NAME PID "LOG..." CMD... polls CMD until it succeeds, failing
# early if PID dies and after LRS_TESTENV_START_TIMEOUT seconds at the latest.
wait_until() {
	local name="$1" pid="$2" logs
	read -ra logs <<<"$3"
	shift 3
	local deadline=$((SECONDS + LRS_TESTENV_START_TIMEOUT))
	until "$@" >/dev/null 2>&1; do
		kill -0 "$pid" 2>/dev/null || fail "$name: process $pid exited" "${logs[@]}"
		((SECONDS < deadline)) || fail "$name: no answer after ${LRS_TESTENV_START_TIMEOUT}s" "${logs[@]}"
		sleep 0.1
	done
}

mkdir -p "$dir"
chmod 755 "$dir"
t0="$(now_ms)"

# --- ClickHouse: started first because it needs no preparation. It runs fine
# as root; its config leaves out the interserver, TLS and MySQL ports so that
# nothing but the two loopback ports below is opened.
ch="$dir/clickhouse"
mkdir -p "$ch/data" "$ch/tmp" "$ch/user_files" "$ch/format_schemas" "$ch/log"
cat >"$ch/config.xml" <<EOF
<?xml version="1.0"?>
<yandex>
  <logger>
    <level>information</level>
    <log>$ch/log/server.log</log>
    <errorlog>$ch/log/error.log</errorlog>
    <size>100M</size>
    <count>1</count>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <tcp_port>$LRS_TESTENV_CLICKHOUSE_PORT</tcp_port>
  <http_port>$LRS_TESTENV_CLICKHOUSE_HTTP_PORT</http_port>
  <path>$ch/data/</path>
  <tmp_path>$ch/tmp/</tmp_path>
  <user_files_path>$ch/user_files/</user_files_path>
  <format_schema_path>$ch/format_schemas/</format_schema_path>
  <users_config>$ch/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>268435456</mark_cache_size>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
</yandex>
EOF
cat >"$ch/users.xml" <<'EOF'
<?xml version="1.0"?>
<yandex>
  <profiles>
    <default><max_memory_usage>4000000000</max_memory_usage></default>
  </profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas>
    <default>
      <interval>
        <duration>3600</duration>
        <queries>0</queries><errors>0</errors><result_rows>0</result_rows>
        <read_rows>0</read_rows><execution_time>0</execution_time>
      </interval>
    </default>
  </quotas>
</yandex>
EOF
setsid clickhouse-server --config-file="$ch/config.xml" >"$ch/log/stdout.log" 2>&1 </dev/null &
echo $! >"$ch/pid"

# --- Current ClickHouse releases: one chDB engine per version, each in its
# own process behind the HTTP front end (chDB cannot listen by itself).
start_chdb() {
	local name="$1" version="$2" port="$3" d="$dir/$1"
	mkdir -p "$d"
	setsid "$(chdb_venv "$version")/bin/python" "$here/chdb_http.py" --port "$port" --path "$d/data" \
		>"$d/server.log" 2>&1 </dev/null &
	echo $! >"$d/pid"
}
if ((${#chdb_engines[@]})); then
	start_chdb chdb-lts "$LRS_CHDB_LTS_VERSION" "$LRS_TESTENV_CHDB_LTS_PORT"
	start_chdb chdb-latest "$LRS_CHDB_LATEST_VERSION" "$LRS_TESTENV_CHDB_LATEST_PORT"
fi

# --- Learning Locker's xAPI statements service, in memory, with its test
# auth (any Basic credentials): the source LRS of the pull tests. It reads
# .env from its working folder, so it runs in its own; its data folder is
# named on its command line so that down.sh knows the process is ours.
ll="$dir/learninglocker"
mkdir -p "$ll/storage"
setsid env -C "$ll" AUTH_REPO=test EVENTS_REPO=test MODELS_REPO=memory STORAGE_REPO=memory \
	EXPRESS_PORT="$LRS_TESTENV_LEARNINGLOCKER_PORT" WINSTON_CONSOLE_LEVEL=warn \
	FS_LOCAL_STORAGE_DIR="$ll/storage" EXPRESS_MORGAN_DIRECTORY="$ll/storage/access" \
	node "$(learninglocker_dir)/node_modules/xapi-statements/dist/index.js" "$ll" \
	>"$ll/server.log" 2>&1 </dev/null &
echo $! >"$ll/pid"

# --- Kafka: format the KRaft metadata log, then start a combined
# broker+controller. Internal topics get one replica and few partitions, and
# the first group join is not delayed, so that tests do not wait on them.
kafka="$dir/kafka"
mkdir -p "$kafka/data"

# --- TLS and SASL for Kafka's SASL_SSL listener (PLAIN, SCRAM-SHA-256/512)
# and its SSL listener that requires a client certificate: a throwaway CA, a
# broker certificate for 127.0.0.1/localhost and a client certificate, made
# for this run only. Kafka reads PEM directly.
tls="$dir/tls"
mkdir -p "$tls"
chmod 700 "$tls"
# make_cert NAME CN EXT issues NAME.pem/NAME.key signed by the CA.
make_cert() {
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tls/$1.key" -out "$tls/$1.csr" -subj "/CN=$2" &&
		openssl x509 -req -in "$tls/$1.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" -CAcreateserial -days 2 \
			-extfile <(printf '%s\n' "$3") -out "$tls/$1.pem"
} >>"$tls/openssl.log" 2>&1
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tls/ca.key" -out "$tls/ca.pem" -days 2 \
	-subj "/CN=streamlrs testenv CA" >>"$tls/openssl.log" 2>&1 || fail "openssl CA" "$tls/openssl.log"
make_cert broker localhost "subjectAltName=IP:127.0.0.1,DNS:localhost" || fail "openssl broker certificate" "$tls/openssl.log"
make_cert client lrs-client "extendedKeyUsage=clientAuth" || fail "openssl client certificate" "$tls/openssl.log"
cat "$tls/broker.key" "$tls/broker.pem" >"$tls/broker-keystore.pem"
sasl_password="$(openssl rand -hex 16)"
printf '%s' "$sasl_password" >"$tls/sasl-password"
chmod 600 "$tls"/*

cat >"$kafka/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$LRS_TESTENV_KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$LRS_TESTENV_KAFKA_PORT,CONTROLLER://127.0.0.1:$LRS_TESTENV_KAFKA_CONTROLLER_PORT,SASL_SSL://127.0.0.1:$LRS_TESTENV_KAFKA_SASL_PORT,SSL://127.0.0.1:$LRS_TESTENV_KAFKA_MTLS_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$LRS_TESTENV_KAFKA_PORT,SASL_SSL://127.0.0.1:$LRS_TESTENV_KAFKA_SASL_PORT,SSL://127.0.0.1:$LRS_TESTENV_KAFKA_MTLS_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL
ssl.keystore.type=PEM
ssl.keystore.location=$tls/broker-keystore.pem
ssl.truststore.type=PEM
ssl.truststore.location=$tls/ca.pem
listener.name.ssl.ssl.client.auth=required
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_lrs="$sasl_password";
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
log.dirs=$kafka/data
num.partitions=3
auto.create.topics.enable=true
delete.topic.enable=true
group.initial.rebalance.delay.ms=0
offsets.topic.replication.factor=1
offsets.topic.num.partitions=5
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=5
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
EOF
cat >"$kafka/log4j2.properties" <<EOF
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = $kafka/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
logger.state.name = state.change.logger
logger.state.level = warn
EOF
# The heap setting is split into words on purpose: it may hold several flags.
# shellcheck disable=SC2206
kafka_java=(java ${LRS_TESTENV_KAFKA_HEAP:--Xms256m -Xmx512m} -XX:+UseSerialGC -Djava.awt.headless=true
	"-Dlog4j2.configurationFile=$kafka/log4j2.properties" -cp "$KAFKA_LIBS/*")
cluster_id="$("${kafka_java[@]}" kafka.tools.StorageTool random-uuid 2>"$kafka/format.log")" ||
	fail "Kafka storage tool random-uuid" "$kafka/format.log"
# The SCRAM users are created by Kafka's own storage tool, in the metadata log.
"${kafka_java[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$kafka/server.properties" \
	--add-scram "SCRAM-SHA-256=[name=lrs,password=$sasl_password]" --add-scram "SCRAM-SHA-512=[name=lrs,password=$sasl_password]" >>"$kafka/format.log" 2>&1 ||
	fail "Kafka storage format" "$kafka/format.log"
setsid "${kafka_java[@]}" kafka.Kafka "$kafka/server.properties" >"$kafka/stdout.log" 2>&1 </dev/null &
echo $! >"$kafka/pid"

# --- PostgreSQL: a fresh cluster whose superuser is lrs/lrs, reached over
# TCP with a password exactly as the tests' DSN does. Durability is off: the
# data is thrown away.
pg="$dir/postgres"
mkdir -p "$pg"
chown postgres:postgres "$pg" 2>/dev/null || true
printf 'lrs\n' >"$pg/pwfile"
chown postgres:postgres "$pg/pwfile" 2>/dev/null || true
as_pg "$pgbin/initdb" -D "$pg/data" -U lrs --pwfile="$pg/pwfile" -E UTF8 --locale=C.UTF-8 \
	--auth-local=trust --auth-host=scram-sha-256 -N >"$pg/initdb.log" 2>&1 || fail "PostgreSQL initdb" "$pg/initdb.log"
rm -f "$pg/pwfile"
cat >>"$pg/data/postgresql.conf" <<EOF
port = $LRS_TESTENV_POSTGRES_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$pg'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
as_pg "$pgbin/pg_ctl" -D "$pg/data" -l "$pg/server.log" -w -t "$LRS_TESTENV_START_TIMEOUT" start >"$pg/pg_ctl.log" 2>&1 ||
	fail "PostgreSQL start" "$pg/pg_ctl.log" "$pg/server.log"
pg_admin="postgres://lrs:lrs@127.0.0.1:$LRS_TESTENV_POSTGRES_PORT/postgres?sslmode=disable"
"$pgbin/psql" "$pg_admin" -qAtc 'CREATE DATABASE lrs' >>"$pg/pg_ctl.log" 2>&1 || fail "PostgreSQL CREATE DATABASE" "$pg/pg_ctl.log"
pg_dsn="postgres://lrs:lrs@127.0.0.1:$LRS_TESTENV_POSTGRES_PORT/lrs?sslmode=disable"
"$pgbin/pg_isready" -q -h 127.0.0.1 -p "$LRS_TESTENV_POSTGRES_PORT" || fail "PostgreSQL (pg_isready)" "$pg/server.log"
[[ "$("$pgbin/psql" "$pg_dsn" -qAtc 'SELECT rolsuper FROM pg_roles WHERE rolname = current_user')" == t ]] ||
	fail "PostgreSQL (lrs is not a superuser)" "$pg/server.log"
log "PostgreSQL ready on 127.0.0.1:$LRS_TESTENV_POSTGRES_PORT ($(elapsed "$t0"))"

wait_until ClickHouse "$(cat "$ch/pid")" "$ch/log/stdout.log $ch/log/error.log" \
	clickhouse-client --host 127.0.0.1 --port "$LRS_TESTENV_CLICKHOUSE_PORT" --query 'SELECT 1'
log "ClickHouse $(clickhouse-client --host 127.0.0.1 --port "$LRS_TESTENV_CLICKHOUSE_PORT" --query 'SELECT version()') ready on 127.0.0.1:$LRS_TESTENV_CLICKHOUSE_PORT ($(elapsed "$t0"))"

# A chDB front end is ready once a query over HTTP gets its answer (the
# banner alone says the port is bound, not that queries come back).
chdb_ready() {
	grep -q 'chdb_http: chDB' "$dir/$1/server.log" &&
		"$(chdb_venv "$2")/bin/python" -c 'import sys, urllib.request
sys.exit(urllib.request.urlopen("http://127.0.0.1:%s/?query=SELECT%%201" % sys.argv[1], timeout=30).read() == b"")' "$3"
}
for e in "chdb-lts $LRS_CHDB_LTS_VERSION $LRS_TESTENV_CHDB_LTS_PORT" "chdb-latest $LRS_CHDB_LATEST_VERSION $LRS_TESTENV_CHDB_LATEST_PORT"; do
	((${#chdb_engines[@]})) || break
	read -r name version port <<<"$e"
	wait_until "chDB ($name)" "$(cat "$dir/$name/pid")" "$dir/$name/server.log" chdb_ready "$name" "$version" "$port"
	log "$(sed -n 's/^chdb_http: \(chDB .*\)/\1/p' "$dir/$name/server.log" | head -n 1) ready ($(elapsed "$t0"))"
done

wait_until "Learning Locker" "$(cat "$ll/pid")" "$ll/server.log" \
	curl -fsS -o /dev/null "http://127.0.0.1:$LRS_TESTENV_LEARNINGLOCKER_PORT/xAPI/about"
log "Learning Locker xapi-statements $LRS_LEARNINGLOCKER_VERSION ready on 127.0.0.1:$LRS_TESTENV_LEARNINGLOCKER_PORT ($(elapsed "$t0"))"

# The broker logs this line only once both the controller and the broker
# have finished starting; the port check guards against a stale log.
kafka_ready() {
	grep -q 'Kafka Server started' "$kafka/server.log" && port_open 127.0.0.1 "$LRS_TESTENV_KAFKA_PORT"
}
wait_until Kafka "$(cat "$kafka/pid")" "$kafka/stdout.log $kafka/server.log" kafka_ready
log "Kafka $LRS_KAFKA_VERSION ready on 127.0.0.1:$LRS_TESTENV_KAFKA_PORT (SASL_SSL :$LRS_TESTENV_KAFKA_SASL_PORT, mTLS :$LRS_TESTENV_KAFKA_MTLS_PORT) ($(elapsed "$t0"))"

cat >"$dir/env.partial" <<EOF
export LRS_TEST_KAFKA_BROKERS=127.0.0.1:$LRS_TESTENV_KAFKA_PORT
export LRS_TEST_KAFKA_SASL_BROKERS=127.0.0.1:$LRS_TESTENV_KAFKA_SASL_PORT
export LRS_TEST_KAFKA_MTLS_BROKERS=127.0.0.1:$LRS_TESTENV_KAFKA_MTLS_PORT
export LRS_TEST_KAFKA_TLS_DIR=$tls
export LRS_TEST_POSTGRES_DSN='$pg_dsn'
export LRS_TEST_CLICKHOUSE_DSN=clickhouse://127.0.0.1:$LRS_TESTENV_CLICKHOUSE_PORT/default
export LRS_TEST_REQUIRE_SERVERS=1
export LRS_TEST_KAFKA_LIBS=$KAFKA_LIBS
export LRS_TEST_LEARNINGLOCKER_URL=http://127.0.0.1:$LRS_TESTENV_LEARNINGLOCKER_PORT/xAPI
export LRS_TEST_CHROMIUM=$(command -v chromium || true)
EOF
if ((${#chdb_engines[@]})); then
	cat >>"$dir/env.partial" <<EOF
export LRS_TEST_CLICKHOUSE_LTS_DSN=http://127.0.0.1:$LRS_TESTENV_CHDB_LTS_PORT/default
export LRS_TEST_CLICKHOUSE_LATEST_DSN=http://127.0.0.1:$LRS_TESTENV_CHDB_LATEST_PORT/default
EOF
else
	echo "export LRS_TEST_CLICKHOUSE_CHDB=off" >>"$dir/env.partial"
fi
mv "$dir/env.partial" "$dir/env"
log "all servers up in $(elapsed "$t0"); environment in $dir/env"
