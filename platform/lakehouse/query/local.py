"""The local engine: DuckDB over the referenced tables only, each a lazy Arrow dataset, in a worker process.

A table is registered as a pyarrow dataset (from the Delta log, or a hive-partitioned Parquet folder), so
DuckDB pushes `dt` filters and column selection into the scan and reads only the files it needs. After
registering, DuckDB loses file and network access and its configuration is locked: even a statement that got
past the guard could not read a file, attach a database or install an extension. The view a query reads
masks the PII columns its reader may not see, and the stored table sits under a random name nobody can guess.

The caller's process checks the query and writes a LocalJob (plain data: the SQL, each table's location and
masked columns); a worker process of lakehouse.query.pool runs it (`run_job`) under a memory cap and a hard
kill, and sends the rows back as Arrow.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Iterable

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from lakehouse.config import Settings
from lakehouse.errors import LakehouseError
from lakehouse.query.guard import READ_DIALECT, CheckedQuery
from lakehouse.query.limits import QueryLimits, apply, deadline, explain
from lakehouse.query.result import QueryResult, take
from lakehouse.query.rewrite import rewrite_tables, with_limit
from lakehouse.query.scopes import MASK
from lakehouse.storage.filesystem import delta_storage_options, filesystem_for
from lakehouse.storage.schemas import PARTITION
from lakehouse.storage.table_metadata import TableMetadata

BATCH_ROWS = 10_000


class LocalQueryError(LakehouseError):
    """DuckDB could not run the query (bad column, type error, unreadable file, ...)."""


@dataclass(frozen=True)
class ScanTable:
    """One table a query reads, as the worker needs it: where it is and what its reader sees masked."""

    id: str
    layer: str
    name: str
    uri: str
    format: str
    masked: tuple[str, ...] = ()


@dataclass(frozen=True)
class LocalJob:
    """Everything a worker needs to run one checked query (picklable: no parse tree, no registry objects)."""

    sql: str
    tables: tuple[ScanTable, ...]
    settings: Settings
    limit: int
    limits: QueryLimits
    max_bytes: int | None = None


def scan_tables(checked: CheckedQuery, settings: Settings) -> tuple[ScanTable, ...]:
    return tuple(ScanTable(t.id, t.layer, t.name, t.uri(settings), t.format, checked.masked(t))
                 for t in checked.tables)


def dataset_of(table: ScanTable, settings: Settings) -> ds.Dataset:
    """A lazy dataset over the table's current files; nothing is read until a scan asks for it."""
    uri = table.uri
    if table.format == "delta":
        from deltalake import DeltaTable
        from deltalake.exceptions import TableNotFoundError

        try:  # the same storage options (moto endpoint, credentials) the table store writes with
            delta = DeltaTable(uri, storage_options=delta_storage_options(settings, uri))
        except TableNotFoundError:
            raise LakehouseError(f"table {table.id} has no data yet (nothing materialized)") from None
        fs, root = filesystem_for(uri, settings)  # pyarrow's own filesystem: see TableMetadata.read
        return delta.to_pyarrow_dataset(filesystem=pafs.SubTreeFileSystem(root, fs))
    schema = TableMetadata(settings).schema(uri, "parquet")  # unified over all files: older files lack newer columns
    if schema is None:
        raise LakehouseError(f"table {table.id} has no data yet (no Parquet files)")
    fs, root = filesystem_for(uri, settings)
    return ds.dataset(root, schema=schema, filesystem=fs, format="parquet",
                      partitioning=ds.partitioning(pa.schema([(PARTITION, pa.string())]), flavor="hive"))


def _lock_down(con) -> None:
    for statement in ("SET autoinstall_known_extensions = false", "SET autoload_known_extensions = false",
                      "SET enable_external_access = false", "SET lock_configuration = true"):
        con.execute(statement)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _view_sql(hidden: str, columns: list[str], masked: tuple[str, ...]) -> str:
    """SELECT * from the stored table, with each masked column *** where it holds a value."""
    hide = [c for c in columns if c in masked]
    if not hide:
        return f"SELECT * FROM {_quote(hidden)}"
    replaced = ", ".join(f"CASE WHEN {_quote(c)} IS NULL THEN NULL ELSE '{MASK}' END AS {_quote(c)}" for c in hide)
    return f"SELECT * REPLACE ({replaced}) FROM {_quote(hidden)}"


def connect(tables: Iterable[ScanTable], settings: Settings, limits: QueryLimits | None = None):
    """A locked-down in-memory DuckDB where each table is the view <layer>.<name>."""
    import duckdb

    con = duckdb.connect(":memory:")
    try:
        con.execute("SET python_enable_replacements = false")  # no scans of the caller's Python variables
        for table in tables:
            hidden = f"__lh_{uuid.uuid4().hex}"  # the guard refuses unqualified names; this one cannot be guessed
            dataset = dataset_of(table, settings)
            con.register(hidden, dataset)
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote(table.layer)}")
            con.execute(f"CREATE VIEW {_quote(table.layer)}.{_quote(table.name)} AS "
                        + _view_sql(hidden, dataset.schema.names, table.masked))
        apply(con, limits or QueryLimits.of(settings))
        _lock_down(con)
    except BaseException:
        con.close()
        raise
    return con


def local_sql(checked: CheckedQuery, limit: int) -> str:
    """The query for DuckDB: Glue names become layer.table, and an outer LIMIT of limit + 1 (to see a cut)."""
    tree = rewrite_tables(checked, lambda table: (table.layer, table.name))
    return with_limit(tree, limit + 1).sql(dialect=READ_DIALECT)


def run_job(job: LocalJob) -> tuple[pa.Table, bool]:
    """Run one job here (in a worker): the rows within the limit, and whether more existed."""
    import duckdb
    from deltalake.exceptions import DeltaError

    con = None
    try:
        con = connect(job.tables, job.settings, job.limits)
        with deadline(con, job.limits) as interrupted:
            try:
                reader = con.sql(job.sql).to_arrow_reader(BATCH_ROWS)  # streams: stops after limit + 1 rows
                return take(reader, reader.schema, job.limit, job.max_bytes)
            except (duckdb.Error, pa.ArrowException, OSError, MemoryError) as exc:  # Arrow passes DuckDB's on
                limit_error = explain(exc, job.limits, interrupted.is_set())
                if limit_error is not None:
                    raise limit_error from None
                raise
    except (duckdb.Error, pa.ArrowException, DeltaError, OSError) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LocalQueryError(f"query failed in DuckDB: {message}") from None
    finally:
        if con is not None:
            con.close()


def run_local(checked: CheckedQuery, settings: Settings, limit: int, limits: QueryLimits | None = None,
              max_bytes: int | None = None, pool=None) -> QueryResult:
    """Run the checked query in a worker of `pool` (default: this process's shared pool)."""
    from lakehouse.query.pool import shared_pool

    sql = local_sql(checked, limit)
    job = LocalJob(sql, scan_tables(checked, settings), settings, limit, limits or QueryLimits.of(settings),
                   max_bytes)
    done = (pool or shared_pool()).run(job)
    return QueryResult(done.table, done.truncated, limit, "local", sql, peak_memory_mb=done.peak_memory_mb)
