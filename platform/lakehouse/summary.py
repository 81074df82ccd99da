"""What the lakehouse holds: per table partitions, rows and quarantined rows, for the demo and the CLI, and which
expected partitions are missing (and of those, the ones waiting for files that never landed)."""
from __future__ import annotations

from dataclasses import dataclass

from lakehouse.config import utc_today
from lakehouse.resources import LakehouseResource
from lakehouse.tables.partitions import partition_keys
from lakehouse.tables.readiness import nothing_landed
from lakehouse.tables.spec import TableSpec


@dataclass
class TableStatus:
    table: str
    format: str
    partitions: int
    rows: int
    quarantined: int
    uri: str
    missing: int = 0  # partitions expected in the range (from the first partition to today) the table lacks
    nothing_landed: int = 0  # of them, those no landing source of the table has a file for: waiting, not failing


def _in_range(spec: TableSpec, dt: str, start: str | None, end: str | None) -> bool:
    if spec.partitioning == "monthly":  # a month counts when any of its days is in range
        return (start is None or dt[:7] >= start[:7]) and (end is None or dt[:7] <= end[:7])
    return (start is None or dt >= start) and (end is None or dt <= end)


def expected_range(first_partition: str, start: str | None, end: str | None) -> tuple[str, str]:
    """The days whose partitions should exist: start..end (default: the first partition..today, UTC), cut to the
    days that have a partition at all."""
    today = utc_today().isoformat()
    return max(start or first_partition, first_partition), min(end or today, today)


def table_status(lakehouse: LakehouseResource, spec: TableSpec, start: str | None = None,
                 end: str | None = None, landed: dict[str, set[str]] | None = None) -> TableStatus:
    """`landed` ({prefix: days}, ingest.landing.landed_days) tells missing days with nothing landed apart."""
    store, where = lakehouse.store(), lakehouse.location(spec)
    fmt, uri, q_uri, q_fmt = where.format, where.uri, where.quarantine_uri, where.side_format
    present = store.partitions(uri, fmt)
    parts = [p for p in present if _in_range(spec, p, start, end)]
    rows = store.read(uri, fmt, parts, columns=["dt"]).num_rows if parts else 0
    q_parts = [p for p in store.partitions(q_uri, q_fmt) if _in_range(spec, p, start, end)]
    quarantined = store.read(q_uri, q_fmt, q_parts, columns=["dt"]).num_rows if q_parts else 0
    first, last = expected_range(lakehouse.settings().start_date, start, end)
    missing = sorted(set(partition_keys(spec, first, last)) - set(present)) if first <= last else []
    idle = nothing_landed(spec, missing, landed) if landed is not None else []
    return TableStatus(spec.id, fmt, len(parts), rows, quarantined, uri, len(missing), len(idle))
