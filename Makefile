# Every target installs what it needs first, so a fresh clone works with one command.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
# Every Python dependency at the versions the suite passed with (make lock writes it from setup.py's ranges).
LOCK   := requirements.lock
STAMP  := $(VENV)/.installed-$(shell cat setup.py $(LOCK) | cksum | cut -d' ' -f1)
# Whole files per worker (one SparkSession and one set of session servers each). One worker more than the cores:
# a worker waiting on a JVM, a server or a sleep leaves its core to the others (2 cores: 14:52 with 3 workers,
# the CPU 93% busy; 19:10 with 2). At most one worker per 4 GB of memory (3 workers peaked at 12 GB in use).
TEST_WORKERS ?= $(shell $(PYTHON) -c "import os; print(max(1, min(os.cpu_count() + 1, os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') // (4 << 30))))")
PYTEST_WORKERS ?= -n $(TEST_WORKERS) --dist loadfile

# The embedded default: everything under ./.lakehouse (git-ignored), persistent across restarts.
export LAKEHOUSE_HOME ?= $(CURDIR)/.lakehouse
export DAGSTER_HOME ?= $(CURDIR)
export LAKEHOUSE_DAGSTER_STORAGE ?= $(LAKEHOUSE_HOME)/dagster

.PHONY: install lock deps-latest browser-deps postgres-deps kafka-deps trino-deps lint demo dev dev-aws dev-cluster dev-kafka serve test bench bench-native bench-latency clean

# The lock's exact versions (hash-checked), then this package itself without resolving anything again.
$(STAMP): setup.py $(LOCK)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q --require-hashes -r $(LOCK)
	$(BIN)/pip install -q --no-deps -e .
	@rm -f $(VENV)/.installed-* && touch $@

# Rewrite the lock from setup.py (extras [dev] included) for every platform and Python 3.11+, keeping the pins
# that still fit and holding back what lock-holds.txt says. LOCK_ARGS=--upgrade moves everything to the newest
# allowed, LOCK_ARGS='--upgrade-package duckdb' one package.
lock: $(STAMP)
	$(BIN)/uv pip compile setup.py --extra dev --constraint lock-holds.txt --universal --python-version 3.11 \
	  --generate-hashes --quiet --custom-compile-command 'make lock' --output-file $(LOCK) $(LOCK_ARGS)

# The newest versions setup.py allows (no lock, no holds) in a throwaway venv under build/, a smoke test of
# each integration there, and what moved against the lock. A report: it never touches .venv or make test.
deps-latest: $(STAMP) kafka-deps postgres-deps
	$(BIN)/python -m lakehouse.dev.deps_latest

# Delta Lake + S3A JARs matching the installed pyspark, fetched once from Maven Central (later runs are offline).
install: $(STAMP)
	@$(BIN)/python -m lakehouse.engine.jars
	@$(BIN)/python -m lakehouse.engine.local_fs
	@$(BIN)/python -m lakehouse.dev.archive_classes

demo: install
	@mkdir -p $(LAKEHOUSE_DAGSTER_STORAGE)
	$(BIN)/lakehouse demo

# One warm Spark Connect server + `dagster dev`: runs attach to the server instead of starting a JVM each.
# Stop it with Ctrl-C, or `kill PID` (SIGTERM) when started in the background.
dev: install
	$(BIN)/python -m lakehouse.dev.dagster_dev

# The same against a moto S3/Glue/Athena; its own Dagster storage (each warehouse has one), emptied per start.
dev-aws: LAKEHOUSE_DAGSTER_STORAGE = $(LAKEHOUSE_HOME)/dagster-aws
dev-aws: install trino-deps
	$(BIN)/python -m lakehouse.dev.aws

# The query service (HTTP API + page) on 127.0.0.1, port LAKEHOUSE_SERVE_PORT (8080); keys: lakehouse keys add NAME.
# It reads tables through DuckDB/Athena only, so it needs no Spark JARs.
serve: $(STAMP)
	$(BIN)/lakehouse serve

# A Spark standalone master + 2 workers on 127.0.0.1; it prints the LAKEHOUSE_SPARK_MASTER to use.
dev-cluster: install
	$(BIN)/python -m lakehouse.dev.cluster

# The UI test drives Debian's chromium; where apt cannot install it, that one test skips and says why.
browser-deps:
	@command -v chromium >/dev/null 2>&1 || \
	  ( (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1 \
	    || echo "chromium could not be installed: the browser test will be skipped" )

lint: install
	$(BIN)/ruff check platform platform_tests bench

# The billing tests start a throwaway PostgreSQL cluster; install the server binaries where they are missing.
postgres-deps:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || \
	  ( (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >/dev/null 2>&1 \
	    || echo "postgresql could not be installed: the billing tests will be skipped" )

# The Kafka tests and `make dev-kafka` start an Apache Kafka broker (KRaft, no Docker) from Maven Central JARs,
# fetched once into ~/.cache/lakehouse/kafka with mvn (installed with apt where it is missing).
kafka-deps: $(STAMP)
	@command -v mvn >/dev/null 2>&1 || \
	  ( (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq maven) >/dev/null 2>&1 \
	    || echo "maven could not be installed: the Kafka broker cannot be fetched" )
	@$(BIN)/python -c "from lakehouse.dev.kafka_broker import fetch; print('Kafka broker JARs in', fetch())"

# The Trino tests and `make dev-aws` start a Trino server (the engine of Athena v3) on the Glue entries: its server
# JARs and the Delta Lake and Hive connectors, fetched once from Maven Central into ~/.cache/lakehouse/trino with
# mvn (about 820 MB downloaded, 375 MB kept). Trino runs under a JDK 24+ from /usr/lib/jvm (LAKEHOUSE_TRINO_JAVA_HOME).
trino-deps: $(STAMP)
	@command -v mvn >/dev/null 2>&1 || \
	  ( (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq maven) >/dev/null 2>&1 \
	    || echo "maven could not be installed: Trino cannot be fetched" )
	@$(BIN)/python -m lakehouse.dev.trino_server

# A Kafka broker on 127.0.0.1 with a topic of sample click events; it prints the LAKEHOUSE_KAFKA_* to export.
dev-kafka: install kafka-deps
	$(BIN)/python -m lakehouse.dev.kafka_broker

test: install browser-deps postgres-deps kafka-deps trino-deps lint
	$(BIN)/python -m pytest $(PYTEST_WORKERS)

bench: install
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.native
	$(BIN)/python -m bench.service

# The Spark-native path against plain PySpark (paired A B B A) and driver memory at x1/x4/x16 rows per day.
bench-native: install
	$(BIN)/python -m bench.native

# One landed day -> every daily gold table fresh, through the daemon's work on a warm Connect server.
bench-latency: install
	$(BIN)/python -m bench.latency

clean:
	rm -rf .lakehouse
