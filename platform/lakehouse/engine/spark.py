"""One SparkSession per process: local mode tuned for small machines, a cluster master, or Spark Connect.

dagster-pyspark's PySparkResource reaches for `sparkContext`, which a Spark Connect session does not have,
so the platform owns this small resource instead and works with both kinds of session.

On a Connect server (`sc://`, e.g. the one `make dev` starts) the session is the run's, not the process's:
`SparkResource` opens a new one for each run and releases it when the run ends (`begin_run_session`).
"""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Mapping

from dagster import ConfigurableResource
from pydantic import PrivateAttr
from pyspark.sql import SparkSession

from lakehouse.config import Settings
from lakehouse.engine.class_archive import with_archive
from lakehouse.engine.jars import CHECKPOINT_INTERVAL, DELTA_EXTENSIONS, classpath
from lakehouse.engine.local_fs import CONF as LOCAL_FS_CONF
from lakehouse.engine.local_fs import installed as installed_local_fs
from lakehouse.secrets import settings_digest

_LOCK = threading.Lock()
_SESSION: list[SparkSession] = []  # the process-wide session, classic or Spark Connect

JIT_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=256m"
# the driver's log (engine/log4j2.properties): Spark's default profile announces itself in three lines and warns
# about what a laptop cannot change (no Hadoop native library) before the session can lower its level
LOG_OPTIONS = f"-Dlog4j2.configurationFile={(Path(__file__).with_name('log4j2.properties')).as_uri()}"
DRIVER_OPTIONS = f"{JIT_OPTIONS} {LOG_OPTIONS}"  # a local session's JVM
HEARTBEAT_RACE = "Uncaught exception in thread executor-heartbeater"  # what Spark logs for SPARK-59451

# Local mode on a laptop: few shuffle partitions (the default 200 means 200 tiny tasks per stage),
# Arrow for every Python <-> JVM crossing, UTC everywhere so `dt` never shifts with the host's zone.
LOCAL_DEFAULTS = {
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "4",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.execution.arrow.pyspark.fallback.enabled": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.adaptive.enabled": "true",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.memory": "4g",
    # the JIT's optimizing tier (C2) spent more CPU compiling than a run spends working (2m25s of a 2-minute
    # run on 2 cores); its quick tier alone made the bench's runs 7% faster. A big job on a local master may
    # want it back: set spark.driver.extraJavaOptions (this default is then replaced, not merged). The quick
    # tier alone gets a 48 MB code cache, which a run fills in about a minute, after which the JVM stops
    # compiling and interprets all new code (a long-lived Connect server most of all): give it room.
    "spark.driver.extraJavaOptions": DRIVER_OPTIONS,
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
    # Delta: a replaceWhere overwrite refuses rows outside its predicate (the default, stated because the
    # platform relies on it), and Spark-written tables stay readable by delta-rs (no deletion vectors).
    "spark.databricks.delta.replaceWhere.constraintCheck.enabled": "true",
    "spark.databricks.delta.properties.defaults.enableDeletionVectors": "false",
    # delta-spark's checkpoint interval written into each table it creates, so delta-rs commits to it (an empty
    # quarantine's clearing) checkpoint as often: delta-rs alone would wait 100 commits (engine/jars.py)
    "spark.databricks.delta.properties.defaults.checkpointInterval": CHECKPOINT_INTERVAL["delta.checkpointInterval"],
    # Delta rebuilds a table's state in 50 tasks by default: 50 tiny tasks per read on a laptop; 2 tasks made a
    # small table's replaceWhere write 0.77 s instead of 0.92 s with 4 (2 cores, paired; 1 task: the same as 2)
    "spark.databricks.delta.snapshotPartitions": "2",
    # the statistics a commit gathers for Delta's usage log need the table's whole file list: a Spark job per
    # commit that nothing here reads (the commit's own operationMetrics are kept)
    "spark.databricks.delta.commitStats.collect": "false",
    # PySpark 4 records the Python call site of every Column and DataFrame call for its error context: five JVM
    # round trips and a failed `import IPython` per call. A model step builds hundreds of columns (each day's
    # counts and metrics): 200 of them took 1.4 s with it, 0.48 s without; the seven-table bench run 9.5% less
    # (two paired rounds). Errors still name the rule, model file and SQL text; the context only added a Python line.
    "spark.python.sql.dataFrameDebugging.enabled": "false",
}


def local_classpath() -> list[str]:
    """A local session's JARs: the Delta/S3A/Kafka ones, and the local file system `make install` compiled
    (`file:` paths without a process per file written, engine/local_fs.py) when there is one."""
    local_fs = installed_local_fs()
    return [*classpath(), str(local_fs)] if local_fs else classpath()


def session_classpath(settings: Settings) -> list[str]:
    """The JARs a session of `settings.spark_master` starts with (a cluster keeps its own file system)."""
    return local_classpath() if settings.spark_master.startswith("local") else classpath()


