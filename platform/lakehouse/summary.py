"""What the lakehouse holds: per table partitions, rows and quarantined rows, for the demo and the CLI, and which
expected partitions are missing (and of those, the ones waiting for files that never landed)."""
from __future__ import annotations

from dataclasses import dataclass

from lakehouse.config import Settings, utc_today
from lakehouse.model.partitions import month_of, partition_keys
from lakehouse.model.spec import TableSpec
from lakehouse.pipeline.readiness import nothing_landed
from lakehouse.pipeline.registry import get_spec
from lakehouse.resources import LakehouseResource


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
    source_off: bool = False  # none of its sources is set up (Kafka, a database without a DSN): nothing is expected


def _in_range(spec: TableSpec, dt: str, start: str | None, end: str | None) -> bool:
    if spec.partitioning == "monthly":  # a month counts when any of its days is in range
        return (start is None or dt >= month_of(start)) and (end is None or dt <= month_of(end))
    return (start is None or dt >= start) and (end is None or dt <= end)


def source_configured(spec: TableSpec, settings: Settings) -> bool:
    """Whether any source the table is built from is set up: landing files need nothing, a database export its
    DSN, a Kafka topic LAKEHOUSE_KAFKA_BOOTSTRAP."""
    if spec.landing is not None:
        return True
    if spec.extract is not None:
        return spec.extract.configured(settings)
    if spec.stream is not None:
        return settings.kafka_bootstrap is not None
    return any(source_configured(get_spec(up.table), settings) for up in spec.upstreams if up.table != spec.id)


def expected_range(first_partition: str, start: str | None, end: str | None) -> tuple[str, str]:
    """The days whose partitions should exist: start..end (default: the first partition..today, UTC), cut to the
    days that have a partition at all."""
    today = utc_today().isoformat()
    return max(start or first_partition, first_partition), min(end or today, today)


def table_status(lakehouse: LakehouseResource, spec: TableSpec, start: str | None = None,
                 end: str | None = None, landed: dict[str, set[str]] | None = None) -> TableStatus:
    """`landed` ({prefix: days}, LandingZone.landed_days) tells missing days with nothing landed apart."""
    store, where = lakehouse.store(), lakehouse.location(spec)
    fmt, uri, q_uri, q_fmt = where.format, where.uri, where.quarantine_uri, where.side_format
    present = store.partitions(uri, fmt)
    parts = [p for p in present if _in_range(spec, p, start, end)]
    rows = store.read(uri, fmt, parts, columns=["dt"]).num_rows if parts else 0
    q_parts = [p for p in store.partitions(q_uri, q_fmt) if _in_range(spec, p, start, end)]
    quarantined = store.read(q_uri, q_fmt, q_parts, columns=["dt"]).num_rows if q_parts else 0
    settings = lakehouse.settings()
    off = not source_configured(spec, settings)
    first, last = expected_range(settings.start_date, start, end)
    missing = sorted(set(partition_keys(spec, first, last)) - set(present)) if first <= last and not off else []
    idle = nothing_landed(spec, missing, landed) if landed is not None else []
    return TableStatus(spec.id, fmt, len(parts), rows, quarantined, uri, len(missing), len(idle), off)
