"""The Spark Connect half of `make dev`'s loop: one server that runs attach to, one session per run.

Run by test_devloop.py in a process of its own: pyspark allows no Connect session in a process that already
holds a classic SparkSession, which the rest of the suite starts.
"""
from __future__ import annotations

import pytest
from dagster import job, op

from lakehouse.config import Settings
from lakehouse.engine.spark import SparkResource


def test_no_classic_session_in_this_process():
    """Guard: in a process with a classic session, get_spark() would hand these tests that one instead."""
    from pyspark.sql import SparkSession

    assert SparkSession.getActiveSession() is None


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

    outer = get_spark(Settings.from_env())  # a session outside runs (a test's, a sensor's) survives the runs
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
    assert get_spark(Settings.from_env()) is outer and outer.catalog.tableExists("outer_view")


def test_a_run_session_is_released_on_the_server(attached):
    """After the run its session is closed on the server (its views and cached data go), not left to time out."""
    from pyspark.errors.exceptions.connect import SparkConnectGrpcException
    from pyspark.sql.connect.session import SparkSession

    from lakehouse.engine.spark import begin_run_session, end_run_session, get_spark

    previous = begin_run_session(SparkResource().settings())
    session = get_spark(Settings.from_env())
    session.range(1).count()
    end_run_session(previous)
    assert session.is_stopped
    reuse = SparkSession(connection=f"{attached.remote}/;session_id={session.session_id}")
    with pytest.raises(SparkConnectGrpcException, match="SESSION_CLOSED"):
        reuse.range(1).count()


def test_server_has_delta_and_project_settings(attached):
    from lakehouse.engine.spark import get_spark

    session = get_spark(Settings.from_env())
    assert session.conf.get("spark.sql.extensions") == "io.delta.sql.DeltaSparkSessionExtension"
    assert session.conf.get("spark.sql.session.timeZone") == "UTC"
    # set per session by configure_session, not only on the server
    assert session.conf.get("spark.sql.legacy.parameterSubstitution.constantsOnly") == "true"
    # the server's cached S3A file systems are out of the client's reach: one per use, made with this session's keys
    assert session.conf.get("fs.s3a.impl.disable.cache") == "true"


def test_sql_parameters_bind_through_connect(attached):
    """The server's Delta parser drops named parameters: they are bound as literals, quotes and all."""
    from lakehouse.engine.spark import get_spark
    from lakehouse.engine.sql import sql_with_args

    row = sql_with_args(get_spark(Settings.from_env()), "select :start_dt as a, :pii_salt as b, :start_dt = '2024-06-03' as same",
                        {"start_dt": "2024-06-03", "pii_salt": "it's a \\ salt"}).collect()[0]
    assert (row.a, row.b, row.same) == ("2024-06-03", "it's a \\ salt", True)


def test_a_batch_written_through_connect_reads_with_delta_rs(attached, lakehouse_env):
    """mapInArrow's strings come back from a Connect server as `string collate UTF8_BINARY`; written as is,
    delta-rs (the query layer, table metadata) could not open the table."""
    import pyarrow as pa
    from deltalake import DeltaTable

    from lakehouse.engine.spark import get_spark
    from lakehouse.storage.spark_store import SparkStore

    def rows(batches):
        for batch in batches:
            yield pa.record_batch([pa.array(["x"] * batch.num_rows), pa.array(["2024-06-03"] * batch.num_rows)],
                                  names=["s", "dt"])

    df = get_spark(Settings.from_env()).range(2).mapInArrow(rows, "s string, dt string")
    uri = f"{lakehouse_env.warehouse}/bronze/t"
    SparkStore(lakehouse_env, get_spark(Settings.from_env())).write_df("bronze.t", uri, "delta", df, ["2024-06-03"])
    table = DeltaTable(uri)
    assert [f.name for f in table.schema().fields] == ["s", "dt"]
    assert table.to_pyarrow_table().num_rows == 2


def test_warm_up_does_a_runs_work_and_leaves_nothing_behind(connect_server, tmp_path, monkeypatch):
    """`make dev` warms the server while dagster dev starts: Python workers, Delta writes, reads, aggregations
    on a scratch table of its own, removed afterwards; the server serves runs after it as before."""
    import tempfile

    from lakehouse.engine.spark import get_spark
    from lakehouse.storage.spark_store import SparkStore

    writes = []
    real_write = SparkStore.write_df

    def write_df(self, *args, **kwargs):  # the store's own write, watched: what runs do is what gets warm
        writes.append(real_write(self, *args, **kwargs))
        return writes[-1]

    monkeypatch.setattr(SparkStore, "write_df", write_df)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where its scratch table goes, to see it go
    seconds = connect_server.warm_up()
    assert seconds > 0
    assert [(w.format, w.partitions, w.version) for w in writes] == [
        ("delta", ["2024-01-01", "2024-01-02", "2024-01-03"], 0), ("delta", ["2024-01-02"], 1)]
    assert writes[1].rows == 667  # ids 0..1999 with id % 3 == 1: the overwritten day only
    assert list(tmp_path.iterdir()) == [], "the warm-up left its scratch table behind"
    for key, value in connect_server.client_env().items():
        monkeypatch.setenv(key, value)
    assert get_spark(Settings.from_env()).range(5).count() == 5


def test_a_failed_warm_up_says_why_in_one_line(connect_server, monkeypatch):
    """What failed goes in one line with the server's log, not a JVM stack trace (here: a scratch table the
    server is refused to write, as a broken Delta install would be)."""
    from lakehouse.dev import spark_server

    def refused(session, settings):
        session.sql("select raise_error('cannot write to the scratch table\n\tat org.example.Deep(Trace)')").collect()

    monkeypatch.setattr(spark_server, "_exercise", refused)
    with pytest.raises(spark_server.ConnectServerError) as failed:
        connect_server.warm_up()
    message = str(failed.value)
    assert "failed its warm-up" in message and "cannot write to the scratch table" in message
    assert str(connect_server.log) in message and "\n" not in message and connect_server.token not in message
