"""Maintenance: retention per layer removes only expired partitions; compaction, vacuum and partition health."""
from __future__ import annotations

from datetime import date, timedelta

import pyarrow as pa
from dagster import DagsterInstance

from lakehouse.automation.maintenance import apply_retention, health_markdown, health_report, partition_health
from lakehouse.pipeline.registry import get_spec
from lakehouse.resources import LakehouseResource


def _rows(spec, days: list[str]) -> pa.Table:
    names = [c.name for c in spec.columns if c.name != "dt"]
    schema = pa.schema([pa.field(n, pa.string()) for n in names] + [pa.field("dt", pa.string())])
    return pa.table({n: [None] * len(days) for n in names} | {"dt": days}).cast(schema)


def test_retention_removes_only_expired_partitions(lakehouse_env):
    lakehouse = LakehouseResource()
    spec = get_spec("bronze.fx_rates")
    days = ["2024-01-01", "2024-03-30", "2024-03-31", "2024-04-01"]
    lakehouse.publish(spec, _rows(spec, days), days)
    removed = apply_retention(lakehouse, spec, today=date(2024, 6, 30))  # bronze keeps 90 days: cutoff 2024-04-01
    assert removed == ["2024-01-01", "2024-03-30", "2024-03-31"]
    assert lakehouse.partitions_of(spec) == ["2024-04-01"]
    assert apply_retention(lakehouse, spec, today=date(2024, 6, 30)) == []  # idempotent
    health = partition_health(lakehouse, spec)
    assert (health.present, health.expected, health.last_rows) == (1, 1, {"2024-04-01": 1})
    assert health.last_update and health.last_update.startswith(str(date.today().year))


def test_retention_is_configurable_per_layer(lakehouse_env, monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_RETENTION_BRONZE_DAYS", "10")
    lakehouse = LakehouseResource()
    spec = get_spec("bronze.fx_rates")
    days = ["2024-06-01", "2024-06-19", "2024-06-20"]
    lakehouse.publish(spec, _rows(spec, days), days)
    # ten days back from 2024-06-30 is 2024-06-20: that day is kept, the ones before it go
    assert apply_retention(lakehouse, spec, today=date(2024, 6, 30)) == ["2024-06-01", "2024-06-19"]


def test_maintenance_job_expires_compacts_vacuums_and_reports_health(lakehouse_env):
    from lakehouse.definitions import build_definitions

    lakehouse = LakehouseResource()
    spec = get_spec("bronze.fx_rates")
    today = date.today()
    old, recent = (today - timedelta(days=200)).isoformat(), [(today - timedelta(days=d)).isoformat() for d in (3, 1)]
    for day in [old, *recent, recent[-1]]:  # the last day twice: more than one commit to compact and vacuum
        lakehouse.publish(spec, _rows(spec, [day, day]), [day])
    result = build_definitions().resolve_job_def("lakehouse_maintenance").execute_in_process(
        instance=DagsterInstance.ephemeral())
    assert result.success
    assert lakehouse.partitions_of(spec) == recent
    meta = next(e for e in result.all_events if e.is_successful_output).event_specific_data.metadata
    report = meta["tables"].value["bronze.fx_rates"]
    assert report["expired_partitions"] == [old]
    assert (report["present"], report["expected"], report["missing"]) == (2, 3, [(today - timedelta(days=2)).isoformat()])
    assert "bronze.fx_rates" in meta["partition_health"].value


def test_health_report_covers_every_table_even_empty_ones(lakehouse_env):
    rows = health_report(LakehouseResource())
    assert {r["table"] for r in rows} >= {"bronze.shop_orders", "gold.daily_sales_summary"}
    assert all(r["present"] == 0 for r in rows)
    assert "| gold.daily_sales_summary | 0/0" in health_markdown(rows)


def test_a_monthly_partition_expires_only_once_its_last_day_has(lakehouse_env):
    lakehouse = LakehouseResource()
    spec = get_spec("gold.business_metrics")  # gold keeps 730 days
    months = ["2024-01-01", "2024-02-01"]
    lakehouse.publish(spec, _rows(spec, months), months)
    # 730 days before 2026-01-29 is 2024-01-30: January 2024 still has a day inside the window
    assert apply_retention(lakehouse, spec, today=date(2026, 1, 29)) == []
    assert apply_retention(lakehouse, spec, today=date(2026, 2, 5)) == ["2024-01-01"]
    assert lakehouse.partitions_of(spec) == ["2024-02-01"]
