"""`make dev`'s loop: one Spark Connect server that runs attach to, one session per run, a supervisor that stops."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from dagster import job, op

from lakehouse.config import Settings
from lakehouse.dev.dagster_dev import claim_storage
from lakehouse.engine.spark import SparkResource
from lakehouse.errors import ConfigError


@pytest.fixture(scope="module")
def connect_server():
    from lakehouse.dev.spark_server import start_connect_server

    server = start_connect_server(Settings.from_env())
    yield server
    from lakehouse.engine.spark import end_run_session

    end_run_session([])  # release this process's session while the server still answers
    server.stop()
    assert server.process.poll() is not None


@pytest.fixture
def attached(connect_server, monkeypatch):
    """This process's runs attached to the server, as `make dev` attaches the runs it launches."""
    for key, value in connect_server.client_env().items():
        monkeypatch.setenv(key, value)
    return connect_server


def _probe_job():
    """A run that notes what its session sees, then leaves a temp view and a setting behind."""
    seen = {}

    @op
    def probe(spark: SparkResource):
        session = spark.session()
        seen["session_id"] = session.session_id
        seen["view_before"] = session.catalog.tableExists("left_by_a_run")
        seen["partitions"] = session.conf.get("spark.sql.shuffle.partitions")
        seen["delta"] = session.range(3).selectExpr("id", "'2024-01-01' as dt").count()
        session.range(1).createOrReplaceTempView("left_by_a_run")
        session.conf.set("spark.sql.shuffle.partitions", "7")

    @job(resource_defs={"spark": SparkResource()})
    def probe_job():
        probe()

    return probe_job, seen


def test_each_run_gets_its_own_connect_session(attached):
    from lakehouse.engine.spark import get_spark

    outer = get_spark()  # a session outside runs (a test's, a sensor's) survives the runs
    outer.range(1).createOrReplaceTempView("outer_view")
    runs = []
    for _ in range(2):
        probe_job, seen = _probe_job()
        assert probe_job.execute_in_process().success
        runs.append(seen)
    first, second = runs
    assert first["session_id"] != second["session_id"] != outer.session_id
    assert not second["view_before"], "a run saw a temp view another run left"
    assert second["partitions"] != "7", "a run's setting leaked into the next run"
    assert second["delta"] == 3
    assert get_spark() is outer and outer.catalog.tableExists("outer_view")


def test_a_run_session_is_released_on_the_server(attached):
    """After the run its session is closed on the server (its views and cached data go), not left to time out."""
    from pyspark.errors.exceptions.connect import SparkConnectGrpcException
    from pyspark.sql.connect.session import SparkSession

    from lakehouse.engine.spark import begin_run_session, end_run_session, get_spark

    previous = begin_run_session(SparkResource().settings())
    session = get_spark()
    session.range(1).count()
    end_run_session(previous)
    assert session.is_stopped
    reuse = SparkSession(connection=f"{attached.remote}/;session_id={session.session_id}")
    with pytest.raises(SparkConnectGrpcException, match="SESSION_CLOSED"):
        reuse.range(1).count()


def test_server_has_delta_and_project_settings(attached):
    from lakehouse.engine.spark import get_spark

    session = get_spark()
    assert session.conf.get("spark.sql.extensions") == "io.delta.sql.DeltaSparkSessionExtension"
    assert session.conf.get("spark.sql.session.timeZone") == "UTC"
    # set per session by configure_session, not only on the server
    assert session.conf.get("spark.sql.legacy.parameterSubstitution.constantsOnly") == "true"


SUPERVISED = textwrap.dedent("""
    import sys
    from lakehouse.dev.supervisor import Supervisor

    supervisor = Supervisor()
    child = supervisor.start("sleeper", [sys.executable, "-c", "import time; time.sleep(600)"], {})
    print(child.process.pid, flush=True)
    sys.exit(supervisor.wait())
""")


