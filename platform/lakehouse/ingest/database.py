"""A database source as data: which connection, which table (or query), how rows are cut into days, how read.

A bronze TableSpec fed by a database holds a `postgres.DatabaseExport(DatabaseSource(...))` as its `extract`. The spec
names its connection (`connection="billing"` -> LAKEHOUSE_BILLING_DSN, _EXPORT_MODE, _BATCH_ROWS, _RETRIES,
_RETRY_DELAY, validated in lakehouse.config); the export itself speaks the PostgreSQL wire protocol
(lakehouse.ingest.postgres), which PostgreSQL and Amazon Redshift both serve.

Which rows belong to day `dt` depends on the source's `window` (and on the connection's export mode):

- "created": rows whose `day_column` falls on dt (UTC), for immutable facts (invoices, a day's activity);
- "updated": rows created or updated on dt (`coalesce(updated_column, day_column)`), a change feed for
  mutable rows: a late change lands on the day it was made;
- "snapshot": every row whose `day_column` is before the end of dt, for small mutable state that a day's
  numbers need in full (subscriptions: active subscriptions and MRR);
- mode "full" exports every row, whatever the window (a backfill or a reconciliation).

A row whose window column is NULL is never in any day's incremental export; the full mode carries it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pyarrow as pa

Window = Literal["created", "updated", "snapshot"]
Kind = Literal["text", "timestamp"]
Isolation = Literal["repeatable_read", "serializable"]

EXPORT_LINEAGE = [
    pa.field("_source_file", pa.string()),  # the source table: postgresql://user@host:port/db/schema.table
    pa.field("_line_number", pa.int64()),  # the row's position in the day's export (ordered by the key)
    pa.field("_ingested_at", pa.timestamp("us", tz="UTC")),
    pa.field("dt", pa.string()),
]


@dataclass(frozen=True)
class DatabaseSource:
    """A table (or query) of a source database and how its rows are cut into days."""

    connection: str  # a name in lakehouse.config.DATABASES; its settings are LAKEHOUSE_<CONNECTION>_*
    table: str  # "schema.table"; with `query`, the name the export is reported under
    columns: tuple[tuple[str, Kind], ...]
    window: Window = "created"
    day_column: str = "created_at"
    day_type: Literal["timestamp", "date"] = "timestamp"  # timestamptz (day = UTC day) or date
    updated_column: str | None = "updated_at"  # window "updated" reads coalesce(updated_column, day_column)
    key: tuple[str, ...] = ("id",)  # export order, so a day's line numbers are reproducible
    # The last word of the order on duplicate keys: PostgreSQL's ctid. Redshift has no row id: None, and the
    # key must then be unique enough (ties keep an arbitrary but complete order: no row is lost).
    tiebreak: str | None = "ctid"
    query: str | None = None  # a SELECT (from code, never from input) to export instead of the table
    # REPEATABLE READ is PostgreSQL's snapshot isolation; Redshift runs every transaction as SERIALIZABLE
    # (or SNAPSHOT), both of which also read one snapshot for the whole transaction.
    isolation: Isolation = "repeatable_read"
    count_check: bool = True  # count the day's rows in the same snapshot and compare with the rows written
    batch_rows: int | None = None  # rows per cursor fetch; None: the connection's LAKEHOUSE_<NAME>_BATCH_ROWS

    def __post_init__(self):
        if "." not in self.table:
            raise ValueError(f"database source {self.table!r}: name it schema.table")
        if self.query is not None and self.tiebreak is not None:
            raise ValueError(f"database source {self.table}: a query has no row id; set tiebreak=None")
        if self.window == "updated" and not self.updated_column:
            raise ValueError(f"database source {self.table}: window 'updated' needs an updated_column")

    @property
    def qualified(self) -> str:
        return self.table

    @property
    def schema(self) -> str:
        return self.table.split(".", 1)[0]

    @property
    def name(self) -> str:
        return self.table.split(".", 1)[1]

    @property
    def dsn_variable(self) -> str:
        return f"LAKEHOUSE_{self.connection.upper()}_DSN"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c for c, _ in self.columns)

    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(c, pa.string()) for c in self.column_names] + EXPORT_LINEAGE)
