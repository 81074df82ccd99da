"""Spark does the data work: delta-spark writes every layer, bronze parses on the executors, rows never
gather on the driver, and the result equals what the delta-rs path publishes for the same input."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from datetime import date, datetime, timezone

import pyarrow as pa
import pytest
from tables_testing import table_content

from lakehouse.engine.spark import JIT_OPTIONS
from lakehouse.pipeline.registry import get_spec, landed_specs, specs_in

DAY = "2024-06-03"


def _digest(table: pa.Table) -> str:
    rows = sorted(json.dumps(r, sort_keys=True, default=str) for r in table.to_pylist())
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()


def _published(domain: str) -> dict[str, str]:
    """Digest of every table and quarantine of a domain, run stamps left out."""
    from lakehouse.resources import LakehouseResource

    lh, out = LakehouseResource(), {}
    for spec in specs_in(domain=domain):
        where = lh.location(spec)
        if lh.store().exists(where.uri, where.format):
            out[spec.id] = _digest(table_content(spec.id))
        if lh.store().exists(where.quarantine_uri, where.side_format):
            out[f"quarantine of {spec.id}"] = _digest(table_content(spec.id, quarantine=True))
    return out


@pytest.mark.slow
def test_spark_path_publishes_what_the_delta_rs_path_publishes(tmp_path, monkeypatch, spark):
    """Same landing files, both stores: equal digests for every commerce table and quarantine, and the Delta
    log of each Spark-written table (bronze, silver, gold, quarantine) names Spark and Delta Lake."""
    from deltalake import DeltaTable

    from lakehouse.config import Settings
    from lakehouse.definitions import defs
    from lakehouse.dev.generate.commerce import land_commerce
    from lakehouse.resources import LakehouseResource
    from lakehouse.runs import instance_for_runs, materialize_range

    landing = tmp_path / "landing"
    digests = {}
    for store in ("spark", "delta-rs"):
        monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path / store))
        monkeypatch.setenv("LAKEHOUSE_LANDING", str(landing))
        monkeypatch.setenv("LAKEHOUSE_STORE", store)
        if store == "spark":
            from lakehouse.config import Settings

            land_commerce(Settings.from_env(), date.fromisoformat(DAY), days=1, rows=60, seed=7)
        run = materialize_range(defs, DAY, DAY, instance_for_runs(Settings.from_env()), domain="commerce")
        assert run.success, run.failures()
        digests[store] = _published("commerce")
        if store == "spark":
            lh = LakehouseResource()
            written = [lh.location(get_spec(t)).uri for t in ("bronze.shop_orders", "silver.orders",
                                                               "gold.daily_sales_summary")]
            written.append(lh.location(get_spec("silver.orders")).quarantine_uri)
            for uri in written:
                engine = DeltaTable(uri).history(1)[0].get("engineInfo", "")
                assert "Apache-Spark" in engine and "Delta-Lake" in engine, (uri, engine)
    assert len(digests["spark"]) >= 18
    assert digests["spark"] == digests["delta-rs"]


def test_bronze_parses_on_the_executors_exactly_like_the_driver_reader(lakehouse_env, spark):
    """Per-line semantics, lineage, `_rescued_data`, quarantine reasons and file stats are the reader's."""
    from lakehouse.dev.generate.commerce import land_commerce
    from lakehouse.ingest.executors import parse_landing
    from lakehouse.ingest.readers import read_landing_partition

    land_commerce(lakehouse_env, date.fromisoformat(DAY), days=1, rows=80, seed=3)
    at = datetime(2024, 6, 3, 12, tzinfo=timezone.utc)
    for spec in landed_specs("commerce"):
        reference = read_landing_partition(lakehouse_env, spec, DAY, at)
        batch = parse_landing(spark, lakehouse_env, spec, [DAY], at)
        try:
            rows = batch.rows.toArrow()
            quarantine = batch.quarantine.toArrow()
        finally:
            batch.release()
        assert rows.schema.names == reference.table.schema.names
        assert _digest(rows) == _digest(reference.table), spec.id
        assert _digest(quarantine.drop_columns(["quarantined_at"])) == \
            _digest(reference.quarantine.drop_columns(["quarantined_at"])), spec.id
        assert sorted(f.__dict__.items() for f in batch.files) == sorted(f.__dict__.items() for f in reference.files)
        assert batch.rows_by_day.get(DAY, 0) == reference.table.num_rows


def test_a_task_killed_mid_write_leaves_the_previous_version_readable(lakehouse_env, spark):
    from pyspark.sql import functions as F
    from pyspark.sql.types import LongType

    from lakehouse.storage.spark_store import SparkStore

    store = SparkStore(lakehouse_env, spark)
    uri = store.uri("silver", "killed")
    first = spark.range(200).select("id", F.lit(DAY).alias("dt"))
    store.write_df("silver.killed", uri, "delta", first, [DAY])
    version = store.version(uri, "delta")

    @F.udf(LongType())
    def dies_at_150(i):
        if i == 150:
            os._exit(1)  # the Python worker dies mid-task, as a killed executor would
        return i * 10

    with pytest.raises(Exception):
        store.write_df("silver.killed", uri, "delta",
                       spark.range(200).repartition(2).select(dies_at_150("id").alias("id"), F.lit(DAY).alias("dt")),
                       [DAY])
    assert store.version(uri, "delta") == version
    assert sorted(store.read(uri, "delta").column("id").to_pylist()) == list(range(200))


