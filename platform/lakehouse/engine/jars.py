"""The JARs Spark needs beyond pyspark's own: Delta Lake (delta-spark), S3A (hadoop-aws + the AWS SDK) and
Spark's Kafka source (spark-sql-kafka-0-10); with them, the Delta settings both Delta writers share.

`make install` runs `python -m lakehouse.engine.jars` once: Spark's own resolver (Ivy, through
`spark.jars.packages`) fetches the artifacts from Maven Central into a cache, and the resolved files are
written to a manifest. Every session after that takes the files from the manifest with `spark.jars`, so no
resolver runs when a run starts: runs work offline and start faster. Then `make install` builds a JVM class
archive of what a run loads (dev/archive_classes.py).

The versions follow the installed Python packages, as delta-spark's `configure_spark_with_delta_pip` does:
`io.delta:delta-spark_<spark major.minor>_2.13:<delta-spark version>` and
`org.apache.hadoop:hadoop-aws:<the Hadoop version pyspark bundles>` and
`org.apache.spark:spark-sql-kafka-0-10_2.13:<pyspark version>`.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import os
import re
import shutil
import sys
from pathlib import Path

from lakehouse.errors import LakehouseError

SCALA = "2.13"
DELTA_EXTENSIONS = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}

# Every open of a Delta table replays its log from the newest checkpoint. delta-spark checkpoints every 10th
# commit unless the table says otherwise, delta-rs every 100th: the ops tables, appended to by delta-rs at every
# step and read at the next, were replayed through up to 99 JSON commits per open (5,852 GETs of one table's log
# on S3 in one two-domain test run). Tables carry the interval as a property, so both writers checkpoint alike.
CHECKPOINT_INTERVAL = {"delta.checkpointInterval": "10"}


class MissingJarsError(LakehouseError):
    """The Delta / S3A JARs have not been fetched on this machine."""


def pyspark_jars() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent / "jars"


def hadoop_version() -> str:
    for jar in pyspark_jars().glob("hadoop-client-api-*.jar"):
        return jar.name[len("hadoop-client-api-"):-len(".jar")]
    raise LakehouseError("cannot tell which Hadoop version pyspark bundles (no hadoop-client-api jar)")


def packages() -> list[str]:
    """Maven coordinates matching the installed pyspark and delta-spark."""
    import pyspark

    spark_minor = ".".join(pyspark.__version__.split(".")[:2])
    delta = importlib.metadata.version("delta-spark")
    return [f"io.delta:delta-spark_{spark_minor}_{SCALA}:{delta}", f"org.apache.hadoop:hadoop-aws:{hadoop_version()}",
            f"org.apache.spark:spark-sql-kafka-0-10_{SCALA}:{pyspark.__version__}"]


def jdk_tool(name: str) -> Path | None:
    """A JDK program as spark-submit finds java: $JAVA_HOME/bin/<name>, else the first on PATH; None if absent."""
    home = os.environ.get("JAVA_HOME")
    found = Path(home) / "bin" / name if home else (Path(w) if (w := shutil.which(name)) else None)
    return found.resolve() if found and found.exists() else None


def cache_dir() -> Path:
    return Path.home() / ".cache" / "lakehouse" / "spark-jars"


def _manifest() -> Path:
    key = hashlib.sha256(",".join(packages()).encode()).hexdigest()[:12]
    return cache_dir() / f"classpath-{key}.txt"


def classpath() -> list[str]:
    """The jar files of `packages()`, fetched by `make install`; one clear error when they are not there."""
    manifest = _manifest()
    jars = manifest.read_text().split() if manifest.is_file() else []
    if not jars or not all(Path(j).is_file() for j in jars):
        raise MissingJarsError(
            f"the Spark JARs {', '.join(packages())} are not installed on this machine: run `make install` "
            f"(or `{Path(sys.executable).name} -m lakehouse.engine.jars`), which fetches them once from Maven Central")
    return jars


def _bundled_artifacts() -> set[str]:
    """Artifact names pyspark already ships (hadoop-client-api-3.5.0.jar -> hadoop-client-api)."""
    return {re.sub(r"-\d[\w.\-]*\.jar$", "", j.name) for j in pyspark_jars().glob("*.jar")}


def _keep(jar: str, bundled: set[str]) -> bool:
    # Ivy names files <group>_<artifact>-<version>.jar; transitive copies of what pyspark ships (Hadoop client,
    # Parquet, Jackson, logging) are left out so the classpath holds one version of each.
    artifact = re.sub(r"-\d[\w.\-]*\.jar$", "", Path(jar).name.split("_", 1)[-1])
    return artifact not in bundled


def fetch() -> list[str]:
    """Resolve `packages()` with Spark's own resolver into the cache and write the manifest."""
    from pyspark.sql import SparkSession

    cache_dir().mkdir(parents=True, exist_ok=True)
    session = (SparkSession.builder.master("local[1]").appName("lakehouse-fetch-jars")
               .config("spark.jars.packages", ",".join(packages()))
               .config("spark.jars.ivy", str(cache_dir() / "ivy"))
               .config("spark.ui.enabled", "false")
               .getOrCreate())
    try:
        resolved = session.sparkContext.getConf().get("spark.jars", "")
    finally:
        session.stop()
    bundled = _bundled_artifacts()
    jars = [j.removeprefix("file://") for j in resolved.split(",") if j]
    jars = [j for j in jars if _keep(j, bundled)]
    if not jars:
        raise LakehouseError(f"Spark resolved no files for {packages()}")
    _manifest().write_text("\n".join(jars) + "\n")
    return jars


def main() -> int:
    try:
        jars = classpath()
        print(f"Spark JARs already installed ({len(jars)} files, manifest {_manifest()})")
    except MissingJarsError:
        print(f"fetching {', '.join(packages())} from Maven Central ...", flush=True)
        jars = fetch()
        print(f"installed {len(jars)} JARs; manifest {_manifest()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
