"""One SparkSession per process: local mode tuned for small machines, a cluster master, or Spark Connect.

dagster-pyspark's PySparkResource reaches for `sparkContext`, which a Spark Connect session does not have,
so the platform owns this small resource instead and works with both kinds of session.
"""
from __future__ import annotations

import os
import threading
from typing import Mapping

from dagster import ConfigurableResource
from pyspark.sql import SparkSession

from lakehouse.config import Settings

_LOCK = threading.Lock()
_SESSION: list[SparkSession] = []  # the process-wide session, classic or Spark Connect

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
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
    # Never reach Maven: the platform moves Delta through delta-rs, not Spark's Delta JARs.
    "spark.jars.ivySettings": "",
}


def _builder_conf(settings: Settings) -> dict[str, str]:
    conf = {k: v for k, v in LOCAL_DEFAULTS.items() if v != ""}
    conf.update(settings.spark_conf)
    return conf


def get_spark(settings: Settings | None = None) -> SparkSession:
    """Return the process-wide session, creating it on first use."""
    settings = settings or Settings.from_env()
    with _LOCK:
        if _SESSION and _alive(_SESSION[0]):
            return _SESSION[0]
        _SESSION[:] = [_create(settings)]
        return _SESSION[0]


def _alive(session: SparkSession) -> bool:
    if type(session).__module__.startswith("pyspark.sql.connect"):
        return True  # Connect sessions reconnect on their own; a second local server would clash
    return session._sc._jsc is not None  # a stopped classic session has no JVM context


def _create(settings: Settings) -> SparkSession:
    active = SparkSession.getActiveSession()
    if active is not None and not settings.spark_remote:
        return active
    if settings.spark_remote:
        builder = SparkSession.builder.remote(settings.spark_remote)
        for key, value in settings.spark_conf.items():
            builder = builder.config(key, value)
        session = builder.getOrCreate()
        if settings.spark_remote.startswith("local"):  # a Connect server on this machine: laptop tuning
            for key in ("spark.sql.shuffle.partitions", "spark.sql.session.timeZone"):
                session.conf.set(key, settings.spark_conf.get(key, LOCAL_DEFAULTS[key]))
        return session
    os.environ.setdefault("PYSPARK_PYTHON", os.environ.get("PYSPARK_PYTHON", _python()))
    builder = SparkSession.builder.master(settings.spark_master).appName("lakehouse")
    for key, value in _builder_conf(settings).items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("WARN")
    return session


def _python() -> str:
    import sys

    return sys.executable


class SparkResource(ConfigurableResource):
    """Dagster resource handing out the process-wide session; empty fields fall back to the environment."""

    master: str | None = None
    remote: str | None = None
    conf: dict[str, str] = {}

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
