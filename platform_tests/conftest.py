"""Shared fixtures: one SparkSession per test session, a tmp lakehouse per test, a moto server over HTTP, a
PostgreSQL cluster."""
from __future__ import annotations

import json
import os
import uuid

import pytest
from lake_isolation import isolate

from lakehouse.config import Settings
from lakehouse.engine.spark import DRIVER_OPTIONS

# Before any test or fixture: the suite's lake, Dagster home and service files live in a temporary folder,
# whatever the shell or the Makefile exported (test_lake_isolation.py proves the checkout's .lakehouse is untouched).
isolate()
# Tests use fixed days (the sample data of 2024-06), not the person-facing default that follows today: the tables'
# first partition is pinned here, for this process and every subprocess; a test of the default unsets it.
TEST_START_DATE = "2024-06-01"
os.environ["LAKEHOUSE_START_DATE"] = TEST_START_DATE
# Keep Spark small and quiet in tests; these are read when the session starts.
os.environ.setdefault("LAKEHOUSE_SPARK_MASTER", "local[2]")
# Tiny data: one task per stage, no adaptive re-planning, the platform's JIT options (quick tier, a code cache
# big enough that a whole test session never stops compiling). Queries are interpreted, not compiled to Java:
# tests run thousands of distinct small queries, each compiled once by Janino for a few rows (two test files,
# paired: 12% and 19% less time). Spark keeps both modes equal; the benchmarks and `make demo` run compiled code.
# The throughput collector: G1's concurrent marking of a session that lives the whole suite took ~11% of the JVM's
# CPU; with ParallelGC test_startups' JVM used 72-75 CPU-s against 74-89 (interleaved runs), and the suite is CPU-bound.
os.environ.setdefault("LAKEHOUSE_SPARK_CONF", json.dumps({
    "spark.sql.shuffle.partitions": "1", "spark.default.parallelism": "1", "spark.driver.memory": "2g",
    "spark.databricks.delta.snapshotPartitions": "1", "spark.sql.adaptive.enabled": "false",
    "spark.databricks.delta.writeChecksumFile.enabled": "false",
    "spark.sql.codegen.wholeStage": "false", "spark.sql.codegen.factoryMode": "NO_CODEGEN",
    "spark.driver.extraJavaOptions": f"{DRIVER_OPTIONS} -XX:+UseParallelGC"}))


def _shared_node_ids(nodeids) -> list[str]:
    seen: set[str] = set()
    return sorted({n for n in nodeids if n in seen or seen.add(n)})


def _refuse_shared_node_ids(nodeids) -> None:
    """Two tests with one node id are one test to pytest-xdist, which runs only one of them: refuse to start."""
    if repeated := _shared_node_ids(nodeids):
        pytest.exit(f"tests sharing a node id (pytest-xdist would run only one of each): {repeated}", returncode=4)


# The longest files (minutes each on 2 cores), longest first: with `--dist loadfile` the workers then end on
# short files instead of one waiting for another. Measured with --junitxml (December 2026; test_trino's module
# fixture alone builds two domains on moto: 9 minutes under a full suite's load, so it must not start last).
LONGEST_FILES = ("test_trino.py", "test_automation.py", "test_spark_native.py", "test_commerce_e2e.py",
                 "test_startups.py", "test_kafka.py", "test_recent_days.py", "test_table_store.py",
                 "test_bad_input.py", "test_contracts.py")


def pytest_collection_modifyitems(items):
    if not os.environ.get("PYTEST_XDIST_WORKER"):  # under xdist the controller checks what the workers collected
        _refuse_shared_node_ids(item.nodeid for item in items)
    rank = {name: i for i, name in enumerate(LONGEST_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: each file keeps its order


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node, ids):
    _refuse_shared_node_ids(ids)


@pytest.fixture(scope="session", autouse=True)
def connect_server_for_runs():
    """LAKEHOUSE_TEST_CONNECT=1: every session and run of the tests attaches to one Spark Connect server started
    here, as runs attach under `make dev` (LAKEHOUSE_SPARK_REMOTE=sc://... attaches them to one of yours)."""
    if os.environ.get("LAKEHOUSE_TEST_CONNECT") != "1":
        yield None
        return
    from lakehouse.dev.spark_server import start_connect_server
    from lakehouse.engine.spark import end_run_session

    server = start_connect_server(Settings.from_env())
    os.environ.update(server.client_env())
    yield server
    end_run_session([])  # release the tests' session while the server still answers
    server.stop()


@pytest.fixture(scope="session")
def spark(connect_server_for_runs):
    from lakehouse.engine.spark import get_spark

    return get_spark(Settings.from_env())


@pytest.fixture
def lakehouse_env(tmp_path, monkeypatch) -> Settings:
    """A fresh embedded lakehouse (warehouse + landing on local disk) for one test."""
    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path / "lh"))
    for var in ("LAKEHOUSE_WAREHOUSE", "LAKEHOUSE_LANDING", "LAKEHOUSE_GLUE_PREFIX", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(var, raising=False)
    return Settings.from_env()


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory):
    """A real moto server (S3, Glue, Athena) on 127.0.0.1, spoken to over HTTP like AWS: (process, endpoint, log).

    It runs in its own process: delta-rs blocks the calling thread (and the GIL) while it waits for S3,
    so an in-process threaded server would never get to answer.
    """
    from lakehouse.dev.aws import start_moto

    log = tmp_path_factory.mktemp("moto") / "moto.log"
    process, endpoint = start_moto(log=log)
    yield process, endpoint, log
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="session")
def moto_endpoint(moto_server):
    return moto_server[1]


@pytest.fixture(scope="session")
def pg():
    """A throwaway PostgreSQL cluster (postgres_server.py) for the session; `make test` installs the binaries
    (postgres-deps), so a missing server fails the tests that need it instead of skipping them."""
    from postgres_server import PostgresUnavailable, start_postgres

    try:
        server = start_postgres()
    except PostgresUnavailable as exc:
        pytest.fail(f"no PostgreSQL server: {exc}")
    yield server
    server.stop()


@pytest.fixture
def aws_env(moto_server, monkeypatch):
    process, moto_endpoint, log = moto_server
    if process.poll() is not None:  # every S3 test after it would fail with "connection refused": say why once
        pytest.fail(f"the session's moto server exited with code {process.returncode}; the end of its log:\n"
                    + log.read_text(errors="replace")[-3000:])
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    return moto_endpoint


@pytest.fixture
def s3_bucket(aws_env) -> str:
    import boto3

    name = f"lh-{uuid.uuid4().hex[:10]}"
    boto3.client("s3", endpoint_url=aws_env, region_name="us-east-1").create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_lakehouse_env(tmp_path, s3_bucket, monkeypatch) -> Settings:
    """The AWS shape of the lakehouse: S3 warehouse and landing plus a Glue catalog, all on moto."""
    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path / "lh"))
    monkeypatch.setenv("LAKEHOUSE_WAREHOUSE", f"s3://{s3_bucket}/warehouse")
    monkeypatch.setenv("LAKEHOUSE_LANDING", f"s3://{s3_bucket}/landing")
    monkeypatch.setenv("LAKEHOUSE_GLUE_PREFIX", f"t{uuid.uuid4().hex[:8]}")
    return Settings.from_env()
