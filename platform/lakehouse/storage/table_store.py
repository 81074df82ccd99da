"""Tables partitioned by `dt`: Delta through delta-rs (default) or Parquet through pyarrow.

A write replaces exactly the partitions it names: Delta in one atomic commit (an overwrite with a `dt`
predicate), Parquet with one pyarrow dataset write that clears the named days (not atomic: Parquet has
no log). New columns are added to the table; a changed column type is refused before anything is written.
"""
from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass, field
from typing import Sequence

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from lakehouse.config import Settings
from lakehouse.errors import LakehouseError, SchemaMismatchError
from lakehouse.storage.filesystem import delta_storage_options, filesystem_for

PARTITION = "dt"


class PartitionMismatchError(LakehouseError, ValueError):
    """A batch holds rows for partitions the write was not asked to replace."""


@dataclass
class WriteResult:
    uri: str
    format: str
    rows: int
    partitions: list[str]
    version: int | None
    schema: pa.Schema
    added_columns: list[str] = field(default_factory=list)


# --- types ---------------------------------------------------------------------------------------

def _plain_type(t: pa.DataType) -> pa.DataType:
    """Types every engine here reads: no large/view strings, no null type, microsecond timestamps."""
    if pa.types.is_large_string(t) or pa.types.is_string_view(t) or pa.types.is_null(t):
        return pa.string()
    if pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return pa.binary()
    if pa.types.is_timestamp(t) and t.unit == "ns":
        return pa.timestamp("us", tz=t.tz)
    if pa.types.is_dictionary(t):
        return _plain_type(t.value_type)
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_list_view(t):
        return pa.list_(_plain_type(t.value_type))
    if pa.types.is_struct(t):
        return pa.struct([pa.field(f.name, _plain_type(f.type), f.nullable) for f in t])
    if pa.types.is_map(t):
        return pa.map_(_plain_type(t.key_type), _plain_type(t.item_type))
    return t


def plain_schema(schema: pa.Schema) -> pa.Schema:
    return pa.schema([pa.field(f.name, _plain_type(f.type), True) for f in schema])


def to_plain(table: pa.Table) -> pa.Table:
    """Cast a table to plain_schema; nanoseconds are truncated to microseconds (all Delta and Spark keep)."""
    target = plain_schema(table.schema)
    if target == table.schema:
        return table
    columns = [c if c.type == f.type else pc.cast(c, options=pc.CastOptions(f.type, allow_time_truncate=True))
               for c, f in zip(table.columns, target)]
    return pa.Table.from_arrays(columns, schema=target)


def _widens(incoming: pa.DataType, existing: pa.DataType) -> bool:
    """May values of `incoming` be stored in an `existing` column without loss?"""
    if incoming == existing or pa.types.is_null(incoming):
        return True
    if pa.types.is_integer(incoming) and pa.types.is_integer(existing):
        if pa.types.is_signed_integer(incoming) == pa.types.is_signed_integer(existing):
            return existing.bit_width >= incoming.bit_width
        # uint32 fits int64 but not int32; a signed value never fits an unsigned column
        return pa.types.is_unsigned_integer(incoming) and existing.bit_width > incoming.bit_width
    if pa.types.is_floating(incoming) and pa.types.is_floating(existing):
        return existing.bit_width >= incoming.bit_width
    if pa.types.is_timestamp(incoming) and pa.types.is_timestamp(existing):
        return (incoming.tz is None) == (existing.tz is None)
    return False


def reconcile(table_id: str, existing: pa.Schema | None, data: pa.Table) -> tuple[pa.Table, list[str]]:
    """Fit a batch to the table: widen safe types, add missing columns as nulls, refuse type changes."""
    data = to_plain(data)
    if existing is None:
        return data, []
    fields, arrays, added = [], [], []
    for f in existing:
        if f.name in data.column_names:
            column = data.column(f.name)
            if column.type != f.type:
                if not _widens(column.type, f.type):
                    raise SchemaMismatchError(table_id, f.name, str(f.type), str(column.type))
                column = column.cast(f.type)
            arrays.append(column)
        else:
            arrays.append(pa.nulls(data.num_rows, f.type))
        fields.append(pa.field(f.name, f.type, True))
    for f in data.schema:
        if f.name not in existing.names:
            fields.append(pa.field(f.name, f.type, True))
            arrays.append(data.column(f.name))
            added.append(f.name)
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields)), added


