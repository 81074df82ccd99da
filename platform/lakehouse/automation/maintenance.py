"""Maintenance: retention per layer, compaction of small files, Delta vacuum, and partition health."""

from dataclasses import asdict, dataclass
from datetime import date, timedelta

from dagster import (DefaultScheduleStatus, MetadataValue, Nothing, OpExecutionContext, Out, Output,
                     ScheduleDefinition, job, op)

from lakehouse.quality.quarantine import quarantine_name
from lakehouse.resources import LakehouseResource
from lakehouse.tables.partitions import batch_days
from lakehouse.tables.registry import all_specs
from lakehouse.tables.spec import TableSpec


def retention_days(lakehouse: LakehouseResource, spec: TableSpec) -> int:
    return spec.retention_days or lakehouse.settings().retention_days[spec.layer]


def apply_retention(lakehouse: LakehouseResource, spec: TableSpec, today: date | None = None) -> list[str]:
    """Delete the table's (and its quarantine's) partitions that are past retention; returns them."""
    today = today or date.today()
    store, fmt = lakehouse.store(), lakehouse.format_of(spec)
    keep = retention_days(lakehouse, spec)
    if spec.partitioning == "monthly":
        old = [p for p in lakehouse.partitions_of(spec)
               if batch_days(spec, [p])[-1] < (today - timedelta(days=keep)).isoformat()]
    else:
        old = [p for p in lakehouse.partitions_of(spec) if p < (today - timedelta(days=keep)).isoformat()]
    if old:
        store.delete_partitions(lakehouse.uri_of(spec), fmt, old)
        q_uri = f"{lakehouse.settings().warehouse}/quarantine/{quarantine_name(spec.id)}"
        store.delete_partitions(q_uri, "delta" if fmt == "delta" else "parquet", old)
    return old


@dataclass
class PartitionHealth:
    table: str
    first: str | None
    last: str | None
    expected: int
    present: int
    missing: list[str]
    delta_version: int | None
    last_rows: dict[str, int]


def partition_health(lakehouse: LakehouseResource, spec: TableSpec, trend_days: int = 7) -> PartitionHealth:
    """Expected vs present partitions between the first and last present one, and recent row counts."""
    store, fmt, uri = lakehouse.store(), lakehouse.format_of(spec), lakehouse.uri_of(spec)
    present = lakehouse.partitions_of(spec)
    if not present:
        return PartitionHealth(spec.id, None, None, 0, 0, [], None, {})
    if spec.partitioning == "monthly":
        expected = sorted({d[:8] + "01" for d in batch_days(spec, [present[0]]) + batch_days(spec, [present[-1]])}
                          | set(present))
    else:
        first = date.fromisoformat(present[0])
        n = (date.fromisoformat(present[-1]) - first).days + 1
        expected = [(first + timedelta(days=i)).isoformat() for i in range(n)]
    recent = present[-trend_days:]
    counts = store.read(uri, fmt, recent, columns=["dt"]).column("dt").to_pylist()
    trend = {dt: counts.count(dt) for dt in recent}
    return PartitionHealth(spec.id, present[0], present[-1], len(expected), len(present),
                           sorted(set(expected) - set(present)), store.version(uri, fmt), trend)


@op(description="Retention per layer, compaction and vacuum for every table; reports partition health.",
    out=Out(Nothing))
def maintain_tables(context: OpExecutionContext, lakehouse: LakehouseResource):
    store = lakehouse.store()
    report = {}
    for spec in all_specs():
        fmt, uri = lakehouse.format_of(spec), lakehouse.uri_of(spec)
        if not store.exists(uri, fmt):
            continue
        removed = apply_retention(lakehouse, spec)
        store.compact(uri, fmt)
        vacuumed = store.vacuum(uri, fmt)  # default 7 days: time travel and running readers stay safe
        health = partition_health(lakehouse, spec)
        report[spec.id] = {"expired_partitions": removed, "vacuumed_files": len(vacuumed), **asdict(health)}
        context.log.info(f"{spec.id}: {len(removed)} partitions expired, {len(vacuumed)} files vacuumed, "
                         f"{health.present}/{health.expected} partitions present")
    yield Output(None, metadata={"tables": MetadataValue.json(report)})


@job(description="Nightly table maintenance.")
def lakehouse_maintenance():
    maintain_tables()


maintenance_schedule = ScheduleDefinition(job=lakehouse_maintenance, cron_schedule="0 3 * * *",
                                          default_status=DefaultScheduleStatus.RUNNING)