def _builder_conf(settings: Settings) -> dict[str, str]:
    """Session settings of a classic session: laptop defaults, the Delta/S3A JARs, then the user's own."""
    jars = session_classpath(settings)
    if settings.spark_master.startswith("local"):
        # the driver is the executor: the JARs go on its class path at launch. Through spark.jars the driver
        # serves them and its executor copies each into a work folder at every start (the AWS SDK bundle alone
        # is 654 MB): 13.5 s to a session on 2 cores instead of 10.6 s
        placed = {"spark.driver.extraClassPath": os.pathsep.join(jars),
                  # the executor is this JVM and cannot be lost apart from the driver. Spark 4.2's heartbeat thread
                  # dies when it reads a cached batch's accumulator half-deserialized (SPARK-59451, an NPE from
                  # PartitionKeyedAccumulator.isZero); the driver would then expire its own executor after the
                  # heartbeat timeout and fail the tasks running at that moment
                  "spark.storage.blockManagerHeartbeatTimeoutMs": str(30 * 24 * 3600 * 1000),
                  **(LOCAL_FS_CONF if installed_local_fs() else {})}
    else:  # a cluster's executors fetch them from the driver
        placed = {"spark.jars": ",".join(jars)}
    conf = {**LOCAL_DEFAULTS, **DELTA_EXTENSIONS, **placed}
    for key, value in settings.spark_conf.items():  # the user's own class path comes first, ours stays on it
        conf[key] = f"{value}{os.pathsep}{conf[key]}" if key == "spark.driver.extraClassPath" and key in conf else value
    # the driver's JVM maps the classes `make install` archived instead of loading them (engine/class_archive.py)
    conf["spark.driver.extraJavaOptions"] = with_archive(conf.get("spark.driver.extraJavaOptions", ""), jars)
    return conf


def s3a_conf(settings: Settings) -> dict[str, str]:
    """S3A settings for s3a:// paths, from the same settings boto3 and pyarrow use.

    Set on each session (not only at JVM start) because the endpoint or credentials may change after the JVM
    started, as they do between tests (configure_session renews the JVM's file systems then). Without keys in
    the environment S3A uses the usual AWS chain (instance profile, web identity, ...).
    """
    conf = {"fs.s3a.endpoint.region": settings.aws_region, "fs.s3a.retry.limit": "5", "fs.s3a.attempts.maximum": "5"}
    if settings.aws_endpoint_url:  # moto, MinIO, LocalStack: path-style addressing on a plain endpoint
        conf.update({"fs.s3a.endpoint": settings.aws_endpoint_url, "fs.s3a.path.style.access": "true",
                     "fs.s3a.connection.ssl.enabled": str(settings.aws_endpoint_url.startswith("https")).lower()})
    if keys := settings.aws_keys:
        token = keys.session_token
        conf.update({"fs.s3a.access.key": keys.access_key, "fs.s3a.secret.key": keys.secret_key})
        conf["fs.s3a.aws.credentials.provider"] = (
            "org.apache.hadoop.fs.s3a.TemporaryAWSCredentialsProvider" if token
            else "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider")
        if token:
            conf["fs.s3a.session.token"] = token
    return conf


SESSION_CONF = {
    # Delta's SQL parser drops the parameters of `spark.sql(text, args=...)` on Spark 4.1+ (delta-io/delta#7640);
    # the legacy substitution binds them before that parser sees them. Models use :start_dt / :end_dt.
    "spark.sql.legacy.parameterSubstitution.constantsOnly": "true",
    # Parquet timestamps as UTC-adjusted microseconds (not INT96), as pyarrow, DuckDB and Athena read them
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
}


def configure_session(session: SparkSession, settings: Settings) -> SparkSession:
    """Per-use settings: S3A for these settings and SESSION_CONF (set on a remote Connect server too)."""
    s3a = s3a_conf(settings)
    if not _is_connect(session) and session.sparkContext.master.startswith("local"):
        _renew_file_systems(session, s3a)
    else:  # a Connect server's or a cluster's executors' JVMs are out of reach: a bucket's file system per use
        s3a["fs.s3a.impl.disable.cache"] = "true"
    for key, value in {**SESSION_CONF, **s3a}.items():
        session.conf.set(key, value)
    return session


_FILE_SYSTEMS_MADE_WITH: list[str] = []  # a digest of the S3A settings the JVM's cached file systems were made with


def _renew_file_systems(session: SparkSession, s3a: dict[str, str]) -> None:
    """A local session's JVM (driver and executor in one) caches one file system per bucket for its life, made
    with the settings of its first use. Made per use instead (fs.s3a.impl.disable.cache), each Delta log read
    and file write set up an S3 client of its own: commerce over 2 days on moto took 151 s instead of 134 s.
    When the endpoint or keys change (a test's moto or proxy, rotated credentials), the cached ones are closed
    so the next use makes them with the new ones."""
    digest = settings_digest(s3a)
    if _FILE_SYSTEMS_MADE_WITH and _FILE_SYSTEMS_MADE_WITH[0] != digest:
        session._jvm.org.apache.hadoop.fs.FileSystem.closeAll()
    _FILE_SYSTEMS_MADE_WITH[:] = [digest]


