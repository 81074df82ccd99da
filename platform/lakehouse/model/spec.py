"""The table spec: one declaration per table drives its asset, checks, catalog entry, quarantine and docs."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Literal

Layer = Literal["bronze", "silver", "gold"]
DT = r"^\d{4}-\d{2}-\d{2}$"  # a daily partition's name
MONTH_DT = r"^\d{4}-\d{2}-01$"  # a monthly partition's name: the month's first day
Severity = Literal["warn", "drop", "fail"]
# What an anomaly in a metric of a published partition does (quality.anomaly): nothing, a WARN check, or the
# batch refused like a failing contract.
AnomalyLevel = Literal["off", "warn", "block"]


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
    # What a batch needs of this upstream in the warehouse it reads (a missing partition is never read as
    # empty): None = the default of the window; "optional": it enriches the model when it has the days and
    # reads as an empty frame otherwise, and is no asset dependency, so its absence never holds back the
    # model (customer behaviour from a warehouse that may not be configured); "any": one of several
    # alternative sources (click events from files or from Kafka): a day waits for at least one of them.
    need: Literal["day", "as_of", "optional", "any"] | None = None

    @property
    def needs(self) -> str:
        """`need`, or the window's default: "day" for "same" and "history", "as_of" for "lookback" and "month"
        (the newest partition in the window stands in for a missing day: a catalog or a rate read as of it)."""
        if self.need is not None:
            return self.need
        return "day" if self.window in ("same", "history") else "as_of"

    @property
    def view(self) -> str:
        """Temp view name the SQL uses for this upstream, e.g. silver_orders."""
        return self.table.replace(".", "_")


_NUMBER_TYPES = ("tinyint", "smallint", "int", "bigint", "float", "double")


@dataclass(frozen=True)
class TableSpec:
    layer: Layer
    domain: str
    name: str
    description: str
    columns: tuple[Column, ...] = ()
    upstreams: tuple[Upstream, ...] = ()
    landing: LandingSource | None = None
    # A bronze table fed by an extractor instead of landing files (e.g. lakehouse.ingest.postgres.DatabaseExport):
    # extract(settings, spec, dt, ingested_at, staging) -> a result with .files (the day's staged Parquet files,
    # rows with `dt`), .schema, .rows_written, .source_count (the source's count for the day, None if not
    # checked), .count_matches, .batches, .attempts, .source, .mode.
    extract: Callable[..., Any] | None = None
    # A bronze table fed from a message stream (lakehouse.ingest.kafka_stream.KafkaStream): the asset's body is
    # pipeline/kafka_asset.py, which commits the rows together with the stream offsets.
    stream: Any = None
    sql: str | None = None  # relative to the sql dir; defaults to <layer>/<name>.sql for silver/gold
    # A Python transform when SQL cannot express it: transform(session, views, start_dt, end_dt, settings)
    transform: Callable[..., Any] | None = None
    rules: tuple[RowRule, ...] = ()
    # The blocking contract (quality.contracts.contract_schema): these columns, types and `required` flags,
    # unique on `unique_key`, plus value checks per column named as pandera Checks: {"qty": dict(gt=0)}.
    # None: no contract (bronze keeps rows as received).
    contract: dict[str, dict[str, Any]] | None = None
    unique_key: tuple[str, ...] = ()
    # Rows sharing (dt, version_key) are versions of one record (a source that re-sends rows): the model step
    # ranks them as __version_rank, newest updated_at first, then the latest export position, for the
    # declare.LATEST_VERSION rule to keep the first and quarantine the others. None: no ranking.
    version_key: str | None = None
    format: Literal["delta", "parquet"] | None = None  # None: the configured default
    partitioning: Literal["daily", "monthly"] = "daily"
    retention_days: int | None = None  # None: the layer default
    pii: tuple[str, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)
    # Columns whose per-day sum is recorded (`sum.<column>` in ops.partition_metrics) and compared on re-runs.
    measures: tuple[str, ...] = ()
    # Anomaly checks per metric name or fnmatch pattern ("rows", "sum.revenue_usd", "null_fraction.*"): off, warn
    # or block, over the defaults of `anomaly_levels` (row count: block on gold, warn elsewhere).
    anomaly: dict[str, AnomalyLevel] = field(default_factory=dict)

    def __post_init__(self) -> None:
        levels = {m: level for m, level in self.anomaly.items() if level not in ("off", "warn", "block")}
        if levels:
            raise ValueError(f"{self.id}: anomaly levels are off, warn or block, not {levels}")
        if self.layer == "bronze" and "block" in self.anomaly.values():
            raise ValueError(f"{self.id}: bronze keeps what landed; its anomalies may warn, not block")
        types = {c.name: c.type.replace(" ", "").lower() for c in self.columns}
        for m in self.measures:
            if m not in types or not (types[m] in _NUMBER_TYPES or types[m].startswith("decimal(")):
                raise ValueError(f"{self.id}: measure {m!r} is not a declared numeric column")

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
    def anomaly_levels(self) -> dict[str, AnomalyLevel]:
        """The spec's anomaly levels over the defaults a new table gets: its row count judged, blocking on gold."""
        return {"rows": "block" if self.layer == "gold" else "warn", **self.anomaly}

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)
