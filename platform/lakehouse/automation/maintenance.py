"""Maintenance: retention per layer, compaction of small files, Delta vacuum, and partition health."""

from dataclasses import asdict, dataclass
from datetime import date, datetime, timezone

from dagster import (DefaultScheduleStatus, MetadataValue, Nothing, OpExecutionContext, Out, Output,
                     ScheduleDefinition, job, op)

from lakehouse.model.partitions import add_days, batch_days, days, month_of
from lakehouse.model.spec import TableSpec
from lakehouse.pipeline.registry import all_specs
from lakehouse.resources import LakehouseResource


def retention_days(lakehouse: LakehouseResource, spec: TableSpec) -> int:
    return spec.retention_days or lakehouse.settings().retention_days[spec.layer]


def _expired(spec: TableSpec, partitions: list[str], cutoff: str) -> list[str]:
    # a monthly partition expires once its last day is past the cutoff
    return [p for p in partitions if batch_days(spec, [p])[-1] < cutoff]


def apply_retention(lakehouse: LakehouseResource, spec: TableSpec, today: date | None = None) -> list[str]:
    """Delete the table's partitions past retention, and those of its quarantine and rejected batches;
    returns the table's expired partitions."""
    store, fmt = lakehouse.store(), lakehouse.format_of(spec)
    cutoff = add_days((today or date.today()).isoformat(), -retention_days(lakehouse, spec))
    old = _expired(spec, lakehouse.partitions_of(spec), cutoff)
    if old:
        store.delete_partitions(lakehouse.uri_of(spec), fmt, old)
    where = lakehouse.location(spec)
    side_fmt = where.side_format
    # quarantined rows and refused batches are kept as long as the table's own rows, judged by their own days
    for uri in (where.quarantine_uri, where.rejected_uri):
        if store.exists(uri, side_fmt):
            side_old = [p for p in store.partitions(uri, side_fmt) if p < cutoff]
            if side_old:
                store.delete_partitions(uri, side_fmt, side_old)
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
    last_update: str | None = None  # time of the newest Delta commit (UTC)


def partition_health(lakehouse: LakehouseResource, spec: TableSpec, trend_days: int = 7) -> PartitionHealth:
    """Expected vs present partitions between the first and last present one, and recent row counts."""
    store, fmt, uri = lakehouse.store(), lakehouse.format_of(spec), lakehouse.uri_of(spec)
    present = lakehouse.partitions_of(spec)
    if not present:
        return PartitionHealth(spec.id, None, None, 0, 0, [], None, {})
    if spec.partitioning == "monthly":
        expected = sorted({month_of(present[0]), month_of(present[-1])} | set(present))
    else:
        expected = days(present[0], present[-1])
    recent = present[-trend_days:]
    counts = store.read(uri, fmt, recent, columns=["dt"]).column("dt").to_pylist()
    trend = {dt: counts.count(dt) for dt in recent}
    return PartitionHealth(spec.id, present[0], present[-1], len(expected), len(present),
                           sorted(set(expected) - set(present)), store.version(uri, fmt), trend,
                           _last_update(store, uri, fmt))


def _last_update(store, uri: str, fmt: str) -> str | None:
    commits = store.history(uri, fmt, 1)
    stamp = commits[0].get("timestamp") if commits else None  # delta-rs: milliseconds since the epoch
    return datetime.fromtimestamp(stamp / 1000, timezone.utc).isoformat(timespec="seconds") if stamp else None


def health_report(lakehouse: LakehouseResource) -> list[dict]:
    """The partition-health view of every table, as rows (for `lakehouse health`)."""
    return [asdict(partition_health(lakehouse, spec)) for spec in all_specs()]


def health_markdown(rows: list[dict]) -> str:
    lines = ["| table | partitions | missing | last update | rows (recent days) |", "|---|---|---|---|---|"]
    for r in rows:
        missing = ", ".join(r["missing"][:3]) + (" ..." if len(r["missing"]) > 3 else "")
        trend = " ".join(str(v) for v in r["last_rows"].values())
        lines.append(f"| {r['table']} | {r['present']}/{r['expected']} ({r['first'] or '-'} .. {r['last'] or '-'}) "
                     f"| {missing or '-'} | {r['last_update'] or '-'} | {trend or '-'} |")
    return "\n".join(lines)


def compact_ops_tables(lakehouse: LakehouseResource) -> dict[str, dict]:
    """The ops tables get one small file per step that publishes: compacted and vacuumed through delta-rs, which
    writes them. Their rows are kept (a few per partition; the history is what the anomaly checks judge by)."""
    from lakehouse.quality.history import OPS_TABLES
    from lakehouse.storage.arrow_store import ArrowStore

    store, out = ArrowStore(lakehouse.settings()), {}
    for spec in OPS_TABLES:
        uri = lakehouse.uri_of(spec)
        if store.exists(uri, "delta"):
            compacted = store.compact(uri, "delta") or {}
            out[spec.id] = {"compacted_files": compacted.get("numFilesRemoved", 0),
                            "vacuumed_files": len(store.vacuum(uri, "delta"))}
    return out


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
        compacted = store.compact(uri, fmt) or {}
        vacuumed = store.vacuum(uri, fmt)  # default 7 days: time travel and running readers stay safe
        health = partition_health(lakehouse, spec)
        report[spec.id] = {**asdict(health), "expired_partitions": removed, "vacuumed_files": len(vacuumed),
                           "compacted_files": compacted.get("numFilesRemoved", compacted.get("partitions_rewritten", 0))}
        context.log.info(f"{spec.id}: {len(removed)} partitions expired, {len(vacuumed)} files vacuumed, "
                         f"{health.present}/{health.expected} partitions present")
    yield Output(None, metadata={"tables": MetadataValue.json(report),
                                 "ops_tables": MetadataValue.json(compact_ops_tables(lakehouse)),
                                 "partition_health": MetadataValue.md(health_markdown(list(report.values())))})


@job(description="Nightly table maintenance.")
def lakehouse_maintenance():
    maintain_tables()


maintenance_schedule = ScheduleDefinition(job=lakehouse_maintenance, cron_schedule="0 3 * * *",
                                          default_status=DefaultScheduleStatus.RUNNING)