def _check_partitions(table_id: str, data: pa.Table, partitions: Sequence[str]) -> None:
    if PARTITION not in data.column_names:
        raise LakehouseError(f"table {table_id}: the batch has no '{PARTITION}' column")
    present = set(pc.unique(data.column(PARTITION)).to_pylist())
    stray = sorted(str(p) for p in present - set(partitions))
    if stray:
        raise PartitionMismatchError(
            f"table {table_id}: the batch holds rows for {stray}, outside the partitions being written "
            f"{sorted(partitions)}; a run may only replace the partitions it was asked for")


def _dt_as_string(data: pa.Table) -> pa.Table:
    """`dt` is a string everywhere; Spark hands a date column over as date32, which casts to YYYY-MM-DD."""
    i = data.schema.get_field_index(PARTITION)
    if i < 0 or pa.types.is_string(data.schema.field(i).type):
        return data
    return data.set_column(i, PARTITION, data.column(i).cast(pa.string()))


def _with_retries(fn, *args, attempts: int = 4, **kwargs):
    """Retry storage calls on transient errors. delta-rs can surface a throttled or dropped S3 request as a
    DeltaError ("no table metadata found"); an overwrite by predicate is idempotent and a Delta commit is
    atomic, so trying again is safe."""
    from deltalake.exceptions import DeltaError, TableNotFoundError

    for attempt in range(attempts):
        try:
            return fn(*args, **kwargs)
        except TableNotFoundError:
            raise
        except (OSError, DeltaError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.5 * 2**attempt)


def _in_list(partitions: Sequence[str]) -> str:
    return ", ".join("'" + p.replace("'", "''") + "'" for p in sorted(set(partitions)))


# --- the store -----------------------------------------------------------------------------------

