"""Freshness of gold tables: each must have been updated within a day and a half, checked by a sensor.

Dagster 1.12 supersedes these checks by `FreshnessPolicy`, which is still in preview (an instance setting
turns it on) and judges an asset as a whole rather than per partition; the checks work on any instance.
Only domains that are set up get checks: billing without a database (LAKEHOUSE_BILLING_DSN) never runs, so its
gold table could only ever read "overdue".
"""
from __future__ import annotations

import warnings
from datetime import timedelta

from dagster import AssetsDefinition, DefaultSensorStatus, build_last_update_freshness_checks, \
    build_sensor_for_freshness_checks

from lakehouse.config import Settings
from lakehouse.tables.spec import TableSpec

GOLD_MAX_LAG = timedelta(hours=36)


def configured_domains(specs: tuple[TableSpec, ...], settings: Settings) -> set[str]:
    """Domains whose every bronze source is set up: landing files need nothing, an extractor its database."""
    unset = {s.domain for s in specs if s.layer == "bronze" and s.extract is not None
             and not s.extract.configured(settings)}
    return {s.domain for s in specs} - unset


def build_freshness(assets: list[AssetsDefinition], specs: tuple[TableSpec, ...], settings: Settings):
    """(freshness checks on every gold table of a configured domain, the sensor that evaluates them)."""
    domains = configured_domains(specs, settings)
    gold = [a for a, s in zip(assets, specs) if s.layer == "gold" and s.domain in domains]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the supersession notice, answered above
        checks = build_last_update_freshness_checks(assets=gold, lower_bound_delta=GOLD_MAX_LAG)
        sensor = build_sensor_for_freshness_checks(freshness_checks=checks, name="gold_freshness",
                                                   default_status=DefaultSensorStatus.RUNNING)
    return checks, sensor
