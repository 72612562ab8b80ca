#!/usr/bin/env bash
# Installs what the real-server tests need and skips whatever is already there,
# so that a second run costs well under a second:
#   - Debian packages: Java 17, Maven, OpenSSL, PostgreSQL, ClickHouse server and client,
#     Chromium (the console's browser tests drive it headless);
#   - Apache Kafka broker jars from Maven Central into $LRS_CACHE_DIR;
#   - chDB (current ClickHouse in-process) from PyPI, one venv per version.
# It never starts the Debian-managed services: up.sh runs private instances.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR
. "$here/lib.sh"

# install_debian_packages installs the packages whose command is missing.
install_debian_packages() {
	local missing=()
	command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
	command -v mvn >/dev/null 2>&1 || missing+=(maven)
	command -v openssl >/dev/null 2>&1 || missing+=(openssl)
	pg_bindir >/dev/null || missing+=(postgresql)
	command -v clickhouse-server >/dev/null 2>&1 || missing+=(clickhouse-server)
	command -v clickhouse-client >/dev/null 2>&1 || missing+=(clickhouse-client)
	python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
	command -v chromium >/dev/null 2>&1 || missing+=(chromium)
	if ((${#missing[@]} == 0)); then
		log "Debian packages present"
		return
	fi
	[[ "$(id -u)" == 0 ]] || die "missing packages (${missing[*]}) and not root: install them first"

	# A policy-rc.d that answers 101 keeps the packages' maintainer scripts from
	# starting their system-wide services; remove it only if we put it there.
	local policy=/usr/sbin/policy-rc.d added_policy=0
	if [[ ! -e "$policy" ]]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		added_policy=1
	fi
	log "installing Debian packages: ${missing[*]}"
	local rc=0
	{
		apt-get -o DPkg::Lock::Timeout=600 update -qq &&
			DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}"
	} >&2 || rc=$?
	((added_policy)) && rm -f "$policy"
	((rc == 0)) || die "apt-get failed with status $rc"
}

# install_kafka_jars resolves kafka_2.13 and its runtime dependencies with
# Maven into a versioned cache folder, plus the slf4j→log4j2 binding that the
# Kafka distribution ships but the POM does not declare (without it the broker
# logs nothing at all).
install_kafka_jars() {
	if [[ -f "$KAFKA_LIBS_DONE" && -f "$KAFKA_LIBS/kafka_2.13-$LRS_KAFKA_VERSION.jar" ]]; then
		log "Kafka $LRS_KAFKA_VERSION jars present in $KAFKA_LIBS"
		return
	fi
	log "resolving Kafka $LRS_KAFKA_VERSION jars from Maven Central"
	work="$(mktemp -d)"
	staging="$KAFKA_LIBS.partial"
	trap 'rm -rf "$work" "$staging"' EXIT
	rm -rf "$staging"
	mkdir -p "$staging"
	cat >"$work/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.streamlrs</groupId>
  <artifactId>kafka-broker-libs</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$LRS_KAFKA_VERSION</version>
    </dependency>
  </dependencies>
</project>
EOF
	local plugin=org.apache.maven.plugins:maven-dependency-plugin:3.6.1
	mvn -B -q -f "$work/pom.xml" "$plugin:copy-dependencies" \
		-DincludeScope=runtime -DoutputDirectory="$staging" >"$work/mvn.log" 2>&1 ||
		{ tail -n 30 "$work/mvn.log" >&2; die "mvn copy-dependencies failed"; }

	local log4j slf4j binding
	log4j="$(find "$staging" -name 'log4j-core-*.jar' -printf '%f\n' | sed -E 's/^log4j-core-(.*)\.jar$/\1/')"
	slf4j="$(find "$staging" -name 'slf4j-api-*.jar' -printf '%f\n' | sed -E 's/^slf4j-api-(.*)\.jar$/\1/')"
	[[ -n "$log4j" && -n "$slf4j" ]] || die "Kafka $LRS_KAFKA_VERSION brought no log4j-core or slf4j-api jar"
	# SLF4J 1.x and 2.x need different log4j bindings.
	case "$slf4j" in
	1.*) binding="log4j-slf4j-impl" ;;
	*) binding="log4j-slf4j2-impl" ;;
	esac
	mvn -B -q -f "$work/pom.xml" "$plugin:copy" \
		-Dartifact="org.apache.logging.log4j:$binding:$log4j" -DoutputDirectory="$staging" >"$work/mvn.log" 2>&1 ||
		{ tail -n 30 "$work/mvn.log" >&2; die "mvn copy $binding:$log4j failed"; }

	# The broker and the storage formatter must both load from these jars.
	java -cp "$staging/*" kafka.Kafka --version >"$work/version" 2>&1 ||
		{ cat "$work/version" >&2; die "kafka.Kafka does not run from the resolved jars"; }
	grep -q "$LRS_KAFKA_VERSION" "$work/version" || die "kafka.Kafka reports $(head -n 1 "$work/version")"

	rm -rf "$KAFKA_LIBS"
	mv "$staging" "$KAFKA_LIBS"
	date -u +%FT%TZ >"$KAFKA_LIBS_DONE"
	log "Kafka $LRS_KAFKA_VERSION: $(find "$KAFKA_LIBS" -name '*.jar' | wc -l) jars, $(du -sh "$KAFKA_LIBS" | cut -f1)"
}