class TableStore:
    """Arrow in, Arrow out; Spark DataFrames cross through Arrow in write_df/read_df."""

    def __init__(self, settings: Settings):
        self.settings = settings

    def uri(self, layer: str, name: str) -> str:
        return f"{self.settings.warehouse}/{layer}/{name}"

    # Delta ------------------------------------------------------------------------------------
    def _delta(self, uri: str):
        """The table, or None when there is none. Any other error (a 503, a timeout) propagates: taking a
        failed look-up for "no table" would turn a partition overwrite into a whole-table one."""
        from deltalake import DeltaTable
        from deltalake.exceptions import TableNotFoundError

        try:
            return _with_retries(DeltaTable, uri, storage_options=delta_storage_options(self.settings, uri))
        except TableNotFoundError:
            return None

    # Parquet ----------------------------------------------------------------------------------
    def _parquet_files(self, uri: str) -> dict[str, list[str]]:
        """{dt: [file paths]} of a Parquet table; names starting with _ or . are in-flight or metadata."""
        fs, root = filesystem_for(uri, self.settings)
        out: dict[str, list[str]] = {}
        try:
            infos = fs.get_file_info(pafs.FileSelector(root, recursive=True, allow_not_found=True))
        except FileNotFoundError:
            return {}
        for info in infos:
            parent = info.path.rsplit("/", 2)
            if info.type != pafs.FileType.File or len(parent) < 3 or not parent[-1].endswith(".parquet"):
                continue
            if parent[-1].startswith(("_", ".")) or not parent[-2].startswith(f"{PARTITION}="):
                continue
            out.setdefault(parent[-2].split("=", 1)[1], []).append(info.path)
        return out

    # public API -------------------------------------------------------------------------------
    def exists(self, uri: str, fmt: str) -> bool:
        return (self._delta(uri) is not None) if fmt == "delta" else bool(self._parquet_files(uri))

    def schema(self, uri: str, fmt: str) -> pa.Schema | None:
        if fmt == "delta":
            table = self._delta(uri)
            if table is None:
                return None
            return plain_schema(pa.schema(table.schema().to_arrow()))
        files = [f for paths in self._parquet_files(uri).values() for f in paths]
        if not files:
            return None
        fs, _ = filesystem_for(uri, self.settings)
        # Files written before a column was added lack it; permissive promotion also takes int32+int64.
        unified = pa.unify_schemas([pq.read_schema(f, filesystem=fs) for f in files], promote_options="permissive")
        if PARTITION in unified.names:  # a writer that also stored dt inside the files
            unified = unified.remove(unified.get_field_index(PARTITION))
        return plain_schema(unified.append(pa.field(PARTITION, pa.string())))

    def partitions(self, uri: str, fmt: str) -> list[str]:
        if fmt == "delta":
            table = self._delta(uri)  # from the log's add actions: no data file is opened
            return sorted({p[PARTITION] for p in table.partitions()}) if table is not None else []
        return sorted(self._parquet_files(uri))

    def version(self, uri: str, fmt: str) -> int | None:
        table = self._delta(uri) if fmt == "delta" else None
        return table.version() if table is not None else None

    def history(self, uri: str, fmt: str, limit: int = 20) -> list[dict]:
        table = self._delta(uri) if fmt == "delta" else None
        return table.history(limit) if table is not None else []

    def write(self, table_id: str, uri: str, fmt: str, data: pa.Table | pa.RecordBatchReader,
              partitions: Sequence[str]) -> WriteResult:
        """Replace exactly `partitions` with `data` (requested partitions without rows end up empty)."""
        if fmt not in ("delta", "parquet"):
            raise LakehouseError(f"table {table_id}: unknown format {fmt!r} (use delta or parquet)")
        if isinstance(data, pa.RecordBatchReader):
            data = data.read_all()
        partitions = sorted(set(partitions))
        if data.num_columns == 0:
            data = pa.table({PARTITION: pa.array([], pa.string())})
        data = _dt_as_string(data)
        _check_partitions(table_id, data, partitions)
        # Every check happens here, before the first byte is written.
        data, added = reconcile(table_id, self.schema(uri, fmt), data)
        if fmt == "delta":
            version = self._write_delta(uri, data, partitions)
        else:
            _with_retries(self._write_parquet, uri, data, partitions)
            version = None
        return WriteResult(uri, fmt, data.num_rows, list(partitions), version, data.schema, added)

    def _write_delta(self, uri: str, data: pa.Table, partitions: Sequence[str]) -> int:
        from deltalake import write_deltalake

        if partitions or self._delta(uri) is None:
            # One commit removes the files of the named days and adds the new ones; the predicate is there also
            # when the table is created, so no write can ever replace partitions it was not asked for.
            # schema_mode="merge" adds new columns in the same commit (deltalake 1.6 takes it with a predicate).
            _with_retries(write_deltalake, uri, data, mode="overwrite", partition_by=[PARTITION],
                          predicate=f"{PARTITION} in ({_in_list(partitions) or 'NULL'})", schema_mode="merge",
                          storage_options=delta_storage_options(self.settings, uri))
        return self._delta(uri).version()

    def _write_parquet(self, uri: str, data: pa.Table, partitions: Sequence[str]) -> None:
        """Not atomic (Parquet has no log): a reader may see a day empty while it is being rewritten."""
        fs, root = filesystem_for(uri, self.settings)
        if data.num_rows:
            ds.write_dataset(
                data, root, filesystem=fs, format="parquet",
                partitioning=ds.partitioning(pa.schema([(PARTITION, pa.string())]), flavor="hive"),
                file_options=ds.ParquetFileFormat().make_write_options(compression="snappy"),
                basename_template=f"part-{uuid.uuid4().hex}-{{i}}.parquet",  # never collides with older files
                existing_data_behavior="delete_matching",  # each written day loses its old files first
            )
        # delete_matching only touches days that received rows; a requested day with none must end up empty
        written = set(pc.unique(data.column(PARTITION)).to_pylist())
        for dt in set(partitions) - written:
            folder = f"{root}/{PARTITION}={dt}"
            if fs.get_file_info(folder).type == pafs.FileType.Directory:
                fs.delete_dir(folder)

    def read(self, uri: str, fmt: str, partitions: Sequence[str] | None = None,
             columns: Sequence[str] | None = None) -> pa.Table:
        """Rows of `partitions` (all when None) in one schema, `dt` included as a string column."""
        schema = self.schema(uri, fmt)
        if schema is None:
            return pa.table({PARTITION: pa.array([], pa.string())})
        cols = list(columns) if columns is not None else list(schema.names)
        unknown = [c for c in cols if c not in schema.names]
        if unknown:
            raise LakehouseError(f"table at {uri} has no column(s) {unknown}; it has {schema.names}")
        if PARTITION not in cols:
            cols.append(PARTITION)
        flt = pc.field(PARTITION).isin(sorted(set(partitions))) if partitions is not None else None
        if partitions is not None and not partitions:
            return schema.empty_table().select(cols)
        if fmt == "delta":
            pruning = [(PARTITION, "in", sorted(set(partitions)))] if partitions is not None else None
            # Files are read through pyarrow's own filesystem, not delta-rs's Python-bridged one: with the
            # latter, scanner threads still alive at interpreter exit abort the process (exit 134).
            fs, root = filesystem_for(uri, self.settings)
            dataset = self._delta(uri).to_pyarrow_dataset(
                file_pruning_predicate=pruning, filesystem=pafs.SubTreeFileSystem(root, fs))
            table = _with_retries(dataset.to_table, columns=cols, filter=flt)
        else:
            fs, root = filesystem_for(uri, self.settings)
            files = [f for dt, paths in self._parquet_files(uri).items()
                     if partitions is None or dt in partitions for f in paths]
            if not files:
                return schema.empty_table().select(cols)
            # The unified schema makes older files read missing columns as null and narrower types widened.
            dataset = ds.dataset(files, schema=schema, filesystem=fs, format="parquet", partition_base_dir=root,
                                 partitioning=ds.partitioning(pa.schema([(PARTITION, pa.string())]), flavor="hive"))
            table = _with_retries(dataset.to_table, columns=cols, filter=flt)
        return to_plain(table)

    def delete_partitions(self, uri: str, fmt: str, partitions: Sequence[str]) -> int:
        """Drop whole days (retention); returns how many of them were present."""
        present = [p for p in self.partitions(uri, fmt) if p in set(partitions)]
        if not present:
            return 0
        if fmt == "delta":
            self._delta(uri).delete(f"{PARTITION} in ({_in_list(present)})")
        else:
            fs, root = filesystem_for(uri, self.settings)
            for dt in present:
                fs.delete_dir(f"{root}/{PARTITION}={dt}")
        return len(present)

    def compact(self, uri: str, fmt: str) -> dict:
        if fmt == "delta":
            table = self._delta(uri)
            return table.optimize.compact() if table is not None else {}
        rewritten = 0
        for dt, files in self._parquet_files(uri).items():
            if len(files) > 1:
                self._write_parquet(uri, self.read(uri, fmt, [dt]), [dt])
                rewritten += 1
        return {"partitions_rewritten": rewritten}

    def vacuum(self, uri: str, fmt: str, retention_hours: int = 168) -> list[str]:
        """Delete files no Delta version within `retention_hours` needs (time travel stops there)."""
        table = self._delta(uri) if fmt == "delta" else None
        if table is None:
            return []
        # delta-rs refuses less than the table's 7-day default unless told the caller means it
        return table.vacuum(retention_hours=retention_hours, dry_run=False,
                            enforce_retention_duration=retention_hours >= 168)

    # Spark ------------------------------------------------------------------------------------
    def write_df(self, table_id: str, uri: str, fmt: str, df, partitions: Sequence[str]) -> WriteResult:
        from lakehouse.engine.arrow import to_arrow

        return self.write(table_id, uri, fmt, to_arrow(df), partitions)

    def read_df(self, spark, uri: str, fmt: str, partitions: Sequence[str] | None = None):
        """A DataFrame of the partitions; a table not written yet gives an empty frame (only `dt` if no schema)."""
        from lakehouse.engine.arrow import to_spark

        return to_spark(spark, self.read(uri, fmt, partitions))


