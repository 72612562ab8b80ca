# StreamLRS — the two commands that matter:
#   make run    the whole LRS on this machine (embedded broker + SQLite)
#   make test   every test, against real Kafka, PostgreSQL and ClickHouse
#               (installed and started on loopback by scripts/testenv)

GO       ?= go
BIN      ?= bin
TESTARGS ?= -count=1 -timeout 20m
export GOFLAGS ?= -buildvcs=false

SERVICES := lrs:lrs ingest:lrs-ingest store-writer:lrs-store-writer analytics-writer:lrs-analytics-writer forwarder:lrs-forwarder

.PHONY: all build run test test-unit vet fmt clean testenv-up testenv-down bench bench-hostile

all: build

build:
	@mkdir -p $(BIN)
	@for s in $(SERVICES); do \
		dir=$${s%%:*}; name=$${s##*:}; \
		echo "go build -o $(BIN)/$$name ./services/$$dir"; \
		$(GO) build -o $(BIN)/$$name ./services/$$dir || exit 1; \
	done

# The embedded default: xAPI at http://127.0.0.1:8080/xapi, data in ./data.
# Extra flags: make run ARGS="-http-addr 0.0.0.0:8080"
run:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/lrs ./services/lrs
	./$(BIN)/lrs -log-format console $(ARGS)

# Installs what is missing (PostgreSQL, ClickHouse, Kafka jars), starts the
# three servers on loopback, runs every test with their addresses, stops
# them whatever happens. A server that fails to start fails the run.
test: vet
	scripts/testenv/run.sh $(GO) test $(TESTARGS) ./...

# Unit tests only: integration tests skip without the servers.
test-unit:
	$(GO) test -count=1 ./...

vet:
	$(GO) vet ./...
	@out="$$(gofmt -l pkg services scripts)"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

fmt:
	gofmt -w pkg services scripts

# Keep the test servers up while developing: make testenv-up; . /tmp/streamlrs-testenv/env
testenv-up:
	scripts/testenv/install.sh
	scripts/testenv/up.sh

testenv-down:
	scripts/testenv/down.sh

# End-to-end benchmark, not part of `make test` (about two minutes): the
# embedded lrs, then the separate services on real Kafka, PostgreSQL and
# ClickHouse (their own folder and ports); prints both tables. See
# docs/performance.md; BENCH_DURATION, BENCH_WARMUP, BENCH_OUT adjust it.
bench: build
	$(GO) build -o $(BIN)/lrs-loadgen ./services/loadgen
	scripts/bench/run.sh $(BIN)

# What a hostile client costs the embedded lrs (about a minute): CPU of
# wrong secrets, RSS of a 10 MB body of tiny values, time of a forged cursor.
bench-hostile: build
	scripts/bench/hostile.sh $(BIN)

clean:
	rm -rf $(BIN)