# install_chdb VERSION puts chdb==VERSION into its own venv (two versions
# cannot share one: the package is the engine) and checks that it answers.
install_chdb() {
	local version="$1" venv
	venv="$(chdb_venv "$version")"
	if [[ -f "$venv/complete" ]]; then
		log "chDB $version present in $venv"
		return
	fi
	log "installing chDB $version from PyPI into $venv"
	# A venv's scripts name their folder, so it is built in place; the
	# complete mark, written last, tells a finished one from a broken one.
	rm -rf "$venv"
	mkdir -p "$(dirname "$venv")"
	python3 -m venv "$venv" >&2 || die "python3 -m venv failed"
	"$venv/bin/pip" install -q --disable-pip-version-check "chdb==$version" >&2 ||
		die "pip install chdb==$version failed"
	local got
	got="$("$venv/bin/python" -c 'import chdb; print(chdb.__version__, chdb.query("SELECT version()", "TSVRaw").bytes().decode().strip())')" ||
		die "chDB $version does not run"
	[[ "$got" == "$version "* ]] || die "chdb==$version reports $got"
	date -u +%FT%TZ >"$venv/complete"
	log "chDB $got: $(du -sh "$venv" | cut -f1)"
}

# install_learninglocker puts npm's xapi-statements into the cache, once.
install_learninglocker() {
	local d
	d="$(learninglocker_dir)"
	if [[ -f "$d/complete" ]]; then
		log "Learning Locker xapi-statements $LRS_LEARNINGLOCKER_VERSION present in $d"
		return
	fi
	command -v npm >/dev/null 2>&1 || die "npm not found: Node.js (with npm) is needed for Learning Locker's xapi-statements"
	log "installing Learning Locker xapi-statements $LRS_LEARNINGLOCKER_VERSION from npm into $d"
	rm -rf "$d"
	mkdir -p "$d"
	npm install --prefix "$d" --no-audit --no-fund --loglevel=error "xapi-statements@$LRS_LEARNINGLOCKER_VERSION" >&2 ||
		die "npm install xapi-statements@$LRS_LEARNINGLOCKER_VERSION failed"
	[[ -f "$d/node_modules/xapi-statements/dist/index.js" ]] || die "xapi-statements has no dist/index.js in $d"
	date -u +%FT%TZ >"$d/complete"
	log "Learning Locker xapi-statements $LRS_LEARNINGLOCKER_VERSION: $(du -sh "$d" | cut -f1)"
}

install_debian_packages
install_kafka_jars
install_learninglocker
if [[ "$LRS_TESTENV_CHDB" == 1 ]]; then
	install_chdb "$LRS_CHDB_LTS_VERSION"
	install_chdb "$LRS_CHDB_LATEST_VERSION"
fi
