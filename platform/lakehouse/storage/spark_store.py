"""The Spark writer, the default store: a run's rows move on Spark only (delta-spark, Spark's Parquet writer,
S3 through S3A); table metadata comes from TableMetadata (delta-rs, no JVM)."""
from __future__ import annotations

import re
import time
from contextlib import contextmanager
from typing import Sequence

import pyarrow as pa

from lakehouse.config import Settings
from lakehouse.errors import LakehouseError
from lakehouse.storage.arrow_store import ArrowStore
from lakehouse.storage.filesystem import filesystem_for, spark_path
from lakehouse.storage.schemas import PARTITION, delta_schema, dt_as_string, plain_schema, reconcile, to_plain
from lakehouse.storage.table_metadata import TableMetadata
from lakehouse.storage.writes import PartitionMismatchError, WriteResult, in_list


def _arrow_schema(df) -> pa.Schema:
    """A Spark DataFrame's schema as the store's Arrow schema, `dt` last (as `schema()` reads it)."""
    from pyspark.sql.pandas.types import to_arrow_schema

    schema = plain_schema(to_arrow_schema(df.schema, timezone="UTC"))
    return schema.remove(schema.get_field_index(PARTITION)).append(pa.field(PARTITION, pa.string()))


class SparkStore(TableMetadata):
    """The default: a run's rows move on Spark only (delta-spark, Spark's Parquet writer, S3A).

    Reads are partition-filtered scans and writes go out from the executors, so nothing gathers on the driver
    and the same code runs on `local[*]`, a standalone cluster, EMR or Databricks. Delta writes are one atomic
    `replaceWhere` overwrite of the named days; Parquet writes use dynamic partition overwrite (not atomic).
    Table metadata (schema, partitions, versions, history) still comes from the Delta log through delta-rs,
    which reads it without a JVM; the Arrow `read` is for readers outside runs (tests, summaries).
    """

    def __init__(self, settings: Settings, session=None):
        super().__init__(settings)
        self._session = session
        self._arrow = ArrowStore(settings)  # the ops tables' appends and Parquet day deletes: no Spark job needed

    def append(self, table_id: str, uri: str, data: pa.Table, partition_by: str) -> WriteResult:
        """A blind append of a few rows already on the driver (the ops tables): through delta-rs, as ArrowStore."""
        return self._arrow.append(table_id, uri, data, partition_by)

    def spark(self):
        from lakehouse.engine.spark import get_spark

        return self._session or get_spark(self.settings)

    def write(self, table_id: str, uri: str, fmt: str, data: pa.Table | pa.RecordBatchReader,
              partitions: Sequence[str]) -> WriteResult:
        """Arrow from the driver (a database extract's batches): handed to Spark, written by Spark. A batch
        without rows has nothing to move: its commit (a new empty table, or the named days emptied) is the log's
        alone, written by delta-rs in milliseconds instead of a Spark job and commit of about a second."""
        from lakehouse.engine.arrow import to_spark

        if isinstance(data, pa.RecordBatchReader):
            data = data.read_all()
        if data.num_rows == 0:  # a batch without columns too: ArrowStore gives it its dt column
            return self._arrow.write(table_id, uri, fmt, data, partitions)
        return self.write_df(table_id, uri, fmt, to_spark(self.spark(), to_plain(dt_as_string(data))), partitions)

    def write_df(self, table_id: str, uri: str, fmt: str, df, partitions: Sequence[str]) -> WriteResult:
        from pyspark.sql import functions as F

        if fmt not in ("delta", "parquet"):
            raise LakehouseError(f"table {table_id}: unknown format {fmt!r} (use delta or parquet)")
        if PARTITION not in df.columns:
            raise LakehouseError(f"table {table_id}: the batch has no '{PARTITION}' column")
        partitions = sorted(set(partitions))
        existing = self.schema(uri, fmt)
        if not partitions and existing is not None:
            return WriteResult(uri, fmt, 0, [], self.version(uri, fmt), existing)
        # Every check happens here, before the first byte is written.
        df, added = self._fit(table_id, existing, df.withColumn(PARTITION, F.col(PARTITION).cast("string")))
        df = _sql_types(df)
        if fmt == "delta":
            if existing is None:  # Delta checks replaceWhere only against an existing table: the write job does
                df = _refusing_stray_days(df, partitions)
            self._write_delta(table_id, uri, df, partitions)
            table = self._delta(uri)  # one read of the log after the commit: its rows, version and schema
            metrics = (table.history(1) or [{}])[0].get("operationMetrics") or {}
            return WriteResult(uri, fmt, int(metrics.get("numOutputRows", 0)), partitions, table.version(),
                               delta_schema(table), added)
        rows = self._write_parquet(table_id, uri, df, partitions)
        # a batch without rows writes no file: the schema is then the batch's own (the Glue entry needs one)
        return WriteResult(uri, fmt, rows, partitions, None, self.schema(uri, fmt) or _arrow_schema(df), added)

    def _fit(self, table_id: str, existing: pa.Schema | None, df):
        """Refuse incompatible type changes (naming table, column and types) and cast safe widenings."""
        from pyspark.sql.pandas.types import from_arrow_type, to_arrow_schema

        from lakehouse.engine.sql import exact_column

        incoming = plain_schema(to_arrow_schema(df.schema, timezone="UTC"))
        fitted, added = reconcile(table_id, existing, incoming.empty_table())
        for f in fitted.schema:
            if f.name in incoming.names and incoming.field(f.name).type != f.type:
                df = df.withColumn(f.name, exact_column(f.name).cast(from_arrow_type(f.type)))
        return df, added

    def _write_delta(self, table_id: str, uri: str, df, partitions: list[str]) -> None:
        # replaceWhere empties requested days the batch has no rows for and refuses rows outside them, in
        # the same atomic commit that adds the new files; mergeSchema adds new columns in that commit too.
        writer = (df.write.format("delta").mode("overwrite").partitionBy(PARTITION)
                  .option("replaceWhere", f"{PARTITION} in ({in_list(partitions) or 'NULL'})")
                  .option("mergeSchema", "true"))
        try:
            _with_spark_retries(writer.save, spark_path(uri))
        except Exception as exc:
            if stray := re.search(re.escape(_STRAY) + r"([^\s'\"\\]*)", str(exc)):  # the first write's own check
                raise PartitionMismatchError.of(table_id, partitions, [stray.group(1)]) from None
            if "REPLACE_WHERE_MISMATCH" in str(exc) or "does not conform to partial table overwrite" in str(exc):
                raise PartitionMismatchError.of(table_id, partitions) from None
            raise

    def _write_parquet(self, table_id: str, uri: str, df, partitions: list[str]) -> int:
        """Dynamic overwrite replaces the days present in the batch; requested days without rows are
        cleared first. Not atomic (Parquet has no log)."""
        import pyarrow.dataset as ds

        present = _check_days(table_id, df, partitions)
        self._arrow.delete_partitions(uri, "parquet", [dt for dt in partitions if dt not in present])
        if present:
            writer = (df.write.format("parquet").mode("overwrite").partitionBy(PARTITION)
                      .option("partitionOverwriteMode", "dynamic"))
            _with_spark_retries(writer.save, spark_path(uri))
        fs, _ = filesystem_for(uri, self.settings)
        files = [f for dt, paths in self._parquet_files(uri).items() if dt in partitions for f in paths]
        return ds.dataset(files, filesystem=fs, format="parquet").count_rows() if files else 0  # footers only

    def read_df(self, spark, uri: str, fmt: str, partitions: Sequence[str] | None = None):
        from pyspark.sql import functions as F

        if fmt == "delta":
            table = self._delta(uri)
            if table is None:
                return spark.createDataFrame([], f"{PARTITION} string")
            if _plain_reader(table):
                return self._read_delta_files(spark, table, uri, partitions)
        elif not self.exists(uri, fmt):
            return spark.createDataFrame([], f"{PARTITION} string")
        reader = spark.read.format(fmt)
        if fmt == "parquet":
            reader = reader.option("mergeSchema", "true")  # days written before a column was added lack it
        df = reader.load(spark_path(uri))
        df = df.withColumn(PARTITION, F.col(PARTITION).cast("string"))  # Spark infers dt=2024-06-01 as a date
        return df.where(F.col(PARTITION).isin(sorted(set(partitions)))) if partitions is not None else df

    def _read_delta_files(self, spark, table, uri: str, partitions: Sequence[str] | None):
        """The snapshot's data files of those days, as the Delta log names them (read by delta-rs, no Spark
        job), scanned by Spark's Parquet reader with the table's schema. delta-spark's own reader rebuilds the
        table's state in Spark jobs on every read after a commit: about 2.4 s a table on a warm local JVM
        against 0.25 s this way (measured on 6 small tables). Only for a table whose protocol asks nothing
        more of a reader than Parquet (see _plain_reader); files written before a column was added give
        NULLs for it, as in Delta."""
        from pyspark.sql import functions as F
        from pyspark.sql.pandas.types import from_arrow_schema

        from lakehouse.engine.sql import exact_column

        schema = from_arrow_schema(delta_schema(table))
        days = sorted(set(partitions)) if partitions is not None else None
        files = [] if days == [] else table.file_uris(
            file_pruning_predicate=[(PARTITION, "in", days)] if days is not None else None)
        if not files:
            df = spark.createDataFrame([], schema)
        else:  # basePath: Spark takes dt from each file's folder, as Delta keeps partition values out of the files
            df = (spark.read.schema(schema).option("basePath", spark_path(uri))
                  .parquet(*[spark_path(f) for f in files]))
            # Spark puts partition columns last; Delta's reader keeps the table's column order
            df = df.select(*[exact_column(n) for n in schema.fieldNames()])
        df = df.withColumn(PARTITION, F.col(PARTITION).cast("string"))
        return df.where(F.col(PARTITION).isin(days)) if days is not None else df

    # maintenance runs on Spark too: compaction rewrites a run's rows ------------------------------
    def delete_partitions(self, uri: str, fmt: str, partitions: Sequence[str]) -> int:
        present = [p for p in self.partitions(uri, fmt) if p in set(partitions)]
        if present and fmt == "delta":
            self.spark().sql(f"DELETE FROM delta.`{spark_path(uri)}` WHERE {PARTITION} IN ({in_list(present)})")
            return len(present)
        return self._arrow.delete_partitions(uri, fmt, present)

    def compact(self, uri: str, fmt: str) -> dict:
        if fmt == "delta":
            if not self.exists(uri, fmt):
                return {}
            metrics = self.spark().sql(f"OPTIMIZE delta.`{spark_path(uri)}`").collect()[0]["metrics"]
            return {"numFilesAdded": metrics["numFilesAdded"], "numFilesRemoved": metrics["numFilesRemoved"]}
        rewritten = 0
        for dt, files in self._parquet_files(uri).items():
            if len(files) > 1:
                df = self.read_df(self.spark(), uri, fmt, [dt]).localCheckpoint()  # read fully before the rewrite
                self._write_parquet(uri, uri, df.coalesce(1), [dt])
                rewritten += 1
        return {"partitions_rewritten": rewritten}

    def vacuum(self, uri: str, fmt: str, retention_hours: int = 168) -> list[str]:
        if fmt != "delta" or not self.exists(uri, fmt):
            return []
        spark, path = self.spark(), spark_path(uri)
        conf = {
            # Delta refuses less than its 7-day default unless told the caller means it
            "spark.databricks.delta.retentionDurationCheck.enabled": str(retention_hours >= 168).lower(),
            # VACUUM lists the table's folders in this many tasks (default 10,000, whatever the table's size:
            # minutes of empty tasks on a small cluster); one task per day folder is plenty
            "spark.sql.sources.parallelPartitionDiscovery.parallelism": str(min(max(len(self.partitions(uri, fmt)), 1), 10_000)),
        }
        with session_conf(spark, conf):
            doomed = [r[0] for r in spark.sql(f"VACUUM delta.`{path}` RETAIN {int(retention_hours)} HOURS DRY RUN").collect()]
            if doomed:
                spark.sql(f"VACUUM delta.`{path}` RETAIN {int(retention_hours)} HOURS").collect()
        return doomed


