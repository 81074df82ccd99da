"""Table metadata and Arrow reads through delta-rs and pyarrow: no JVM, no write."""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator, Sequence

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from lakehouse.config import Settings
from lakehouse.errors import LakehouseError
from lakehouse.secrets import settings_digest
from lakehouse.storage.filesystem import delta_storage_options, filesystem_for
from lakehouse.storage.locations import table_uri
from lakehouse.storage.schemas import PARTITION, delta_schema, plain_schema, to_plain
from lakehouse.storage.writes import with_retries


_THIS_THREAD = threading.local()  # .tables: {(uri, digest of its storage options): DeltaTable} in reusing_tables()


@contextmanager
def reusing_tables() -> Iterator[None]:
    """For the block, on this thread: a Delta table opened once is brought up to date when asked for again (one
    listing of its log, reading only newer commits) instead of opened anew (its last checkpoint and every later
    commit read again). A run's step asks for the same few tables a dozen times (its own, its quarantine, its
    upstreams, the metrics table); on S3 each open is several requests. Other threads (a query service, the
    step's side thread) never see these objects: one table object updated under a reader would mix versions."""
    outer = getattr(_THIS_THREAD, "tables", None)
    _THIS_THREAD.tables = {} if outer is None else outer
    try:
        yield
    finally:
        _THIS_THREAD.tables = outer


class TableMetadata:
    """What a table holds, read without a JVM: schema, days, Delta versions and history from the Delta log
    (delta-rs) or the Parquet folders (pyarrow), and Arrow reads of its rows. The query layer reads tables
    through this alone; the stores (arrow_store.py, spark_store.py) write and build on it."""

    def __init__(self, settings: Settings):
        self.settings = settings

    def uri(self, layer: str, name: str) -> str:
        return table_uri(self.settings.warehouse, layer, name)

    # Delta ------------------------------------------------------------------------------------
    def _delta(self, uri: str):
        """The table, or None when there is none. Any other error (a 503, a timeout) propagates: taking a
        failed look-up for "no table" would turn a partition overwrite into a whole-table one."""
        from deltalake import DeltaTable
        from deltalake.exceptions import TableNotFoundError

        options = delta_storage_options(self.settings, uri)
        reused = getattr(_THIS_THREAD, "tables", None)
        key = (uri, settings_digest(options)) if reused is not None else None
        if reused is not None and key in reused:
            with_retries(reused[key].update_incremental)
            return reused[key]
        try:
            table = with_retries(DeltaTable, uri, storage_options=options)
        except TableNotFoundError:
            return None  # not kept: a table created later in the block is found then
        if reused is not None:
            reused[key] = table
        return table

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
            return delta_schema(table)
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
        """The table's days; none for a table partitioned otherwise (the ops tables, by table name)."""
        if fmt == "delta":
            table = self._delta(uri)  # from the log's add actions: no data file is opened
            return sorted({p[PARTITION] for p in table.partitions() if PARTITION in p}) if table is not None else []
        return sorted(self._parquet_files(uri))

    def version(self, uri: str, fmt: str) -> int | None:
        table = self._delta(uri) if fmt == "delta" else None
        return table.version() if table is not None else None

    def history(self, uri: str, fmt: str, limit: int = 20) -> list[dict]:
        table = self._delta(uri) if fmt == "delta" else None
        return table.history(limit) if table is not None else []


    def read(self, uri: str, fmt: str, partitions: Sequence[str] | None = None,
             columns: Sequence[str] | None = None) -> pa.Table:
        """Rows of `partitions` (all when None) in one schema, `dt` included as a string column."""
        import pyarrow.dataset as ds

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
            table = with_retries(dataset.to_table, columns=cols, filter=flt)
        else:
            fs, root = filesystem_for(uri, self.settings)
            files = [f for dt, paths in self._parquet_files(uri).items()
                     if partitions is None or dt in partitions for f in paths]
            if not files:
                return schema.empty_table().select(cols)
            # The unified schema makes older files read missing columns as null and narrower types widened.
            dataset = ds.dataset(files, schema=schema, filesystem=fs, format="parquet", partition_base_dir=root,
                                 partitioning=ds.partitioning(pa.schema([(PARTITION, pa.string())]), flavor="hive"))
            table = with_retries(dataset.to_table, columns=cols, filter=flt)
        return to_plain(table)

    def read_partition(self, uri: str, column: str, value: str, where=None) -> pa.Table | None:
        """Rows of a Delta table's partition `column`=`value` (no other partition's file is opened), filtered
        by the pyarrow expression `where`; None when there is no table (one read of the log either way)."""
        table = self._delta(uri)
        if table is None:
            return None
        fs, root = filesystem_for(uri, self.settings)
        dataset = table.to_pyarrow_dataset(file_pruning_predicate=[(column, "=", value)],
                                           filesystem=pafs.SubTreeFileSystem(root, fs))
        return to_plain(with_retries(dataset.to_table, filter=where))

