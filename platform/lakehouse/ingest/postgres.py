"""PostgreSQL -> bronze: one day of one source table, exported in batches from one consistent snapshot.

How a day is exported (`export_day`):

- one connection, one REPEATABLE READ READ ONLY transaction: the `count(*)` of the day's rows and the rows
  themselves are read from the same snapshot, so the count check (`source_count == rows written`) is exact
  even while the application keeps writing;
- the rows are streamed through a server-side (named) cursor, `fetchmany(batch_rows)` at a time, and each
  batch becomes an Arrow record batch at once. Python never holds more than one batch of rows; the day's
  Arrow batches (compact, columnar strings) are kept until the bronze partition is committed in one write,
  which is what makes a day's publish atomic;
- values are exported as text, exactly as PostgreSQL prints them (timestamps as ISO 8601 in UTC), like
  every bronze table here: typing and conforming is silver's job;
- transient errors (connection refused or dropped, the backend terminated by an administrator, a
  serialization failure, too many connections) restart the day's export from scratch on a new connection
  and a new snapshot, `retries` times with exponential backoff; the partial batches are thrown away.
  Permanent errors (a malformed DSN, authentication failure, unknown database, missing table or column,
  no privilege) raise `SourceError` at once, naming the table and the host -- never the password.

Which rows belong to day `dt` depends on the table's `window` (and on `mode`):

- "created": rows created on dt (UTC), for immutable facts (invoices, transactions);
- "updated": rows created or updated on dt (`coalesce(updated_at, created_at)`), a change feed for
  mutable rows (users): a late change lands on the day it was made;
- "snapshot": every row that exists by the end of dt, for small mutable state that a day's numbers need in
  full (subscriptions: active subscriptions and MRR), so a change of any age is always picked up;
- mode "full" exports every row of the table, whatever its window (a backfill or a reconciliation).

A row whose window column is NULL is never in any day's incremental export; the full mode carries it.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import date, datetime, time as dtime, timedelta, timezone
from typing import Callable, Literal, Sequence

import pyarrow as pa

from lakehouse.errors import LakehouseError
from lakehouse.secrets import DsnError, check_dsn, mask_dsn
from lakehouse.secrets import scrub as scrub_secrets

log = logging.getLogger(__name__)

Window = Literal["created", "updated", "snapshot"]
Kind = Literal["text", "timestamp"]
MODES = ("incremental", "full")
APPLICATION_NAME = "lakehouse-export"
CONNECT_TIMEOUT = 10

EXPORT_LINEAGE = [
    pa.field("_source_file", pa.string()),  # the source table: postgresql://user@host:port/db/schema.table
    pa.field("_line_number", pa.int64()),  # the row's position in the day's export (ordered by the key)
    pa.field("_ingested_at", pa.timestamp("us", tz="UTC")),
    pa.field("dt", pa.string()),
]


class SourceError(LakehouseError):
    """A permanent problem with the source (DSN, credentials, database, table, column, privilege)."""


class SourceUnavailable(Exception):
    """The source stayed unreachable through every retry. Not a LakehouseError: the step's own retry
    policy may try again later."""


@dataclass(frozen=True)
class SourceTable:
    """A table of the source database and how its rows are cut into days."""

    name: str
    columns: tuple[tuple[str, Kind], ...]
    window: Window = "created"
    schema: str = "public"
    key: tuple[str, ...] = ("id",)

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c for c, _ in self.columns)

    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(c, pa.string()) for c in self.column_names] + EXPORT_LINEAGE)


@dataclass
class ExportResult:
    """One day of one table: the rows, what the source counted for the day in the same snapshot, and how."""

    table: pa.Table
    source_count: int
    batches: int
    attempts: int
    source: str
    mode: str
    window: str

    @property
    def rows_written(self) -> int:
        return self.table.num_rows


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


def _explain(exc: BaseException) -> str:
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
        return "malformed DSN (LAKEHOUSE_BILLING_DSN): " + text
    return text


# --- the export -----------------------------------------------------------------------------------------
def _day_bounds(dt: str) -> tuple[datetime, datetime]:
    start = datetime.combine(date.fromisoformat(dt), dtime(0), tzinfo=timezone.utc)
    return start, start + timedelta(days=1)


def _where(source: SourceTable, mode: str):
    from psycopg import sql

    if mode == "full":
        return sql.SQL("true")
    if source.window == "created":
        return sql.SQL("created_at >= %(start)s and created_at < %(end)s")
    if source.window == "updated":
        return sql.SQL("coalesce(updated_at, created_at) >= %(start)s and coalesce(updated_at, created_at) < %(end)s")
    if source.window == "snapshot":
        return sql.SQL("created_at < %(end)s")
    raise LakehouseError(f"{source.qualified}: unknown export window {source.window!r}")


def _select_list(source: SourceTable):
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


def _export_once(dsn: str, source: SourceTable, dt: str, mode: str, batch_rows: int, ingested_at: datetime,
                 attempt: int) -> tuple[list[pa.RecordBatch], int]:
    import psycopg
    from psycopg import sql

    start, end = _day_bounds(dt)
    params = {"start": start, "end": end}
    where = _where(source, mode)
    table = sql.Identifier(source.schema, source.name)
    order = sql.SQL(", ").join([sql.Identifier(k) for k in source.key] + [sql.SQL("ctid")])
    schema, where_src = source.arrow_schema(), describe_dsn(dsn) + "/" + source.qualified
    conn = psycopg.connect(dsn, connect_timeout=CONNECT_TIMEOUT, application_name=APPLICATION_NAME)
    try:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        # the first statement takes the transaction's snapshot: the count and the rows below share it
        count = conn.execute(sql.SQL("select count(*) from {} where {}").format(table, where), params).fetchone()[0]
        batches: list[pa.RecordBatch] = []
        offset = 0
        with conn.cursor(name=f"lakehouse_export_{source.name}") as cur:  # server-side cursor
            cur.itersize = batch_rows
            cur.execute(sql.SQL("select {} from {} where {} order by {}").format(
                _select_list(source), table, where, order), params)
            while True:
                rows = cur.fetchmany(batch_rows)
                if not rows:
                    break
                batches.append(_to_batch(rows, schema, offset, where_src, ingested_at, dt))
                offset += len(rows)
                event = BatchEvent(source.qualified, dt, attempt, len(batches), len(rows), conn.info.backend_pid)
                for listener in list(BATCH_LISTENERS):
                    listener(event)
        conn.rollback()  # read only: nothing to keep
        return batches, count
    finally:
        conn.close()


def export_day(dsn: str | None, source: SourceTable, dt: str, *, mode: str = "incremental",
               batch_rows: int = 10_000, ingested_at: datetime | None = None, retries: int = 3,
               retry_delay: float = 1.0) -> ExportResult:
    """Export the rows of `source` that belong to day `dt` (see the module doc); retried on transient errors."""
    import psycopg

    if not dsn:
        raise SourceError(f"cannot export {source.qualified}: no DSN is configured (set LAKEHOUSE_BILLING_DSN)")
    try:  # before connecting: libpq would quote a malformed DSN, password and all, in its error
        check_dsn(dsn)
    except DsnError as exc:
        raise SourceError(f"cannot export {source.qualified}: malformed DSN (LAKEHOUSE_BILLING_DSN): {exc}") from None
    if mode not in MODES:
        raise SourceError(f"cannot export {source.qualified}: export mode {mode!r} is not one of {MODES} "
                          "(LAKEHOUSE_BILLING_EXPORT_MODE)")
    if batch_rows < 1:
        raise SourceError(f"cannot export {source.qualified}: batch size must be at least 1, not {batch_rows}")
    ingested_at = ingested_at or datetime.now(timezone.utc)
    where = describe_dsn(dsn)
    attempt = 0
    while True:
        attempt += 1
        try:
            batches, count = _export_once(dsn, source, dt, mode, batch_rows, ingested_at, attempt)
        except (psycopg.Error, OSError) as exc:
            reason = scrub(_explain(exc), dsn)
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
        table = pa.Table.from_batches(batches, schema=source.arrow_schema())
        return ExportResult(table=table, source_count=count, batches=len(batches), attempts=attempt,
                            source=f"{where}/{source.qualified}", mode=mode,
                            window="full" if mode == "full" else source.window)


@dataclass(frozen=True)
class PostgresExport:
    """The extractor a bronze TableSpec holds: `extract(settings, spec, dt, ingested_at) -> ExportResult`.

    `settings_prefix` names the Settings fields to read: <prefix>_dsn, _export_mode, _batch_rows, _retries,
    _retry_delay (e.g. "billing" -> billing_dsn, from LAKEHOUSE_BILLING_DSN).
    """

    source: SourceTable
    settings_prefix: str

    def __call__(self, settings, spec, dt: str, ingested_at: datetime) -> ExportResult:
        p = self.settings_prefix
        return export_day(
            getattr(settings, f"{p}_dsn"), self.source, dt, mode=getattr(settings, f"{p}_export_mode"),
            batch_rows=getattr(settings, f"{p}_batch_rows"), ingested_at=ingested_at,
            retries=getattr(settings, f"{p}_retries"), retry_delay=getattr(settings, f"{p}_retry_delay"),
        )

    def configured(self, settings) -> bool:
        """Whether the settings name a database to export from (without one, the domain is not set up)."""
        return bool(getattr(settings, f"{self.settings_prefix}_dsn"))

    def __str__(self) -> str:
        env = f"LAKEHOUSE_{self.settings_prefix.upper()}_DSN"
        return f"PostgreSQL {self.source.qualified} ({self.source.window} window, DSN from {env})"
