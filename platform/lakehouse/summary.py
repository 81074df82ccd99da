"""What the lakehouse holds: per table partitions, rows and quarantined rows, for the demo and the CLI."""
from __future__ import annotations

from dataclasses import dataclass

from lakehouse.resources import LakehouseResource
from lakehouse.tables.spec import TableSpec


@dataclass
class TableStatus:
    table: str
    format: str
    partitions: int
    rows: int
    quarantined: int
    uri: str


def _in_range(spec: TableSpec, dt: str, start: str | None, end: str | None) -> bool:
    if spec.partitioning == "monthly":  # a month counts when any of its days is in range
        return (start is None or dt[:7] >= start[:7]) and (end is None or dt[:7] <= end[:7])
    return (start is None or dt >= start) and (end is None or dt <= end)


def table_status(lakehouse: LakehouseResource, spec: TableSpec, start: str | None = None,
                 end: str | None = None) -> TableStatus:
    store, where = lakehouse.store(), lakehouse.location(spec)
    fmt, uri, q_uri, q_fmt = where.format, where.uri, where.quarantine_uri, where.side_format
    parts = [p for p in store.partitions(uri, fmt) if _in_range(spec, p, start, end)]
    rows = store.read(uri, fmt, parts, columns=["dt"]).num_rows if parts else 0
    q_parts = [p for p in store.partitions(q_uri, q_fmt) if _in_range(spec, p, start, end)]
    quarantined = store.read(q_uri, q_fmt, q_parts, columns=["dt"]).num_rows if q_parts else 0
    return TableStatus(spec.id, fmt, len(parts), rows, quarantined, uri)
