"""A day of a database source, exported over the PostgreSQL wire protocol (PostgreSQL, Amazon Redshift).

How a day is exported (`export_day`; which rows belong to a day: lakehouse.ingest.database):

- one connection, one REPEATABLE READ (or SERIALIZABLE) READ ONLY transaction: the `count(*)` of the day's
  rows and the rows themselves are read from the same snapshot, so the count check (`source_count == rows
  written`) is exact even while the application keeps writing;
- the rows are streamed through a server-side (named) cursor, `fetchmany(batch_rows)` at a time; each
  batch becomes an Arrow record batch and is appended at once to the day's staging Parquet file
  (lakehouse.ingest.staging) as one row group. Python never holds more than one batch of rows, and the day
  is not kept in memory at all: Spark reads the staged files and publishes the days in one commit;
- values are exported as text, exactly as the server prints them (timestamps as ISO 8601 in UTC), like
  every bronze table here: typing and conforming is silver's job;
- transient errors (connection refused or dropped, the backend terminated by an administrator, a
  serialization failure, too many connections) restart the day's export from scratch on a new connection
  and a new snapshot, `retries` times with exponential backoff; the failed attempt's staging file is deleted.
  Permanent errors (a malformed DSN, authentication failure, unknown database, missing table or column,
  no privilege) raise `SourceError` at once, naming the table and the host -- never the password.

Why a cursor and not Spark's JDBC reader: JDBC reads partitions on several connections, which only agree
on one snapshot through `pg_export_snapshot()` / `SET TRANSACTION SNAPSHOT`; Redshift has no exported
snapshots, so the count check would not be exact there. One cursor in one transaction works on both.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from datetime import time as dtime
from typing import Callable, Sequence

import pyarrow as pa

from lakehouse.errors import LakehouseError
from lakehouse.ingest.database import DatabaseSource
from lakehouse.ingest.staging import Staging
from lakehouse.secrets import DsnError, check_dsn, mask_dsn
from lakehouse.secrets import scrub as scrub_secrets

log = logging.getLogger(__name__)

MODES = ("incremental", "full")
APPLICATION_NAME = "lakehouse-export"
CONNECT_TIMEOUT = 10


class SourceError(LakehouseError):
    """A permanent problem with the source (DSN, credentials, database, table, column, privilege)."""


class SourceUnavailable(Exception):
    """The source stayed unreachable through every retry. Not a LakehouseError: the step's own retry
    policy may try again later."""


@dataclass
class ExportResult:
    """One day of one table: where its rows were staged, what the source counted for the day in the same
    snapshot (None when the source's count check is off), and how."""

    files: list[str]  # staging Parquet files (URIs), in order
    rows_written: int
    source_count: int | None
    batches: int
    attempts: int
    source: str
    mode: str
    window: str
    schema: pa.Schema = field(repr=False, default=None)

    @property
    def count_matches(self) -> bool:
        return self.source_count is None or self.source_count == self.rows_written

    def read_table(self) -> pa.Table:
        """The staged rows as one Arrow table (for scripts and tests; runs read them with Spark)."""
        import pyarrow.dataset as ds

        from lakehouse.storage.filesystem import spark_path

        return ds.dataset([spark_path(f) for f in self.files], format="parquet", schema=self.schema).to_table()


@dataclass(frozen=True)
class BatchEvent:
    table: str
    dt: str
    attempt: int
    batch: int
    rows: int
    backend_pid: int


# Called after every fetched batch (progress reporting; tests use it to break a connection mid-export).
BATCH_LISTENERS: list[Callable[[BatchEvent], None]] = []


# --- the DSN, never shown with its password -------------------------------------------------------------
def describe_dsn(dsn: str) -> str:
    """postgresql://user@host:port/dbname, without the password (the masked DSN if it does not parse)."""
    try:
        parts = check_dsn(dsn)
    except DsnError:  # a malformed DSN is reported elsewhere; this only names where the export goes
        return mask_dsn(dsn) or "<no DSN>"
    user = f"{parts['user']}@" if parts.get("user") else ""
    host = parts.get("host") or parts.get("hostaddr") or "localhost"
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"postgresql://{user}{host}{port}/{parts.get('dbname') or ''}"


def scrub(text: str, dsn: str | None) -> str:
    """Remove the DSN's password from a message (psycopg may quote parts of a DSN), in every spelling."""
    return scrub_secrets(text, dsn=dsn)


# --- transient or permanent -----------------------------------------------------------------------------
_TRANSIENT_STATES = {"57P01", "57P02", "57P03", "40001", "40P01", "53300", "55P03"}
_PERMANENT_TEXT = ("password authentication failed", "authentication failed", "does not exist",
                   "no pg_hba.conf entry", "could not translate host name", "not permitted to log in",
                   "invalid connection option", "invalid dsn", "permission denied", "invalid port")


def is_transient(exc: BaseException) -> bool:
    import psycopg

    state = getattr(exc, "sqlstate", None)
    if state:
        return state.startswith("08") or state in _TRANSIENT_STATES
    if isinstance(exc, psycopg.OperationalError) or isinstance(exc, psycopg.InterfaceError):
        text = str(exc).lower()
        return not any(p in text for p in _PERMANENT_TEXT)
    return False


def _explain(exc: BaseException, source: DatabaseSource) -> str:
    import psycopg

    state = getattr(exc, "sqlstate", None)
    if isinstance(exc, psycopg.errors.UndefinedTable):
        return "the table does not exist (or is not visible to this user)"
    if isinstance(exc, psycopg.errors.UndefinedColumn):
        return "a column the export reads is missing in the source table"
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return "the user may not read the table"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, psycopg.ProgrammingError) and not state:
        return f"malformed DSN ({source.dsn_variable}): " + text
    return text


