"""Model tests in the manner of SQLMesh: tiny input rows per upstream view -> the model's output rows.

`run_model` does what the asset factory does between reading upstreams and publishing, on rows given in
the test instead of stored partitions: it registers one temp view per upstream (missing ones are empty,
with the upstream's declared columns), runs the spec's SQL (or transform) with :start_dt/:end_dt, keeps
the batch's partitions, applies the row rules and evaluates the contract. Input rows are dicts; columns
left out are NULL, and strings are accepted for date, timestamp and decimal columns.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from typing import Any, Mapping, Sequence

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from lakehouse.config import Settings
from lakehouse.model.spec import TableSpec
from lakehouse.pipeline.model_step import check_rows, model_frame
from lakehouse.pipeline.registry import get_spec
from lakehouse.quality.contracts import ContractResult, evaluate_contract

LINEAGE_COLUMNS = ("_source_file", "_line_number")
_BRONZE_EXTRA = "_rescued_data string, _source_file string, _line_number bigint, _ingested_at timestamp"


def view_schema(spec: TableSpec) -> T.StructType:
    """The schema a stored partition of `spec` has when the factory reads it as an upstream view."""
    if spec.layer == "bronze" and spec.stream is None:  # a database-fed bronze spec declares its lineage itself
        extra = {part.split()[0] for part in _BRONZE_EXTRA.split(", ")} | {"dt"}
        ddl = ", ".join(f"`{c.name}` string" for c in spec.columns if c.name not in extra) + f", {_BRONZE_EXTRA}, dt string"
    else:
        ddl = ", ".join(f"`{c.name}` {c.type}" for c in spec.columns if c.name != "dt") + ", dt string"
    return T.StructType.fromDDL(ddl)


def _coerce(value: Any, data_type: T.DataType) -> Any:
    if value is None or not isinstance(value, str):
        if isinstance(data_type, T.DecimalType) and isinstance(value, (int, float)):
            return Decimal(str(value))
        return value
    if isinstance(data_type, T.DecimalType):
        return Decimal(value)
    if isinstance(data_type, T.TimestampType):
        parsed = dt.datetime.fromisoformat(value)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)
    if isinstance(data_type, T.DateType):
        return dt.date.fromisoformat(value)
    return value


def frame(spark: SparkSession, spec: TableSpec, rows: Sequence[Mapping[str, Any]]) -> DataFrame:
    schema = view_schema(spec)
    unknown = {k for row in rows for k in row} - set(schema.names)
    if unknown:
        raise KeyError(f"{spec.id} has no columns {sorted(unknown)}")
    data = [tuple(_coerce(row.get(f.name), f.dataType) for f in schema.fields) for row in rows]
    return spark.createDataFrame(data, schema)


@dataclass
class ModelRun:
    output: DataFrame  # the model's rows for the batch's partitions, before the rules
    valid: list[dict]
    quarantined: list[dict]  # {"rules": [...], **row}
    violations: dict[str, int]
    failed_rules: dict[str, int]
    valid_frame: DataFrame
    spec: TableSpec

    @cached_property
    def contract(self) -> ContractResult:
        """The contract on the published rows, evaluated on first use (pandera runs a job per check)."""
        return evaluate_contract(self.valid_frame, self.spec)

    def rows(self, *columns: str, lineage: bool = False) -> list[dict]:
        """Published rows (all columns, or the ones named), sorted, lineage columns left out by default."""
        return _select(self.valid, columns, lineage)

    def quarantine(self, *columns: str) -> list[dict]:
        """Quarantined rows as {column: value, ..., "rules": [...]}, sorted by the named columns."""
        return _select(self.quarantined, (*columns, "rules") if columns else (), True)


def _select(rows: list[dict], columns: Sequence[str], lineage: bool) -> list[dict]:
    out = []
    for row in rows:
        keep = list(columns) or [c for c in row if lineage or c not in LINEAGE_COLUMNS]
        out.append({c: row.get(c) for c in keep})
    return sorted(out, key=lambda r: [str(v) for v in r.values()])


def run_model(spark: SparkSession, table: str, inputs: Mapping[str, Sequence[Mapping[str, Any]]],
              start_dt: str, end_dt: str | None = None) -> ModelRun:
    """Run the model of `table` (e.g. "silver.orders") for partitions start_dt..end_dt over `inputs`.

    `inputs` maps upstream view names (bronze_shop_orders, silver_fx_rates, ...) to rows. For a monthly
    table give the month's first day as start_dt/end_dt.
    """
    spec = get_spec(table)
    views = {up.view: get_spec(up.table) for up in spec.upstreams}
    unknown = set(inputs) - set(views)
    if unknown:
        raise KeyError(f"{spec.id} reads {sorted(views)}, not {sorted(unknown)}")
    frames = {view: frame(spark, up_spec, inputs.get(view, ())) for view, up_spec in views.items()}
    # the run's own model step (pipeline/model_step.py): the model, the batch's partitions, the row rules
    keys = _partition_keys(spec, start_dt, end_dt or start_dt)
    result = model_frame(spark, spec, frames, keys, Settings.from_env())
    outcome = check_rows(spec, result, keys)
    try:
        valid = [r.asDict(recursive=True) for r in outcome.valid.collect()]
        quarantined = [{"rules": list(r["rules"]), **json.loads(r["record"])}
                       for r in outcome.quarantine.select("rules", "record").collect()]
        # the contract reads these rows again later, independent of the cache released below
        valid_frame = spark.createDataFrame([tuple(r.values()) for r in valid], outcome.valid.schema)
    finally:
        outcome.release()
    return ModelRun(result, valid, quarantined, outcome.violations, outcome.failed_rules, valid_frame, spec)


def _partition_keys(spec: TableSpec, start: str, end: str) -> list[str]:
    from lakehouse.model.partitions import days

    if spec.partitioning == "monthly":
        return sorted({d[:8] + "01" for d in days(start, end)})
    return days(start, end)
