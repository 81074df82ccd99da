"""The model step of a silver or gold table, in the order a run takes it and shared by the asset and the tests:

    upstream frames (registered as temp views)  ->  the model (SQL file or Python transform)
    ->  only the batch's partitions  ->  row rules (quarantine, fail)  ->  the contract (quality.contracts)

The asset (pipeline/assets.py) reads the upstream frames from the warehouse and publishes; the model tests
(platform_tests/model_testing.py) hand in frames built from rows. Both run `model_frame` and `check_rows`.
"""
from __future__ import annotations

from typing import Mapping, Sequence

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from lakehouse.config import Settings
from lakehouse.engine.sql import load_sql, run_sql
from lakehouse.model.partitions import batch_days
from lakehouse.model.spec import TableSpec
from lakehouse.quality.contracts import CheckFailure, ScreenCounts, contract_screen, key_check
from lakehouse.quality.metrics import published_stats
from lakehouse.quality.rules import RuleOutcome, apply_rules, is_published


def required_columns(spec: TableSpec) -> list[str]:
    """Columns a row must have (declared required, so not nullable in the contract either). Their null rate
    among the rows that came in is reported per day."""
    return [n for n in spec.required_columns if n != "dt"]


def model_frame(session: SparkSession, spec: TableSpec, views: Mapping[str, DataFrame], keys: Sequence[str],
                settings: Settings) -> DataFrame:
    """The model's rows for partitions `keys`. `views` maps each upstream's view name to its frame; the frames
    are registered as temp views for the SQL. The SQL sees :start_dt and :end_dt, the batch's first and last day."""
    for name, frame in views.items():
        frame.createOrReplaceTempView(name)
    covered = batch_days(spec, list(keys))
    if spec.transform is not None:
        result = spec.transform(session, dict(views), covered[0], covered[-1], settings)
    else:
        result = run_sql(session, load_sql(spec.sql_path, settings), covered[0], covered[-1])
    result = result.where(result["dt"].isin(list(keys)))  # a model may only touch the partitions it was asked for
    return rank_versions(result, spec.version_key) if spec.version_key else result


def rank_versions(result: DataFrame, key: str) -> DataFrame:
    """__version_rank per (dt, key): 1 for the newest updated_at, then the latest export position; a row
    without a key is its own record (rank 1: the rule that wants the key present judges it)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    newest_first = Window.partitionBy("dt", key).orderBy(F.col("updated_at").desc_nulls_last(),
                                                          F.col("_line_number").desc())
    return result.withColumn("__version_rank", F.when(F.col(key).isNull(), F.lit(1))
                             .otherwise(F.row_number().over(newest_first)))


def check_rows(spec: TableSpec, result: DataFrame, days: Sequence[str] | None = None) -> RuleOutcome:
    """The row rules over the model's rows: valid rows, quarantined rows with their reasons, per-day counts;
    in the same pass the contract's screen over the rows that stay (`contract_counts`) and each day's metrics of
    them (quality.metrics). With the batch's `days`, that pass is the contract's key check (`key_duplicates`),
    which the counts ride along with."""
    required = required_columns(spec)
    published = StructType([f for f in result.schema.fields if is_published(f.name)])  # as RuleOutcome.valid has them
    keyed = key_check(spec)
    if keyed is not None and not set(spec.unique_key) <= set(published.fieldNames()):
        keyed = None  # a missing key column is the full contract's to report
    screen, stats = contract_screen(spec, published), published_stats(spec, published)
    return apply_rules(result, spec.rules, spec.id, required, published_checks=screen, days=days, first_pass=keyed,
                       published_stats=stats)


def keyed(outcome: RuleOutcome) -> bool:
    """Whether the batch's pass checked the contract's key (so a published day's distinct keys are its rows)."""
    return outcome.first_result is not None


def key_duplicates(outcome: RuleOutcome) -> list[CheckFailure] | None:
    """The key check `check_rows` ran in the batch's pass, for `evaluate_contract(..., duplicates=)`."""
    return outcome.first_result


def contract_counts(outcome: RuleOutcome) -> ScreenCounts | None:
    """The contract screen's counts from `check_rows`, for `evaluate_contract(..., counted=)`."""
    if outcome.published_violations is None:
        return None
    return ScreenCounts(outcome.rows_published, outcome.published_violations)