@pytest.mark.slow
def test_a_batch_several_times_the_driver_heap_never_gathers_on_the_driver(tmp_path):
    """A run process with a 512 MB heap moves ~1.7 GB of rows through read -> transform -> write."""
    rows = 560_000  # 3 KB of text a row: 3.2 times the largest heap asked for
    script = f"ROWS = {rows}\n" + textwrap.dedent("""
        import json, os
        from pyspark.sql import Observation
        from pyspark.sql import functions as F
        from lakehouse.config import Settings
        from lakehouse.engine.spark import get_spark
        from lakehouse.storage.spark_store import SparkStore

        settings = Settings.from_env()
        spark = get_spark(settings)
        store = SparkStore(settings, spark)
        src, dst = store.uri("bronze", "big"), store.uri("silver", "big")
        days = ["2024-06-01", "2024-06-02"]
        # wide rows, cheap to make: ~3 KB of text a row once transformed
        pad = F.repeat(F.lit("x"), 960)
        rows = spark.range(0, ROWS, numPartitions=24).select(
            "id", F.concat(F.sha2(F.col("id").cast("string"), 256), pad).alias("a"),
            F.concat(F.sha2(F.concat(F.col("id").cast("string"), F.lit("x")), 256), pad).alias("b"),
            F.when(F.col("id") % 2 == 0, F.lit(days[0])).otherwise(F.lit(days[1])).alias("dt"))
        store.write_df("bronze.big", src, "delta", rows, days)
        batch = store.read_df(spark, src, "delta", days)
        result = batch.select("id", F.upper("a").alias("a"), F.concat("b", "a").alias("ab"), "dt")
        size = Observation("size")  # the text the write moves, summed in the write's own pass
        written = store.write_df("silver.big", dst, "delta",
                                 result.observe(size, F.sum(F.length("a") + F.length("ab")).alias("text_bytes")), days)
        text_bytes = size.get["text_bytes"]
        heap = spark.sparkContext._jvm.java.lang.Runtime.getRuntime().maxMemory()
        print(json.dumps({"rows": written.rows, "text_bytes": text_bytes, "heap": heap}))
    """)
    # one task at a time with 16 MB Parquet row groups: a small heap holds one writer's buffer, never the batch
    env = {**os.environ, "LAKEHOUSE_HOME": str(tmp_path / "lh"), "LAKEHOUSE_SPARK_MASTER": "local[1]",
           "LAKEHOUSE_SPARK_CONF": json.dumps({"spark.driver.memory": "512m", "spark.sql.shuffle.partitions": "8",
                                                "spark.hadoop.parquet.block.size": str(16 << 20),
                                                "spark.driver.extraJavaOptions": JIT_OPTIONS})}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["rows"] == rows
    assert out["heap"] <= 512 * 2**20
    assert out["text_bytes"] >= 3 * out["heap"]  # the batch is several times the heap it ran in


def test_missing_jars_name_what_to_install(tmp_path, monkeypatch):
    from lakehouse.engine import jars

    monkeypatch.setattr(jars, "cache_dir", lambda: tmp_path / "nothing-here")
    with pytest.raises(jars.MissingJarsError) as err:
        jars.classpath()
    message = str(err.value)
    assert "make install" in message and "io.delta:delta-spark_" in message and "hadoop-aws" in message
    assert "\n" not in message


def test_a_local_session_outlives_a_dead_heartbeat_thread_and_keeps_its_console_clear(spark):
    """SPARK-59451: the executor's heartbeat thread can die on a cached batch's half-deserialized accumulator.
    A local session never expires its own executor for that, and drops that one known line from its log;
    every other error still shows."""
    from lakehouse.engine.spark import HEARTBEAT_RACE

    context = spark.sparkContext
    assert int(context.getConf().get("spark.storage.blockManagerHeartbeatTimeoutMs")) >= 24 * 3600 * 1000
    jvm = context._jvm
    log4j = jvm.org.apache.logging.log4j
    log = log4j.LogManager.getLogger("org.apache.spark.util.Utils")  # the logger Spark reports it through
    npe = jvm.java.lang.NullPointerException("PartitionKeyedAccumulator.byPartition() is null")
    assert not log.isEnabled(log4j.Level.ERROR, None, HEARTBEAT_RACE, npe)
    assert log.isEnabled(log4j.Level.ERROR, None, "Uncaught exception in thread another-thread", npe)
    # the driver's log settings are the platform's (engine/log4j2.properties): warnings show, the missing
    # native library's does not
    source = log4j.LogManager.getContext(False).getConfiguration().getConfigurationSource().getLocation()
    assert str(source).endswith(os.path.join("engine", "log4j2.properties")), source
    assert log4j.LogManager.getLogger("org.apache.spark.SparkContext").isWarnEnabled()
    assert not log4j.LogManager.getLogger("org.apache.hadoop.util.NativeCodeLoader").isWarnEnabled()
