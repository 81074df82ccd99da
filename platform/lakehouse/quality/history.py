"""The lake's memory of its own quality: `ops.partition_metrics` and `ops.partition_diffs`.

Both are Delta tables of one long shape, (table_name, dt, run_id, delta_version, metric, value, computed_at),
partitioned by table_name, and only ever appended to: a re-run adds rows with its run id and the Delta version
it published, and readers take the newest row per table, day and metric. Blind appends never conflict.

They hold column names and numbers only, never a value of a row (a PII column's min/max is not measured:
quality.metrics), so every reader may see them (the `ops` database needs no scope).

The rows are a handful per partition and already on the driver (the batch's observation collected them), so
they are appended through delta-rs: about 10 ms a commit against about 2 s through delta-spark, which also
writes a checkpoint every tenth commit (15-25 s on a warm 2-core JVM; measured on this machine).
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Iterable, Mapping, Sequence

import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.config import Settings
from lakehouse.model.spec import Column, TableSpec
from lakehouse.storage.locations import OPS, TableLocation

PARTITION = "table_name"

_COLUMNS = (
    Column("table_name", "string", "The table measured, as layer.name.", True),
    Column("dt", "string", "Its partition (day, or the month's first day).", True),
    Column("run_id", "string", "The Dagster run that published the partition.", True),
    Column("delta_version", "bigint", "The table's Delta version that run published (NULL for Parquet tables)."),
    Column("metric", "string", "What was measured, e.g. rows, null_fraction.region, sum.revenue_usd.", True),
    Column("value", "double", "Its value."),
    Column("computed_at", "timestamp", "When it was recorded (UTC).", True),
)


def _ops_table(name: str, description: str) -> TableSpec:
    # a spec for its location, catalog entry and query-layer description; no asset is built from it
    return TableSpec(layer=OPS, domain="platform", name=name, description=description,  # type: ignore[arg-type]
                     columns=_COLUMNS, format="delta")


PARTITION_METRICS = _ops_table(
    "partition_metrics", "Metrics of every published partition (rows, quarantined rows, null fractions, min/max, "
    "sums of measures), one row per metric and publish; the newest row per table, dt and metric is current.")
PARTITION_DIFFS = _ops_table(
    "partition_diffs", "What each re-run of a partition changed: rows added, removed and changed by the table's "
    "key, and the change of each measure; one row per metric and re-run.")
OPS_TABLES = (PARTITION_METRICS, PARTITION_DIFFS)

SCHEMA = pa.schema([
    ("table_name", pa.string()), ("dt", pa.string()), ("run_id", pa.string()), ("delta_version", pa.int64()),
    ("metric", pa.string()), ("value", pa.float64()), ("computed_at", pa.timestamp("us", tz="UTC")),
])


def long_rows(table_id: str, run_id: str, version: int | None, by_day: Mapping[str, Mapping[str, float | None]],
              at: datetime | None = None) -> pa.Table:
    """{dt: {metric: value}} as rows of the ops tables' shape."""
    at = at or datetime.now(timezone.utc)
    rows = [{"table_name": table_id, "dt": dt, "run_id": run_id, "delta_version": version, "metric": metric,
             "value": None if value is None else float(value), "computed_at": at}
            for dt, metrics in sorted(by_day.items()) for metric, value in sorted(metrics.items())]
    return pa.Table.from_pylist(rows, schema=SCHEMA)


def append(lakehouse, ops: TableSpec, rows: pa.Table) -> int | None:
    """One blind append to an ops table (created on first use), then its catalog entry; its Delta version."""
    if not rows.num_rows:
        return None
    where = TableLocation.of(ops, lakehouse.settings())
    result = lakehouse.store().append(ops.id, where.uri, rows, PARTITION)
    lakehouse.register_table(ops, result)
    return result.version


def read(settings: Settings, ops: TableSpec, table_id: str, days: Iterable[str] | None = None,
         metrics: Iterable[str] | None = None) -> pa.Table:
    """Rows of one table from an ops table (only its partition is opened), optionally of some days and
    metrics; an ops table not written yet reads as empty."""
    from lakehouse.storage.table_metadata import TableMetadata

    where = pc.field(PARTITION) == table_id
    if days is not None:
        where &= pc.field("dt").isin(sorted(set(days)))
    if metrics is not None:
        where &= pc.field("metric").isin(sorted(set(metrics)))
    rows = TableMetadata(settings).read_partition(TableLocation.of(ops, settings).uri, PARTITION, table_id, where)
    return SCHEMA.empty_table() if rows is None else rows.select(SCHEMA.names).cast(SCHEMA)


def current(rows: pa.Table) -> dict[tuple[str, str], float | None]:
    """{(dt, metric): value} of the newest row of each (a re-run's values replace the earlier run's)."""
    out: dict[tuple[str, str], tuple[datetime, float | None]] = {}
    for dt, metric, value, at in zip(*(rows.column(c).to_pylist() for c in ("dt", "metric", "value", "computed_at"))):
        if (dt, metric) not in out or at >= out[(dt, metric)][0]:
            out[(dt, metric)] = (at, value)
    return {key: value for key, (_, value) in out.items()}


def by_day(values: Mapping[tuple[str, str], float | None], days: Sequence[str] | None = None
           ) -> dict[str, dict[str, float | None]]:
    """{(dt, metric): value} regrouped as {dt: {metric: value}}."""
    out: dict[str, dict[str, float | None]] = {}
    for (dt, metric), value in sorted(values.items()):
        if days is None or dt in days:
            out.setdefault(dt, {})[metric] = value
    return out
