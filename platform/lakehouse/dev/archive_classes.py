"""`make install`'s last step: build the JVM class archive of engine/class_archive.py, once per JVM and class path.

`python -m lakehouse.dev.archive_classes` runs a small Spark + Delta workload in a fresh process whose JVM writes
the archive as it exits, then moves it into place in one rename.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lakehouse.engine.class_archive import archive_path
from lakehouse.engine.spark import DRIVER_OPTIONS, get_spark, local_classpath


def _workload(folder: str) -> None:
    """What a run does, small: Arrow in and out, a partitioned Delta write and an exact-partition overwrite, reads
    with filters, aggregations, windows, a join, an observed action, a cached frame, CSV and JSON, a Python UDF."""
    import pyarrow as pa
    from pyspark.sql import Observation, Window
    from pyspark.sql import functions as F

    from lakehouse.config import Settings

    spark = get_spark(Settings.from_env())
    rows = pa.table({"id": list(range(200)), "dt": [f"2024-06-0{1 + i % 3}" for i in range(200)],
                     "amount": [i * 1.5 for i in range(200)], "name": [f"n{i % 17}" for i in range(200)]})
    frame = spark.createDataFrame(rows)
    table = f"{folder}/t"
    frame.write.format("delta").partitionBy("dt").save(table)
    again = frame.where("dt = '2024-06-02'").withColumn("amount", F.col("amount") * 2)
    again.write.format("delta").mode("overwrite").option("replaceWhere", "dt IN ('2024-06-02')").save(table)
    read = spark.read.format("delta").load(table).where(F.col("dt").isin("2024-06-01", "2024-06-02")).cache()
    seen = Observation("rows")
    ranked = read.withColumn("rank", F.row_number().over(Window.partitionBy("dt").orderBy(F.col("amount").desc())))
    ranked.observe(seen, F.count(F.lit(1)).alias("n"), F.sum("amount").alias("s")).write.format("delta") \
        .mode("append").save(f"{folder}/ranked")
    summary = read.groupBy("dt", "name").agg(F.count("*").alias("n"), F.sum("amount").alias("total"),
                                             F.countDistinct("id").alias("ids"))
    summary.join(read.select("dt", "name").distinct(), ["dt", "name"], "left").toArrow()
    read.mapInArrow(lambda batches: batches, read.schema).count()
    read.unpersist()
    summary.write.mode("overwrite").partitionBy("dt").parquet(f"{folder}/p")
    read.select("id", "name", "dt").write.mode("overwrite").option("header", "true").csv(f"{folder}/csv")
    spark.read.option("header", "true").csv(f"{folder}/csv").union(
        spark.read.json(spark.createDataFrame([('{"id": 1}',)], ["v"]).rdd.map(lambda r: r.v)).selectExpr(
            "cast(id as string) id", "'x' name", "'2024-06-01' dt")).count()
    jvm = spark.sparkContext._gateway.proc  # the JVM pyspark launched (spark-class execs java)
    spark.stop()
    jvm.stdin.close()  # the gateway exits when its parent's pipe closes; the archive is written as it does
    jvm.wait()


def build(java_options: str, classpath: list[str]) -> Path | None:
    """Run the workload in a JVM that writes the archive as it exits; move it into place when it is whole."""
    path = archive_path(classpath)
    if path is None:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lakehouse-class-archive-") as work:
        partial = Path(work) / path.name
        options = f"{java_options} -XX:ArchiveClassesAtExit={partial} -Xlog:cds=off,cds+dynamic=off".strip()
        env = {**os.environ, "LAKEHOUSE_HOME": str(Path(work) / "home"),
               "LAKEHOUSE_SPARK_CONF": json.dumps({"spark.driver.extraJavaOptions": options})}
        env.pop("LAKEHOUSE_SPARK_REMOTE", None)
        env.pop("LAKEHOUSE_SPARK_MASTER", None)
        done = subprocess.run([sys.executable, "-m", "lakehouse.dev.archive_classes", work], env=env,
                              capture_output=True, text=True)
        if done.returncode != 0 or not partial.is_file():
            print(f"class archive not built (runs start without it): {done.stderr.strip().splitlines()[-1:]}")
            return None
        os.replace(partial, path)  # one rename: a session never maps a half-written archive
    return path


def main(argv: list[str]) -> int:
    if argv:  # the workload's own process
        _workload(argv[0])
        return 0
    jars = local_classpath()  # what a local session's JVM starts with
    archive = archive_path(jars)
    if archive is None or archive.is_file():
        return 0
    print("archiving the classes a Spark run loads (once, 1-2 minutes) ...", flush=True)
    if built := build(DRIVER_OPTIONS, jars):
        print(f"class archive {built} ({built.stat().st_size >> 20} MB): local Spark sessions start with it")
        pruned = prune(built.parent, keep=built)
        if pruned:
            print(f"removed {len(pruned)} class archive(s) no Spark session used for {STALE_DAYS} days")
    return 0


STALE_DAYS = 14  # each venv made again leaves a ~200 MB archive no JVM maps again (sessions touch the one they use)


def prune(folder: Path, keep: Path) -> list[Path]:
    """Remove the archives in `folder` but `keep` that no session started with for STALE_DAYS days."""
    cutoff = time.time() - STALE_DAYS * 86_400
    removed = []
    for old in folder.glob("spark-*.jsa"):
        if old != keep and old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)
            removed.append(old)
    return removed


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