def _ignore_sigint():  # what a non-interactive shell does to a command started with `&`
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_supervisor_started_in_background_stops_on_signal(sig):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-c", SUPERVISED], stdout=subprocess.PIPE, text=True, env=env,
                            preexec_fn=_ignore_sigint)
    try:
        child = int(proc.stdout.readline())
        time.sleep(0.5)
        proc.send_signal(sig)
        assert proc.wait(20) == 0
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _alive(child):
            time.sleep(0.1)
        assert not _alive(child), "the supervised child outlived the supervisor"
    finally:
        if proc.poll() is None:
            proc.kill()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie has exited (its parent is gone or not reaping)
        return stat.read().split(")")[-1].split()[0] != "Z"


def test_supervisor_stops_the_rest_when_a_child_exits():
    from lakehouse.dev.supervisor import Supervisor

    supervisor = Supervisor()
    try:
        sleeper = supervisor.start("sleeper", [sys.executable, "-c", "import time; time.sleep(600)"], {})
        supervisor.start("quitter", [sys.executable, "-c", "raise SystemExit(3)"], {})
        assert supervisor.wait() == 3
        assert sleeper.process.poll() is not None
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL)


def test_dagster_storage_belongs_to_one_warehouse(tmp_path):
    storage = tmp_path / "dagster"
    claim_storage(storage, "/data/warehouse")
    claim_storage(storage, "/data/warehouse")  # the same warehouse again: fine
    (storage / "runs.db").write_text("history")
    with pytest.raises(ConfigError, match="belongs to the warehouse /data/warehouse"):
        claim_storage(storage, "s3://bucket/warehouse on moto http://127.0.0.1:1")
    with pytest.raises(ConfigError):  # a real warehouse's storage is never emptied, even when asked to reset
        claim_storage(storage, "s3://bucket/warehouse on moto http://127.0.0.1:1", reset=True)
    assert (storage / "runs.db").is_file()


def test_dev_aws_storage_is_emptied_when_its_moto_is_new(tmp_path):
    storage = tmp_path / "dagster-aws"
    claim_storage(storage, "s3://b/warehouse on moto http://127.0.0.1:1", reset=True)
    (storage / "runs.db").write_text("materializations of a bucket that is gone")
    claim_storage(storage, "s3://b/warehouse on moto http://127.0.0.1:2", reset=True)
    assert not (storage / "runs.db").exists()
    assert "127.0.0.1:2" in (storage / "lakehouse-warehouse.txt").read_text()


def test_server_token_never_in_repr():
    from lakehouse.dev.spark_server import ConnectServer

    server = ConnectServer(process=None, port=1, token="s3cret-token", log=None)
    assert "s3cret-token" not in repr(server) and "s3cret-token" not in server.remote


def test_sql_parameters_bind_through_connect(attached):
    """The server's Delta parser drops named parameters: they are bound as literals, quotes and all."""
    from lakehouse.engine.spark import get_spark
    from lakehouse.engine.sql import sql_with_args

    row = sql_with_args(get_spark(), "select :start_dt as a, :pii_salt as b, :start_dt = '2024-06-03' as same",
                        {"start_dt": "2024-06-03", "pii_salt": "it's a \\ salt"}).collect()[0]
    assert (row.a, row.b, row.same) == ("2024-06-03", "it's a \\ salt", True)


def test_a_batch_written_through_connect_reads_with_delta_rs(attached, lakehouse_env):
    """mapInArrow's strings come back from a Connect server as `string collate UTF8_BINARY`; written as is,
    delta-rs (the query layer, table metadata) could not open the table."""
    import pyarrow as pa
    from deltalake import DeltaTable

    from lakehouse.engine.spark import get_spark
    from lakehouse.storage.table_store import SparkStore

    def rows(batches):
        for batch in batches:
            yield pa.record_batch([pa.array(["x"] * batch.num_rows), pa.array(["2024-06-03"] * batch.num_rows)],
                                  names=["s", "dt"])

    df = get_spark().range(2).mapInArrow(rows, "s string, dt string")
    uri = f"{lakehouse_env.warehouse}/bronze/t"
    SparkStore(lakehouse_env, get_spark()).write_df("bronze.t", uri, "delta", df, ["2024-06-03"])
    table = DeltaTable(uri)
    assert [f.name for f in table.schema().fields] == ["s", "dt"]
    assert table.to_pyarrow_table().num_rows == 2
