"""Tables partitioned by `dt`: Delta through delta-rs (default) or Parquet through pyarrow.

A write replaces exactly the partitions it names: Delta in one atomic commit (an overwrite with a `dt`
predicate), Parquet partition by partition (not atomic; Parquet has no log). New columns are added to the
table; a changed column type is refused before anything is written.
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


def _widens(incoming: pa.DataType, existing: pa.DataType) -> bool:
    """May values of `incoming` be stored in an `existing` column without loss?"""
    if incoming == existing or pa.types.is_null(incoming):
        return True
    if pa.types.is_integer(incoming) and pa.types.is_integer(existing):
        return existing.bit_width >= incoming.bit_width and (
            pa.types.is_signed_integer(existing) or pa.types.is_unsigned_integer(incoming))
    if pa.types.is_floating(incoming) and pa.types.is_floating(existing):
        return existing.bit_width >= incoming.bit_width
    if pa.types.is_timestamp(incoming) and pa.types.is_timestamp(existing):
        return (incoming.tz is None) == (existing.tz is None)
    return False


def reconcile(table_id: str, existing: pa.Schema | None, data: pa.Table) -> tuple[pa.Table, list[str]]:
    """Fit a batch to the table: widen safe types, add missing columns as nulls, refuse type changes."""
    data = data.cast(plain_schema(data.schema))
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
        raise LakehouseError(
            f"table {table_id}: the batch holds rows for {stray}, outside the partitions being written "
            f"{sorted(partitions)}; a run may only replace the partitions it was asked for")


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
            return _with_retries(DeltaTable, uri, storage_options=delta_storage_options(uri, self.settings))
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
        unified = pa.unify_schemas([pq.read_schema(f, filesystem=fs) for f in files], promote_options="permissive")
        return plain_schema(unified.append(pa.field(PARTITION, pa.string())))

    def partitions(self, uri: str, fmt: str) -> list[str]:
        if fmt == "delta":
            table = self._delta(uri)
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
        if isinstance(data, pa.RecordBatchReader):
            data = data.read_all()
        partitions = sorted(set(partitions))
        _check_partitions(table_id, data, partitions) if data.num_columns else None
        if data.num_columns == 0:
            data = pa.table({PARTITION: pa.array([], pa.string())})
        data, added = reconcile(table_id, self.schema(uri, fmt), data)
        if fmt == "delta":
            version = self._write_delta(uri, data, partitions, bool(added))
        elif fmt == "parquet":
            _with_retries(self._write_parquet, uri, data, partitions)
            version = None
        else:
            raise LakehouseError(f"table {table_id}: unknown format {fmt!r} (use delta or parquet)")
        return WriteResult(uri, fmt, data.num_rows, list(partitions), version, data.schema, added)

    def _write_delta(self, uri: str, data: pa.Table, partitions: Sequence[str], grows: bool) -> int:
        from deltalake import write_deltalake

        options = delta_storage_options(uri, self.settings)
        # Always with the predicate, also when creating the table: no write can replace other partitions.
        if partitions or self._delta(uri) is None:
            _with_retries(write_deltalake, uri, data, mode="overwrite", partition_by=[PARTITION], storage_options=options,
                            predicate=f"{PARTITION} in ({_in_list(partitions) or 'NULL'})",
                            schema_mode="merge" if grows else None)
        return self._delta(uri).version()

    def _write_parquet(self, uri: str, data: pa.Table, partitions: Sequence[str]) -> None:
        fs, root = filesystem_for(uri, self.settings)
        old = self._parquet_files(uri)
        for dt in partitions:
            part = data.filter(pc.equal(data.column(PARTITION), dt)).drop_columns([PARTITION])
            folder = f"{root}/{PARTITION}={dt}"
            fs.create_dir(folder, recursive=True)
            name = f"part-{uuid.uuid4().hex}.parquet"
            if part.num_rows:
                # written under a hidden name first so readers never see half a file
                pq.write_table(part, f"{folder}/_{name}", filesystem=fs, compression="snappy")
            for path in old.get(dt, []):
                fs.delete_file(path)
            if part.num_rows:
                fs.move(f"{folder}/_{name}", f"{folder}/{name}")

    def read(self, uri: str, fmt: str, partitions: Sequence[str] | None = None,
             columns: Sequence[str] | None = None) -> pa.Table:
        schema = self.schema(uri, fmt)
        if schema is None:
            return pa.table({PARTITION: pa.array([], pa.string())})
        cols = list(columns) if columns is not None else schema.names
        if fmt == "delta":
            dataset = self._delta(uri).to_pyarrow_dataset()
            flt = pc.field(PARTITION).isin(list(partitions)) if partitions is not None else None
            table = _with_retries(dataset.to_table, columns=cols, filter=flt)
        else:
            files = self._parquet_files(uri)
            fs, _ = filesystem_for(uri, self.settings)
            pieces = []
            for dt in sorted(files):
                if partitions is not None and dt not in partitions:
                    continue
                part = ds.dataset(files[dt], filesystem=fs, format="parquet").to_table()
                pieces.append(part.append_column(PARTITION, pa.array([dt] * part.num_rows, pa.string())))
            table = pa.concat_tables(pieces, promote_options="permissive") if pieces else schema.empty_table()
            table, _ = reconcile(uri, None, table)
            missing = [c for c in cols if c not in table.column_names]
            for c in missing:
                table = table.append_column(schema.field(c), pa.nulls(table.num_rows, schema.field(c).type))
            table = table.select(cols)
        return table.cast(plain_schema(table.schema))

    def delete_partitions(self, uri: str, fmt: str, partitions: Sequence[str]) -> int:
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
        table = self._delta(uri) if fmt == "delta" else None
        if table is None:
            return []
        return table.vacuum(retention_hours=retention_hours, dry_run=False,
                            enforce_retention_duration=retention_hours >= 168)

    # Spark ------------------------------------------------------------------------------------
    def write_df(self, table_id: str, uri: str, fmt: str, df, partitions: Sequence[str]) -> WriteResult:
        from lakehouse.engine.arrow import to_arrow

        return self.write(table_id, uri, fmt, to_arrow(df), partitions)

    def read_df(self, spark, uri: str, fmt: str, partitions: Sequence[str] | None = None):
        from lakehouse.engine.arrow import to_spark

        if not self.exists(uri, fmt):
            raise LakehouseError(f"table at {uri} does not exist yet: materialize it first")
        return to_spark(spark, self.read(uri, fmt, partitions))


class SparkNativeStore(TableStore):
    """Spark's own writer, for clusters that have the Delta Lake and S3A JARs on their classpath.

    Same interface; Delta here needs `delta-spark` JARs from Maven, which this project's machines cannot
    reach, so only the Parquet path of this class is exercised by the tests. Listing, schema and
    maintenance still go through delta-rs / pyarrow, which read the same files.
    """

    @staticmethod
    def _spark_path(uri: str) -> str:
        return "s3a://" + uri[len("s3://"):] if uri.startswith("s3://") else uri

    def write_df(self, table_id: str, uri: str, fmt: str, df, partitions: Sequence[str]) -> WriteResult:
        writer = df.write.format(fmt).mode("overwrite").partitionBy(PARTITION)
        if fmt == "delta":
            writer = writer.option("replaceWhere", f"{PARTITION} in ({_in_list(partitions)})")
            writer = writer.option("mergeSchema", "true")
        else:
            writer = writer.option("partitionOverwriteMode", "dynamic")
            for dt in set(partitions) - {r[0] for r in df.select(PARTITION).distinct().collect()}:
                self.delete_partitions(uri, fmt, [dt])  # dynamic overwrite leaves partitions with no rows
        writer.save(self._spark_path(uri))
        schema = self.schema(uri, fmt) or pa.schema([])
        rows = df.count()
        return WriteResult(uri, fmt, rows, sorted(partitions), self.version(uri, fmt), schema)

    def read_df(self, spark, uri: str, fmt: str, partitions: Sequence[str] | None = None):
        df = spark.read.format(fmt).load(self._spark_path(uri))
        df = df.withColumn(PARTITION, df[PARTITION].cast("string"))  # Spark infers dt=2024-06-01 as a date
        return df.where(df[PARTITION].isin(list(partitions))) if partitions is not None else df


def store_for(settings: Settings) -> TableStore:
    if os.environ.get("LAKEHOUSE_STORE", "").lower() == "spark-native":
        return SparkNativeStore(settings)
    return TableStore(settings)