# --- the export -----------------------------------------------------------------------------------------
def _day_params(source: DatabaseSource, dt: str) -> dict:
    day = date.fromisoformat(dt)
    if source.day_type == "date":
        return {"start": day, "end": day + timedelta(days=1)}
    start = datetime.combine(day, dtime(0), tzinfo=timezone.utc)
    return {"start": start, "end": start + timedelta(days=1)}


def _where(source: DatabaseSource, mode: str):
    from psycopg import sql

    if mode == "full":
        return sql.SQL("true")
    day = sql.Identifier(source.day_column)
    if source.window == "created":
        return sql.SQL("{day} >= %(start)s and {day} < %(end)s").format(day=day)
    if source.window == "updated":
        stamp = sql.SQL("coalesce({}, {})").format(sql.Identifier(source.updated_column), day)
        return sql.SQL("{t} >= %(start)s and {t} < %(end)s").format(t=stamp)
    if source.window == "snapshot":
        return sql.SQL("{day} < %(end)s").format(day=day)
    raise LakehouseError(f"{source.qualified}: unknown export window {source.window!r}")


def _from(source: DatabaseSource):
    from psycopg import sql

    if source.query is not None:
        return sql.SQL("({}) as src").format(sql.SQL(source.query))
    return sql.Identifier(source.schema, source.name)


def _select_list(source: DatabaseSource):
    from psycopg import sql

    items = []
    for name, kind in source.columns:
        col = sql.Identifier(name)
        if kind == "timestamp":  # ISO 8601 in UTC whatever the session's time zone
            expr = sql.SQL("to_char({} at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')").format(col)
        else:
            expr = sql.SQL("{}::text").format(col)
        items.append(sql.SQL("{} as {}").format(expr, col))
    return sql.SQL(", ").join(items)