class SparkNativeStore(TableStore):
    """Spark's own writer, for clusters that have the Delta Lake and S3A JARs on their classpath.

    Same interface as TableStore. Delta here needs the `delta-spark` JARs, which this project never downloads
    (and never calls configure_spark_with_delta_pip), so only the Parquet path of this class is tested; the Delta
    path (`replaceWhere` + `mergeSchema`) is untested here. Listing, schema and maintenance still go through
    delta-rs / pyarrow, which read the same files.
    """

    @staticmethod
    def _spark_path(uri: str) -> str:
        return "s3a://" + uri[len("s3://"):] if uri.startswith("s3://") else uri

    def write_df(self, table_id: str, uri: str, fmt: str, df, partitions: Sequence[str]) -> WriteResult:
        from pyspark.sql import functions as F

        if fmt not in ("delta", "parquet"):
            raise LakehouseError(f"table {table_id}: unknown format {fmt!r} (use delta or parquet)")
        partitions = sorted(set(partitions))
        df = df.withColumn(PARTITION, F.col(PARTITION).cast("string"))
        present = {r[0] for r in df.select(PARTITION).distinct().collect()}
        _check_partitions(table_id, pa.table({PARTITION: pa.array(sorted(present, key=str), pa.string())}), partitions)
        df, added = self._fit(table_id, uri, fmt, df)
        writer = df.write.format(fmt).mode("overwrite").partitionBy(PARTITION)
        if fmt == "delta":
            # replaceWhere also empties requested days the batch has no rows for
            writer = writer.option("replaceWhere", f"{PARTITION} in ({_in_list(partitions) or 'NULL'})")
            writer = writer.option("mergeSchema", "true")
        else:
            # dynamic overwrite replaces only the days present in df; requested days without rows are dropped here
            writer = writer.option("partitionOverwriteMode", "dynamic")
            self.delete_partitions(uri, fmt, [dt for dt in partitions if dt not in present])
        writer.save(self._spark_path(uri))
        schema = self.schema(uri, fmt) or pa.schema([])
        return WriteResult(uri, fmt, df.count(), partitions, self.version(uri, fmt), schema, added)

    def _fit(self, table_id: str, uri: str, fmt: str, df):
        """Refuse incompatible type changes before writing and cast safe widenings to the table's types."""
        from pyspark.sql import functions as F
        from pyspark.sql.pandas.types import from_arrow_type

        from lakehouse.engine.arrow import to_arrow

        existing = self.schema(uri, fmt)
        incoming = plain_schema(to_arrow(df.limit(0)).schema)
        fitted, added = reconcile(table_id, existing, incoming.empty_table())
        for f in fitted.schema:
            if f.name in incoming.names and incoming.field(f.name).type != f.type:
                df = df.withColumn(f.name, F.col(f.name).cast(from_arrow_type(f.type)))
        return df, added

    def read_df(self, spark, uri: str, fmt: str, partitions: Sequence[str] | None = None):
        if not self.exists(uri, fmt):
            return super().read_df(spark, uri, fmt, partitions)  # the empty frame TableStore gives
        reader = spark.read.format(fmt)
        if fmt == "parquet":
            reader = reader.option("mergeSchema", "true")  # days written before a column was added lack it
        df = reader.load(self._spark_path(uri))
        df = df.withColumn(PARTITION, df[PARTITION].cast("string"))  # Spark infers dt=2024-06-01 as a date
        return df.where(df[PARTITION].isin(list(partitions))) if partitions is not None else df


def store_for(settings: Settings) -> TableStore:
    """TableStore (Arrow, delta-rs) unless LAKEHOUSE_STORE=spark-native asks for Spark's own writers."""
    if os.environ.get("LAKEHOUSE_STORE", "").lower() == "spark-native":
        return SparkNativeStore(settings)
    return TableStore(settings)
