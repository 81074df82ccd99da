"""What is measured of every published partition, by name, for `ops.partition_metrics` and the anomaly checks.

    rows                      rows published
    rows_quarantined          rows set aside (model tables: by drop rules; bronze: lines that did not parse)
    quarantined.<rule>        rows a drop rule sent to quarantine (a row breaking two counts in both)
    violations.<rule>         rows breaking a warn rule (kept)
    null_fraction.<column>    share of the published rows without a value (model tables: the nullable columns,
                              a required one has none once published; bronze: its required columns)
    min.<column>, max.<column>  numbers as they are, dates as days and timestamps as seconds since 1970-01-01
                              (UTC); never of a PII column, whose values are not ours to publish
    sum.<measure>             the spec's `measures`
    distinct_keys             keys of the contract's `unique_key`: the rows published, as the key check that
                              passed before publishing proves (no job of its own)

A model table's aggregates are taken in the batch's one pass (`published_stats` -> rules.apply_rules); a bronze
table's come from the per-file parse stats it already has. Lineage columns (`_...`) and `dt` are not measured.
"""
from __future__ import annotations

from typing import Mapping

from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse.model.spec import TableSpec
from lakehouse.engine.sql import exact_column
from lakehouse.quality.rules import DayStat, RuleOutcome

_NUMBERS = (T.ByteType, T.ShortType, T.IntegerType, T.LongType, T.FloatType, T.DoubleType, T.DecimalType)
_NULLS = "nulls."  # a count taken in the pass, reported as null_fraction.<column>


def _measured(name: str) -> bool:
    return name != "dt" and not name.startswith("_")


def _as_number(field: T.StructField):
    """The column as a number min/max can be recorded as (None: not a number, date or timestamp)."""
    column = exact_column(field.name)
    if isinstance(field.dataType, _NUMBERS):
        return column
    if isinstance(field.dataType, T.DateType):
        return F.unix_date(column)
    if isinstance(field.dataType, (T.TimestampType, T.TimestampNTZType)):
        return F.unix_micros(column.cast("timestamp")) / 1_000_000
    return None


def published_stats(spec: TableSpec, schema: T.StructType) -> list[DayStat]:
    """The aggregates a model table's batch pass takes per day over the rows it publishes (`schema`)."""
    required, pii = set(spec.required_columns), set(spec.pii)
    stats: list[DayStat] = []
    for field in schema.fields:
        if not _measured(field.name):
            continue
        if field.name not in required:
            stats.append(DayStat(_NULLS + field.name, "count", exact_column(field.name).isNull()))
        number = _as_number(field) if field.name not in pii else None
        if number is not None:
            stats += [DayStat(f"min.{field.name}", "min", number), DayStat(f"max.{field.name}", "max", number)]
    present = {f.name: f for f in schema.fields}
    stats += [DayStat(f"sum.{m}", "sum", exact_column(m)) for m in spec.measures if m in present]
    return stats


def model_metrics(spec: TableSpec, outcome: RuleOutcome, days: list[str], keyed: bool
                  ) -> dict[str, dict[str, float | None]]:
    """{dt: {metric: value}} of each of a model table's batch `days` (one with no rows has rows 0), from what its
    one pass counted. `keyed`: the contract's key check ran over the batch (and passed, or nothing would be
    published)."""
    severity = {r.name: r.severity for r in spec.rules}
    out: dict[str, dict[str, float | None]] = {}
    for dt in days:
        day = outcome.by_day.get(dt) or {"rows_published": 0, "rows_quarantined": 0}
        rows = day["rows_published"]
        metrics: dict[str, float | None] = {"rows": rows, "rows_quarantined": day["rows_quarantined"]}
        for key, n in day.items():
            if key.startswith("violations."):
                rule = key.split(".", 1)[1]
                kind = {"drop": "quarantined", "warn": "violations"}.get(severity.get(rule, ""))
                if kind:  # a fail rule that was broken published nothing
                    metrics[f"{kind}.{rule}"] = n
        for name, value in outcome.stats_by_day.get(dt, {}).items():
            if name.startswith(_NULLS):
                metrics["null_fraction." + name[len(_NULLS):]] = round(value / rows, 6) if rows else None
            else:
                metrics[name] = value
        if keyed:
            metrics["distinct_keys"] = rows
        out[dt] = metrics
    return out


def bronze_metrics(rows_by_day: Mapping[str, int], quarantined_by_day: Mapping[str, int],
                   nulls: Mapping[str, Mapping[str, int]], required: list[str], days: list[str]
                   ) -> dict[str, dict[str, float | None]]:
    """{dt: {metric: value}} of each day of a landed bronze batch, from its parse stats."""
    out: dict[str, dict[str, float | None]] = {}
    for dt in days:
        rows, quarantined = rows_by_day.get(dt, 0), quarantined_by_day.get(dt, 0)
        out[dt] = {"rows": rows, "rows_quarantined": quarantined,
                   **{f"null_fraction.{c}": round(nulls.get(dt, {}).get(c, 0) / rows, 6) if rows else None
                      for c in required}}
    return out


def metadata_of(metrics: Mapping[str, float | None]) -> dict[str, float]:
    """A partition's metrics for its materialization (the ones its row accounting does not already carry)."""
    shown = ("null_fraction.", "min.", "max.", "sum.", "distinct_keys")
    return {k: v for k, v in metrics.items() if k.startswith(shown) and v is not None}
