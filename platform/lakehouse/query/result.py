"""What a query gives back: the rows as Arrow, and whether the row limit cut them short."""
from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from lakehouse.query.limits import too_large

DEFAULT_LIMIT = 1000
TRUNCATED_KEY = b"lakehouse.query.truncated"


@dataclass
class QueryResult:
    table: pa.Table
    truncated: bool  # more rows existed than the limit let through
    limit: int
    engine: str
    sql: str  # the SQL the engine ran (after rewriting and transpiling)
    query_id: str | None = None  # Athena's QueryExecutionId
    peak_memory_mb: float | None = None  # local engine: the worker's peak resident memory while it ran

    def tagged(self) -> pa.Table:
        """The table with the truncation recorded in its schema metadata (for callers that only get a table)."""
        meta = dict(self.table.schema.metadata or {})
        meta[TRUNCATED_KEY] = b"true" if self.truncated else b"false"
        return self.table.replace_schema_metadata(meta)


def take(batches, schema: pa.Schema, limit: int, max_bytes: int | None = None) -> tuple[pa.Table, bool]:
    """Up to `limit` rows from an iterator of record batches; reads at most one batch past the limit.

    With `max_bytes`, a result growing past that many bytes (of the rows within the limit) stops the read
    with ResultTooLargeError instead of filling the caller's memory."""
    kept, rows, size = [], 0, 0
    for batch in batches:
        kept.append(batch)
        if max_bytes is not None:
            size += batch.slice(0, max(limit - rows, 0)).nbytes
            if size > max_bytes:
                raise too_large(max_bytes)
        rows += batch.num_rows
        if rows > limit:
            break
    table = pa.Table.from_batches(kept, schema=schema)
    return (table.slice(0, limit), True) if table.num_rows > limit else (table, False)
