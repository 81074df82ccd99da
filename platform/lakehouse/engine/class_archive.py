"""A class-data sharing (CDS) archive of the JVM classes a local Spark run loads, built once by `make install`.

A local run's JVM spends a good part of its time loading and verifying the same ~20,000 classes of Spark, Delta and
Hadoop every time it starts. The JDK can map them from an archive instead (`-XX:SharedArchiveFile`). `make install`
runs a small Spark + Delta workload in a JVM that writes the archive when it exits (`-XX:ArchiveClassesAtExit`);
every local session after that starts with it. Classes the workload did not load still come from the JARs.

The archive is only valid for the JVM and class path that wrote it, so its file name carries a hash of both. The
JDK checks it again when it maps it: a stale or foreign archive is ignored and the JVM loads classes as usual,
never fails. `-Xshare:off` in `spark.driver.extraJavaOptions` turns it off.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# Options that already say how to share classes: the person's own choice wins.
_OWN = ("-Xshare", "SharedArchiveFile", "ArchiveClassesAtExit")


def _java() -> Path | None:
    """The java binary spark-submit launches: $JAVA_HOME/bin/java, else the first on PATH."""
    home = os.environ.get("JAVA_HOME")
    found = Path(home) / "bin" / "java" if home else (Path(w) if (w := shutil.which("java")) else None)
    return found.resolve() if found and found.exists() else None


def archive_path(classpath: list[str]) -> Path | None:
    """Where the archive for this JVM and class path lives (whether or not it was built); None without a java."""
    from lakehouse.engine.jars import pyspark_jars, cache_dir

    java = _java()
    if java is None:
        return None
    # the JVM's class path is ours plus pyspark's own JARs, whose folder differs per virtual environment
    key = "\n".join([str(java), str(java.stat().st_mtime_ns), str(pyspark_jars()), *classpath])
    return cache_dir() / "class-archive" / f"spark-{hashlib.sha256(key.encode()).hexdigest()[:16]}.jsa"


def with_archive(java_options: str, classpath: list[str]) -> str:
    """`java_options` plus the archive when it was built for this JVM and class path (else unchanged)."""
    if any(own in java_options for own in _OWN):
        return java_options
    path = archive_path(classpath)
    if path is None or not path.is_file():
        return java_options
    return f"{java_options} -XX:SharedArchiveFile={path} -Xlog:cds=off,cds+dynamic=off".strip()


def _workload(folder: str) -> None:
    """What a run does, small: Arrow in and out, a partitioned Delta write and an exact-partition overwrite, reads
    with filters, aggregations, windows, a join, an observed action, a cached frame, CSV and JSON, a Python UDF."""
    import pyarrow as pa
    from pyspark.sql import Observation, Window
    from pyspark.sql import functions as F

    from lakehouse.config import Settings
    from lakehouse.engine.spark import get_spark

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
               "LAKEHOUSE_SPARK_CONF": f'{{"spark.driver.extraJavaOptions": "{options}"}}'}
        env.pop("LAKEHOUSE_SPARK_REMOTE", None)
        env.pop("LAKEHOUSE_SPARK_MASTER", None)
        done = subprocess.run([sys.executable, "-m", "lakehouse.engine.class_archive", work], env=env,
                              capture_output=True, text=True)
        if done.returncode != 0 or not partial.is_file():
            print(f"class archive not built (runs start without it): {done.stderr.strip().splitlines()[-1:]}")
            return None
        os.replace(partial, path)  # one rename: a session never maps a half-written archive
    return path


if __name__ == "__main__":
    _workload(sys.argv[1])