# reader features whose files Spark's plain Parquet reader reads as Delta would
_PARQUET_READABLE = frozenset({"timestampNtz"})


def _plain_reader(table) -> bool:
    """True when reading the table's files as Parquet gives what a Delta reader gives: reader protocol 1,
    or only features that change no file's meaning (not deletion vectors, column mapping, type widening)."""
    protocol = table.protocol()
    if protocol.min_reader_version == 1:
        return True
    return set(protocol.reader_features or ()) <= _PARQUET_READABLE


@contextmanager
def session_conf(spark, conf: dict[str, str]):
    """These session settings for the block; the previous values (or unset) after it."""
    before = {k: spark.conf.get(k, None) for k in conf}
    for k, v in conf.items():
        spark.conf.set(k, v)
    try:
        yield
    finally:
        for k, v in before.items():
            spark.conf.unset(k) if v is None else spark.conf.set(k, v)


_STRAY = "lakehouse-stray-day:"


def _refusing_stray_days(df, partitions: list[str]):
    """`df` whose rows fail the write job when their day is not in `partitions`: the check rides along with the
    write (no Spark job of its own) and, failing, leaves no commit behind."""
    from pyspark.sql import functions as F

    day = F.col(PARTITION)
    stray = F.raise_error(F.concat(F.lit(_STRAY), F.coalesce(day, F.lit("NULL"))))
    return df.withColumn(PARTITION, F.when(day.isin(partitions), day).otherwise(stray.cast("string")))


