"""Freshness of gold tables: each must have been updated within a day and a half, checked by a sensor.

Dagster 1.12 supersedes these checks by `FreshnessPolicy`, which is still in preview (an instance setting
turns it on) and judges an asset as a whole rather than per partition; the checks work on any instance.
The checks are Dagster's last-update freshness checks, but Dagster's own sensor for them launches a run of
checks only (the Runs list shows "2 checks" between the runs that move data, and each waits in the one-run
queue); this sensor evaluates them itself and records the results without a run.
Only domains that are set up get checks: billing without a database (LAKEHOUSE_BILLING_DSN) never runs, so its
gold table could only ever read "overdue". A table never materialized is not judged: it has no data to be stale.
"""
from __future__ import annotations

import time
import warnings
from datetime import timedelta

from dagster import (AssetCheckEvaluation, AssetCheckSeverity, AssetsDefinition, DefaultSensorStatus, SensorResult,
                     SkipReason, build_last_update_freshness_checks, sensor)

from lakehouse.config import Settings
from lakehouse.model.spec import TableSpec

GOLD_MAX_LAG = timedelta(hours=36)
REPEAT = timedelta(hours=1)  # an unchanged result is recorded again at most this often


def configured_domains(specs: tuple[TableSpec, ...], settings: Settings) -> set[str]:
    """Domains whose every bronze source is set up: landing files need nothing, an extractor its database."""
    unset = {s.domain for s in specs if s.layer == "bronze" and s.extract is not None
             and not s.extract.configured(settings)}
    return {s.domain for s in specs} - unset


def evaluate_freshness(instance, check_keys, now: float, max_lag: timedelta = GOLD_MAX_LAG) -> list[AssetCheckEvaluation]:
    """The evaluations to record now: a changed result, or one not recorded within REPEAT."""
    out = []
    for key in check_keys:
        event = instance.get_latest_materialization_event(key.asset_key)
        if event is None:
            continue
        lag = now - event.timestamp
        passed = lag <= max_lag.total_seconds()
        summary = instance.event_log_storage.get_asset_check_summary_records([key])[key]
        last = summary.last_completed_check_execution_record
        if last is not None and last.event is not None:
            before = last.event.asset_check_evaluation
            if before is not None and before.passed == passed and now - last.event.timestamp < REPEAT.total_seconds():
                continue
        out.append(AssetCheckEvaluation(
            asset_key=key.asset_key, check_name=key.name, passed=passed, severity=AssetCheckSeverity.WARN,
            metadata={"last_updated_timestamp": event.timestamp, "hours_since_update": round(lag / 3600, 2),
                      "max_hours": max_lag.total_seconds() / 3600}))
    return out


def build_freshness(assets: list[AssetsDefinition], specs: tuple[TableSpec, ...], settings: Settings):
    """(freshness checks on every gold table of a configured domain, the sensor that evaluates them)."""
    domains = configured_domains(specs, settings)
    gold = [a for a, s in zip(assets, specs) if s.layer == "gold" and s.domain in domains]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the supersession notice, answered above
        checks = build_last_update_freshness_checks(assets=gold, lower_bound_delta=GOLD_MAX_LAG)
    check_keys = [key for c in checks for key in c.check_keys]

    @sensor(name="gold_freshness", minimum_interval_seconds=300, default_status=DefaultSensorStatus.RUNNING,
            description=f"Records whether each gold table was updated within {GOLD_MAX_LAG}, without launching a run.")
    def gold_freshness(context):
        evaluations = evaluate_freshness(context.instance, check_keys, time.time())
        return SensorResult(asset_events=evaluations) if evaluations else SkipReason("no freshness change to record")

    return checks, gold_freshness