def _to_batch(rows: Sequence[tuple], schema: pa.Schema, offset: int, source: str, ingested_at: datetime,
              dt: str) -> pa.RecordBatch:
    n = len(rows)
    columns = list(zip(*rows))
    arrays = [pa.array(col, pa.string()) for col in columns]
    arrays += [
        pa.array([source] * n, pa.string()),
        pa.array(range(offset + 1, offset + n + 1), pa.int64()),
        pa.array([ingested_at] * n, pa.timestamp("us", tz="UTC")),
        pa.array([dt] * n, pa.string()),
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _export_once(dsn: str, source: DatabaseSource, dt: str, mode: str, batch_rows: int, ingested_at: datetime,
                 attempt: int, path: str, staging: Staging) -> tuple[int, int, int | None]:
    """One attempt: (rows in the staged file `path`, batches, the source's count or None)."""
    import psycopg
    from psycopg import sql

    params = _day_params(source, dt)
    where, table = _where(source, mode), _from(source)
    order = sql.SQL(", ").join([sql.Identifier(k) for k in source.key]
                               + ([sql.SQL(source.tiebreak)] if source.tiebreak else []))
    schema, where_src = source.arrow_schema(), describe_dsn(dsn) + "/" + source.qualified
    conn = psycopg.connect(dsn, connect_timeout=CONNECT_TIMEOUT, application_name=APPLICATION_NAME)
    try:
        conn.isolation_level = (psycopg.IsolationLevel.SERIALIZABLE if source.isolation == "serializable"
                                else psycopg.IsolationLevel.REPEATABLE_READ)
        conn.read_only = True
        # the first statement takes the transaction's snapshot: the count and the rows below share it
        count = None
        if source.count_check:
            count = conn.execute(sql.SQL("select count(*) from {} where {}").format(table, where), params).fetchone()[0]
        fetched = batches = 0
        with staging.writer(path, schema) as out, conn.cursor(name=f"lakehouse_export_{source.name}") as cur:
            cur.itersize = batch_rows  # server-side cursor: the server keeps the rest of the day
            cur.execute(sql.SQL("select {} from {} where {} order by {}").format(
                _select_list(source), table, where, order), params)
            while True:
                rows = cur.fetchmany(batch_rows)
                if not rows:
                    break
                batch = _to_batch(rows, schema, fetched, where_src, ingested_at, dt)
                out.write_batch(batch)
                fetched += len(rows)
                batches += 1
                event = BatchEvent(source.qualified, dt, attempt, batches, len(rows), conn.info.backend_pid)
                for listener in list(BATCH_LISTENERS):
                    listener(event)
        conn.rollback()  # read only: nothing to keep
        # "written" is what the staged file holds, read back from its footer, not what was fetched
        return staging.rows_in(path), batches, count
    finally:
        conn.close()


def export_day(dsn: str | None, source: DatabaseSource, dt: str, *, staging: Staging | None = None,
               mode: str = "incremental", batch_rows: int = 10_000, ingested_at: datetime | None = None,
               retries: int = 3, retry_delay: float = 1.0) -> ExportResult:
    """Export the rows of `source` that belong to day `dt` into one staging Parquet file; retried on
    transient errors. Without `staging`, the file goes to a private temporary folder (removed if the export
    fails; the caller's to remove once read)."""
    import psycopg

    if not dsn:
        raise SourceError(f"cannot export {source.qualified}: no DSN is configured (set {source.dsn_variable})")
    try:  # before connecting: libpq would quote a malformed DSN, password and all, in its error
        check_dsn(dsn)
    except DsnError as exc:
        raise SourceError(f"cannot export {source.qualified}: malformed DSN ({source.dsn_variable}): {exc}") from None
    if mode not in MODES:
        raise SourceError(f"cannot export {source.qualified}: export mode {mode!r} is not one of {MODES} "
                          f"(LAKEHOUSE_{source.connection.upper()}_EXPORT_MODE)")
    if batch_rows < 1:
        raise SourceError(f"cannot export {source.qualified}: batch size must be at least 1, not {batch_rows}")
    if staging is None:  # a private folder: the caller owns it once the export succeeded, never after a failure
        staging = Staging.local_temp()
        try:
            return export_day(dsn, source, dt, staging=staging, mode=mode, batch_rows=batch_rows,
                              ingested_at=ingested_at, retries=retries, retry_delay=retry_delay)
        except BaseException:
            staging.clear()
            raise
    ingested_at = ingested_at or datetime.now(timezone.utc)
    where = describe_dsn(dsn)
    attempt = 0
    while True:
        attempt += 1
        uri, path = staging.file(dt, attempt)
        try:
            rows, batches, count = _export_once(dsn, source, dt, mode, batch_rows, ingested_at, attempt, path, staging)
        except (psycopg.Error, OSError) as exc:
            staging.remove(path)  # a partial day is never read
            reason = scrub(_explain(exc, source), dsn)
            if not is_transient(exc):
                raise SourceError(f"cannot export {source.qualified} for {dt} from {where}: {reason}") from None
            if attempt > retries:
                raise SourceUnavailable(f"cannot export {source.qualified} for {dt} from {where} after {attempt} "
                                        f"attempts: {reason}") from None
            delay = retry_delay * 2 ** (attempt - 1)
            log.warning("export of %s for %s from %s failed (attempt %d, transient: %s); retrying in %.1fs",
                        source.qualified, dt, where, attempt, reason, delay)
            time.sleep(delay)
            continue
        return ExportResult(files=[uri], rows_written=rows, source_count=count, batches=batches, attempts=attempt,
                            source=f"{where}/{source.qualified}", mode=mode,
                            window="full" if mode == "full" else source.window, schema=source.arrow_schema())


@dataclass(frozen=True)
class DatabaseExport:
    """The extractor a bronze TableSpec holds: `extract(settings, spec, dt, ingested_at, staging)`.

    It exports one day of `source` into the run's staging area and returns the ExportResult; the asset then
    reads the staged files with Spark and publishes the day in one commit.
    """

    source: DatabaseSource

    def __call__(self, settings, spec, dt: str, ingested_at: datetime, staging):
        db = settings.database(self.source.connection)
        return export_day(db.dsn, self.source, dt, staging=staging, mode=db.export_mode,
                          batch_rows=self.source.batch_rows or db.batch_rows, ingested_at=ingested_at,
                          retries=db.retries, retry_delay=db.retry_delay)

    def configured(self, settings) -> bool:
        """Whether the settings name this source's database (without one, its domain is not set up)."""
        return bool(settings.database(self.source.connection).dsn)

    def __str__(self) -> str:
        return f"database {self.source.qualified} ({self.source.window} window, DSN from {self.source.dsn_variable})"
