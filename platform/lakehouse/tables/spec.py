"""The table spec: one declaration per table drives its asset, checks, catalog entry, quarantine and docs."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Literal

Layer = Literal["bronze", "silver", "gold"]
Severity = Literal["warn", "drop", "fail"]


@dataclass(frozen=True)
class Column:
    name: str
    type: str = "string"  # Spark SQL type name, e.g. "string", "bigint", "decimal(18,2)", "timestamp"
    description: str = ""
    required: bool = False


@dataclass(frozen=True)
class LandingSource:
    """Where a bronze table's files land: <landing>/<source>/<entity>/dt=YYYY-MM-DD/<file>."""

    source: str
    entity: str
    format: Literal["csv", "jsonl"]

    @property
    def prefix(self) -> str:
        return f"{self.source}/{self.entity}"


@dataclass(frozen=True)
class RowRule:
    """A named SQL boolean over one row, like a Delta Live Tables expectation.

    warn: the row is kept and counted; drop: the row goes to quarantine with the rule name;
    fail: the whole batch is rejected and nothing is published. A NULL result counts as a violation.
    """

    name: str
    expr: str
    severity: Severity = "drop"


@dataclass(frozen=True)
class Upstream:
    """An upstream table and which of its partitions a batch of days needs.

    window: "same" (the same days), "lookback" (the days plus `lookback_days` before), "history"
    (every partition up to the last day of the batch), "month" (every day of the months touched).

    need: what each day of a batch needs of this upstream *in the warehouse it reads* before anything is
    published (a missing partition is never read as empty). "day": that very day's partition (the default for
    "same" and "history"); "as_of": at least one partition in the window, the newest earlier one standing in
    for a missing day (the default for "lookback" and "month": a catalog or a rate read as of the day);
    "optional": nothing (a table's own history, which is absent on its first run, is always optional).
    """

    table: str  # "layer.name"
    window: Literal["same", "lookback", "history", "month"] = "same"
    lookback_days: int = 0
    need: Literal["day", "as_of", "optional"] | None = None

    @property
    def needs(self) -> str:
        if self.need is not None:
            return self.need
        return "day" if self.window in ("same", "history") else "as_of"

    @property
    def view(self) -> str:
        """Temp view name the SQL uses for this upstream, e.g. silver_orders."""
        return self.table.replace(".", "_")


@dataclass(frozen=True)
class TableSpec:
    layer: Layer
    domain: str
    name: str
    description: str
    columns: tuple[Column, ...] = ()
    upstreams: tuple[Upstream, ...] = ()
    landing: LandingSource | None = None
    # A bronze table fed by an extractor instead of landing files (e.g. lakehouse.ingest.postgres.PostgresExport):
    # extract(settings, spec, dt, ingested_at) -> a result with .table (pa.Table of the day's rows, with `dt`),
    # .source_count (rows the source counted for the day), .batches, .attempts, .source, .mode.
    extract: Callable[..., Any] | None = None
    sql: str | None = None  # relative to the sql dir; defaults to <layer>/<name>.sql for silver/gold
    transform: Callable[..., Any] | None = None  # Python transform when SQL cannot express it
    rules: tuple[RowRule, ...] = ()
    contract: Any = None  # a pandera.pyspark DataFrameModel class
    unique_key: tuple[str, ...] = ()
    format: Literal["delta", "parquet"] | None = None  # None: the configured default
    partitioning: Literal["daily", "monthly"] = "daily"
    retention_days: int | None = None  # None: the layer default
    pii: tuple[str, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.layer}.{self.name}"

    @property
    def asset_key_path(self) -> list[str]:
        return [self.layer, self.name]

    @property
    def sql_path(self) -> str | None:
        if self.sql:
            return self.sql
        if self.layer != "bronze" and self.transform is None:
            return f"{self.layer}/{self.name}.sql"
        return None

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)