def get_spark(settings: Settings) -> SparkSession:
    """Return the process-wide session, creating it on first use, with S3A set for these settings."""
    with _LOCK:
        if not (_SESSION and _alive(_SESSION[0])):
            _SESSION[:] = [_create(settings)]
        return configure_session(_SESSION[0], settings)


def _is_connect(session: SparkSession) -> bool:
    return type(session).__module__.startswith("pyspark.sql.connect")


def _alive(session: SparkSession) -> bool:
    if _is_connect(session):
        return not session.is_stopped  # a live one reconnects on its own; a second local server would clash
    return session._sc._jsc is not None  # a stopped classic session has no JVM context


def begin_run_session(settings: Settings) -> list[SparkSession] | None:
    """Before a run on a Connect server (sc://): the run's first `get_spark` opens a session of its own.

    A server outlives many runs (`make dev`, the in-process drive), and a Connect session holds temp views
    and settings: one session per run keeps two runs from seeing each other's. Returns what to restore.
    """
    if not (settings.spark_remote or "").startswith("sc://"):
        return None  # a classic or local-Connect session is the process's own, as a run process is
    with _LOCK:
        previous, _SESSION[:] = list(_SESSION), []
    return previous


def end_run_session(previous: list[SparkSession] | None) -> None:
    """After the run: release its session on the server (views, settings, cached data) and restore the last."""
    if previous is None:
        return
    with _LOCK:
        ending, _SESSION[:] = list(_SESSION), previous
    for session in ending:
        session.stop()


def _create(settings: Settings) -> SparkSession:
    active = SparkSession.getActiveSession()
    if active is not None and not settings.spark_remote:
        return active
    if settings.spark_remote:
        # A Connect server started here ("local[2]") gets the JARs and laptop tuning; a remote server
        # ("sc://...") brings its own Delta and S3A setup, as EMR and Databricks do.
        local = settings.spark_remote.startswith("local")
        builder = SparkSession.builder.remote(settings.spark_remote)
        conf = _builder_conf(settings) if local else {k: v for k, v in settings.spark_conf.items() if _runtime(k)}
        for key, value in conf.items():
            builder = builder.config(key, value)
        # a server's session is always new (getOrCreate would hand back a session another run left behind)
        session = builder.getOrCreate() if local else builder.create()
        if local:
            for key in ("spark.sql.shuffle.partitions", "spark.sql.session.timeZone"):
                session.conf.set(key, settings.spark_conf.get(key, LOCAL_DEFAULTS[key]))
        return session
    os.environ.setdefault("PYSPARK_PYTHON", os.environ.get("PYSPARK_PYTHON", _python()))
    if settings.spark_master.startswith("local"):  # a local driver serves no other machine: loopback only
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = SparkSession.builder.master(settings.spark_master).appName("lakehouse")
    for key, value in _builder_conf(settings).items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("WARN")
    if settings.spark_master.startswith("local"):
        _drop_heartbeat_race_log(session)
    return session


def _drop_heartbeat_race_log(session: SparkSession) -> None:
    """Keep SPARK-59451's ERROR and NPE stack trace (the heartbeat thread dying on a half-deserialized accumulator
    of a cached batch) out of a local session's console: harmless here, where the executor is never expired
    (spark.storage.blockManagerHeartbeatTimeoutMs above), and alarming as the only trace in `make demo`."""
    log4j = session.sparkContext._jvm.org.apache.logging.log4j
    result = log4j.core.Filter.Result
    context = log4j.LogManager.getContext(False)
    context.getConfiguration().addFilter(log4j.core.filter.RegexFilter.createFilter(
        HEARTBEAT_RACE, None, True, result.DENY, result.NEUTRAL))
    context.updateLoggers()


def _runtime(key: str) -> bool:
    """Whether a session may set `key`: a running server's JVM, JARs and core settings are its own."""
    return key.startswith(("spark.sql.", "spark.databricks.", "fs.", "spark.hadoop."))


def _python() -> str:
    import sys

    return sys.executable


class SparkResource(ConfigurableResource):
    """Dagster resource handing out the process-wide session; empty fields fall back to the environment."""

    master: str | None = None
    remote: str | None = None
    conf: dict[str, str] = {}
    _previous: list | None = PrivateAttr(default=None)  # the session to restore when the run ends

    def settings(self) -> Settings:
        base = Settings.from_env()
        merged: Mapping[str, str] = {**base.spark_conf, **self.conf}
        return base.with_(
            spark_master=self.master or base.spark_master,
            spark_remote=self.remote or base.spark_remote,
            spark_conf=merged,
        )

    def session(self) -> SparkSession:
        return get_spark(self.settings())

    def setup_for_execution(self, context) -> None:
        self._previous = begin_run_session(self.settings())

    def teardown_after_execution(self, context) -> None:
        end_run_session(self._previous)