def _check_days(table_id: str, df, partitions: list[str]) -> list[str]:
    """The days a batch holds (names only, not rows); rows outside `partitions` are refused."""
    present = sorted(r[0] for r in df.select(PARTITION).distinct().collect())
    stray = sorted(set(present) - set(partitions))
    if stray:
        raise PartitionMismatchError.of(table_id, partitions, stray)
    return present


def _with_spark_retries(fn, *args, attempts: int = 3):
    """Retry a write on transient storage errors (throttling, dropped connections): a Delta overwrite by
    predicate is idempotent and its commit atomic, so trying again is safe. Anything else is raised."""
    for attempt in range(attempts):
        try:
            return fn(*args)
        except Exception as exc:  # Py4JJavaError / SparkConnectGrpcException / IllegalArgumentException ...
            text = str(exc)
            transient = any(s in text for s in ("SdkClientException", "503", "SlowDown", "Connection reset",
                                                 "ConnectException", "SocketTimeoutException"))
            if not transient or attempt == attempts - 1:
                raise
            time.sleep(0.5 * 2**attempt)


def _sql_types(df):
    """Every column cast to its own type, named in SQL text: Spark Connect turns a client-side type such as
    mapInArrow's schema or `.cast(StringType())` into `string collate UTF8_BINARY`, which Delta then writes to
    its log and delta-rs cannot read; a type parsed from SQL text is the plain `string`. A no-op projection
    on a classic session."""
    from lakehouse.engine.sql import quoted

    return df.selectExpr(*[f"cast({quoted(f.name)} as {f.dataType.simpleString()}) as {quoted(f.name)}"
                           for f in df.schema.fields])
