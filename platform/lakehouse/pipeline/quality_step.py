"""A step's quality memory, in the order the asset bodies take it:

    the batch's metrics (quality.metrics)  ->  judged against the history (quality.anomaly; the `anomaly` check)
    ->  on a re-run, what it changes (quality.diff; the `rerun_diff` check)  ->  publish  ->  both recorded

The judgement reads `ops.partition_metrics` with delta-rs (a small metadata-sized read, no Spark job) before
anything is published; the diff is a Spark job only when a partition of the batch already held data; the record
is one blind append per ops table after the publish, with the Delta version it published.
"""
from __future__ import annotations

from datetime import date
from typing import Mapping, Sequence

from dagster import AssetCheckResult, AssetCheckSeverity, MetadataValue
from pyspark.sql import DataFrame, SparkSession

from lakehouse.config import Settings
from lakehouse.model.partitions import add_days, batch_days
from lakehouse.model.spec import TableSpec
from lakehouse.quality import history
from lakehouse.quality.anomaly import Judgement, judge, judged_metrics
from lakehouse.quality.diff import partition_diff

Metrics = Mapping[str, Mapping[str, float | None]]  # {dt: {metric: value}}
MAX_SHOWN = 31  # judgements listed in a check's metadata (a long backfill lists its outliers and the first days)


def judge_batch(settings: Settings, spec: TableSpec, metrics: Metrics) -> list[Judgement]:
    """Each judged metric of each partition against its baseline in ops.partition_metrics."""
    days, names = judged_metrics(spec, metrics)
    if not names:
        return []
    rows = history.read(settings, history.PARTITION_METRICS, spec.id, days, names)
    return judge(spec, metrics, history.current(rows))


def anomaly_result(spec: TableSpec, judgements: list[Judgement]) -> AssetCheckResult:
    """The `anomaly` check: fails when a judged metric is outside its band, with ERROR severity when its level
    blocks; its metadata names the metric, value, expected band and the history used."""
    outliers = [j for j in judgements if j.outlier]
    blocking = [j for j in outliers if j.blocks]
    judged = [j for j in judgements if j.judged]
    shown = outliers + [j for j in judgements if not j.outlier][:max(MAX_SHOWN - len(outliers), 0)]
    meta: dict = {"judged": len(judged), "not_judged": len(judgements) - len(judged),
                  "outliers": len(outliers), "judgements": MetadataValue.json([j.metadata() for j in shown])}
    if outliers:
        worst = (blocking or outliers)[0]
        meta.update({"metric": worst.metric, "dt": worst.dt, "value": worst.value,
                     "expected_low": round(worst.low, 6), "expected_high": round(worst.high, 6),
                     "history": MetadataValue.json({d: v for d, v in worst.history}), "summary": worst.summary()})
    elif judgements and not judged:
        meta["summary"] = "not judged yet: each metric needs 3 earlier same-weekday partitions in ops.partition_metrics"
    return AssetCheckResult(check_name="anomaly", passed=not outliers, metadata=meta,
                            severity=AssetCheckSeverity.ERROR if blocking else AssetCheckSeverity.WARN)


def rerun_diffs(lakehouse, session: SparkSession, spec: TableSpec, batch: DataFrame, keys: Sequence[str]
                ) -> dict[str, dict[str, float]]:
    """What publishing `batch` changes in the partitions of `keys` that already hold data (none: nothing to do)."""
    before = sorted(set(lakehouse.partitions_of(spec)) & set(keys))  # from the Delta log: no Spark job
    if not before:
        return {}
    published = lakehouse.read_df(session, spec, before)
    return partition_diff(batch, published, spec.unique_key, spec.measures, before)


def closed_changes(settings: Settings, spec: TableSpec, diffs: Mapping[str, Mapping[str, float]],
                   today: date | None = None) -> dict[str, float]:
    """{dt: changed share} of the closed partitions (all days older than the configured age) a re-run changes
    by more than the configured share."""
    cutoff = add_days((today or date.today()).isoformat(), -settings.closed_day_age_days)
    return {dt: d["changed_share"] for dt, d in diffs.items()
            if batch_days(spec, [dt])[-1] < cutoff and d["changed_share"] > settings.closed_day_change_share}


def diff_result(settings: Settings, spec: TableSpec, diffs: Mapping[str, Mapping[str, float]]) -> AssetCheckResult:
    """The `rerun_diff` check (WARN): passes unless a closed day changes by more than the configured share."""
    changed = closed_changes(settings, spec, diffs)
    meta: dict = {"rerun_partitions": len(diffs), "diffs": MetadataValue.json(dict(diffs)),
                  "closed_day_age_days": settings.closed_day_age_days,
                  "closed_day_change_share": settings.closed_day_change_share}
    if not diffs:
        meta["summary"] = "a first publish of every partition: nothing to compare"
    if changed:
        meta["closed_days_changed"] = MetadataValue.json(changed)
        meta["summary"] = (f"{len(changed)} closed day(s) changed by more than {settings.closed_day_change_share:.2%}: "
                           + ", ".join(f"{dt} ({share:.2%})" for dt, share in sorted(changed.items())))
    return AssetCheckResult(check_name="rerun_diff", passed=not changed, severity=AssetCheckSeverity.WARN,
                            metadata=meta)


def diff_metadata(diff: Mapping[str, float]) -> dict[str, float]:
    """A re-run partition's diff on its materialization."""
    return {f"rerun.{k}": v for k, v in diff.items()}


def record(lakehouse, spec: TableSpec, run_id: str, metrics: Metrics,
           diffs: Mapping[str, Mapping[str, float]] | None = None) -> int | None:
    """After the publish: the partitions' metrics (and a re-run's diffs), tagged with the Delta version it made."""
    version = lakehouse.store().version(lakehouse.uri_of(spec), lakehouse.format_of(spec))
    history.append(lakehouse, history.PARTITION_METRICS, history.long_rows(spec.id, run_id, version, metrics))
    if diffs:
        history.append(lakehouse, history.PARTITION_DIFFS, history.long_rows(spec.id, run_id, version, diffs))
    return version
