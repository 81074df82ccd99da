"""One quarantine shape for every table: why a row was set aside, where it came from, and the row itself."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

import pyarrow as pa

QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("source_table", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("rules", pa.list_(pa.string())),
        pa.field("source_file", pa.string()),
        pa.field("line_number", pa.int64()),
        pa.field("record", pa.string()),  # the row as JSON, or the raw line when it could not be parsed
        pa.field("quarantined_at", pa.timestamp("us", tz="UTC")),
        pa.field("dt", pa.string(), nullable=False),
    ]
)


def quarantine_table(
    source_table: str,
    dt: str,
    rows: Iterable[Mapping[str, Any]],
    at: datetime | None = None,
) -> pa.Table:
    """Build quarantine rows; each mapping has reason and optionally rules, source_file, line_number, record."""
    at = at or datetime.now(timezone.utc)
    out = []
    for row in rows:
        record = row.get("record")
        if record is not None and not isinstance(record, str):
            record = json.dumps(record, default=str, sort_keys=True)
        out.append(
            {
                "source_table": source_table,
                "reason": row["reason"],
                "rules": list(row.get("rules") or []),
                "source_file": row.get("source_file"),
                "line_number": row.get("line_number"),
                "record": record,
                "quarantined_at": at,
                "dt": row.get("dt", dt),
            }
        )
    return pa.Table.from_pylist(out, schema=QUARANTINE_SCHEMA)

