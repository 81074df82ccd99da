"""The Arrow writer (`LAKEHOUSE_STORE=delta-rs`): rows cross the driver as Arrow and are written by delta-rs
(Delta, one atomic commit per write) or pyarrow (Parquet, not atomic: Parquet has no log). Kept for comparison
and for single-machine use without the Spark JARs; the ops tables' small appends always go this way."""
from __future__ import annotations

import uuid
from typing import Sequence

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs

from lakehouse.engine.jars import CHECKPOINT_INTERVAL
from lakehouse.errors import LakehouseError
from lakehouse.storage.filesystem import delta_storage_options, filesystem_for
from lakehouse.storage.schemas import PARTITION, delta_schema, dt_as_string, reconcile, to_plain
from lakehouse.storage.table_metadata import TableMetadata
from lakehouse.storage.writes import WriteResult, check_partitions, in_list, with_retries


class ArrowStore(TableMetadata):
    """Writes through delta-rs / pyarrow (Arrow in, Arrow out; Spark DataFrames cross the driver through Arrow
    in write_df/read_df); reads and metadata as TableMetadata."""

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
        data = dt_as_string(data)
        check_partitions(table_id, data, partitions)
        # Every check happens here, before the first byte is written.
        data, added = reconcile(table_id, self.schema(uri, fmt), data)
        if fmt == "delta":
            version = self._write_delta(uri, data, partitions)
        else:
            with_retries(self._write_parquet, uri, data, partitions)
            version = None
        return WriteResult(uri, fmt, data.num_rows, list(partitions), version, data.schema, added)

    def _write_delta(self, uri: str, data: pa.Table, partitions: Sequence[str]) -> int:
        table = self._delta(uri)
        if partitions or table is None:
            # One commit removes the files of the named days and adds the new ones; the predicate is there also
            # when the table is created, so no write can ever replace partitions it was not asked for.
            # schema_mode="merge" adds new columns in the same commit (deltalake 1.6 takes it with a predicate).
            table = self._commit(uri, table, data, mode="overwrite", partition_by=[PARTITION],
                                 predicate=f"{PARTITION} in ({in_list(partitions) or 'NULL'})", schema_mode="merge")
        return table.version()

    def _commit(self, uri: str, table, data: pa.Table, **options):
        """One delta-rs commit on the table already opened (or creating it, when `table` is None); the table
        at its new version, read again only when this commit created it."""
        from deltalake import write_deltalake

        with_retries(write_deltalake, uri if table is None else table, data, configuration=CHECKPOINT_INTERVAL,
                     storage_options=delta_storage_options(self.settings, uri), **options)
        return self._delta(uri) if table is None else table

    def _write_parquet(self, uri: str, data: pa.Table, partitions: Sequence[str]) -> None:
        """Not atomic (Parquet has no log): a reader may see a day empty while it is being rewritten."""
        import pyarrow.dataset as ds  # here, not at the top: ~1 s of imports (pandas) a Spark run never needs

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

    def append(self, table_id: str, uri: str, data: pa.Table, partition_by: str) -> WriteResult:
        """A blind append of rows already on the driver (a few, like the ops tables' metrics) to a Delta table
        partitioned by `partition_by`, created on first use: always through delta-rs, whichever store runs
        write with. Appends never conflict with each other."""
        table = self._delta(uri)
        if table is not None and CHECKPOINT_INTERVAL.keys() - table.metadata().configuration.keys():
            table.alter.set_table_properties(CHECKPOINT_INTERVAL)  # a table made before the interval was set
        table = self._commit(uri, table, to_plain(data), mode="append", partition_by=[partition_by])
        return WriteResult(uri, "delta", data.num_rows, [], table.version(), delta_schema(table))

    def delete_partitions(self, uri: str, fmt: str, partitions: Sequence[str]) -> int:
        """Drop whole days (retention); returns how many of them were present."""
        present = [p for p in self.partitions(uri, fmt) if p in set(partitions)]
        if not present:
            return 0
        if fmt == "delta":
            self._delta(uri).delete(f"{PARTITION} in ({in_list(present)})")
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
