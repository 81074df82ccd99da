"""Commerce end to end through Dagster: generated dirty data -> bronze -> silver -> gold, with the gates."""
from __future__ import annotations

import csv
from datetime import date
from pathlib import Path
from urllib.parse import urlparse

import pytest
from dagster import AssetKey, DagsterInstance
from tables_testing import table_content

from lakehouse.pipeline.registry import get_spec, specs_in
from lakehouse.runs import RANGE_END, RANGE_START, materialize_range

pytestmark = pytest.mark.slow

START, END, BAD_DAY = "2024-06-03", "2024-06-04", "2024-06-05"
MODEL_TABLES = [s for s in specs_in(domain="commerce") if s.layer != "bronze"]


def _status(spec, start=START, end=END):
    from lakehouse.resources import LakehouseResource
    from lakehouse.summary import table_status

    return table_status(LakehouseResource(), spec, start, end)


def _version(table: str) -> int:
    from deltalake import DeltaTable

    from lakehouse.resources import LakehouseResource

    lh = LakehouseResource()
    return DeltaTable(lh.uri_of(get_spec(table))).version()


def _run(defs, instance, tables, day):
    job = defs.resolve_job_def("lakehouse_daily")
    return job.execute_in_process(
        instance=instance, asset_selection=[AssetKey(get_spec(t).asset_key_path) for t in tables],
        tags={RANGE_START: day, RANGE_END: day}, raise_on_error=False,
    )


def _accounting(results) -> dict[tuple[str, str], tuple[int, int, int]]:
    """(table, first partition) -> (rows_in, rows_published, rows_quarantined) from materialization metadata."""
    out = {}
    for result in results:
        for ev in result.get_asset_materialization_events():
            mat = ev.event_specific_data.materialization
            meta = mat.metadata
            if "rows_in" in meta:
                out[(".".join(mat.asset_key.path), mat.partition)] = (
                    meta["rows_in"].value, meta["rows_published"].value, meta["rows_quarantined"].value)
    return out


def _land_bad_orders(settings, day: str, unit_price: str) -> Path:
    """An extra orders file for `day` whose prices are in cents: every row passes the row rules."""
    folder = Path(urlparse(settings.landing).path) / "shop" / "orders" / f"dt={day}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "zz-repriced.csv"
    columns = [c.name for c in get_spec("bronze.shop_orders").columns]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for i in range(3):
            writer.writerow({"order_id": f"BAD-{i}", "customer_id": "C-BAD", "product_id": "P-BAD",
                             "order_ts": f"{day}T12:00:00Z", "quantity": "1", "unit_price": unit_price,
                             "currency": "USD", "status": "placed", "region": "emea", "payment_method": "card"})
    return path


def test_commerce_bronze_to_gold_with_gates(lakehouse_env):
    from lakehouse.definitions import build_definitions
    from lakehouse.dev.generate.commerce import land_commerce

    land_commerce(lakehouse_env, date.fromisoformat(START), 3, 200, 7)
    defs = build_definitions()
    instance = DagsterInstance.ephemeral()

    # 1. two days, every table, one daily run plus the monthly run
    run = materialize_range(defs, START, END, instance=instance, domain="commerce")
    assert run.success, run.failures()
    statuses = {s.id: _status(s) for s in MODEL_TABLES}
    assert not [t for t, st in statuses.items() if st.rows == 0], statuses
    assert sum(st.quarantined for st in statuses.values()) > 0
    accounting = _accounting(run.results)
    assert {t for t, _ in accounting} >= {s.id for s in MODEL_TABLES}
    for key, (rows_in, published, quarantined) in accounting.items():
        assert rows_in == published + quarantined, key
    for table, checks in run.check_results().items():
        assert all(checks.values()), (table, checks)
    # the run publishes its daily gold tables before the silver tables no gold table reads
    started = [ev.step_key for result in run.results for ev in result.all_events if ev.event_type_value == "STEP_START"]
    gold = [started.index(f"gold__{s.name}") for s in MODEL_TABLES if s.layer == "gold" and s.partitioning == "daily"]
    side = [started.index(f"silver__{name}") for name in ("customers", "crm_contacts", "crm_deals")]
    assert len(gold) == 3 and max(gold) < min(side), started

    # 2. idempotency: re-running a day of every table (SCD2 history, monthly gold included) leaves every
    # table and every quarantine exactly as it was
    commerce = [s.id for s in specs_in(domain="commerce")]
    before = {t: (table_content(t), table_content(t, quarantine=get_spec(t).layer != "gold")) for t in commerce}
    rerun = materialize_range(defs, END, END, instance=instance, domain="commerce", log_level="WARNING")
    assert rerun.success, rerun.failures()
    for table, (rows, quarantined) in before.items():
        assert table_content(table).equals(rows), table
        if get_spec(table).layer != "gold":
            assert table_content(table, quarantine=True).equals(quarantined), table

    # 3. a bad day: prices landed in cents pass every row rule but break the orders contract
    bad_file = _land_bad_orders(lakehouse_env, BAD_DAY, "4999900")
    version, published = _version("silver.orders"), table_content("silver.orders")
    chain = ["bronze.shop_orders", "bronze.fx_rates", "silver.fx_rates", "silver.orders", "bronze.shop_products",
             "silver.products", "gold.daily_sales_summary"]
    refused = _run(defs, instance, chain, BAD_DAY)
    assert not refused.success
    checks = {(".".join(e.asset_key.path), e.check_name): e.passed for e in refused.get_asset_check_evaluations()}
    assert checks[("silver.orders", "contract")] is False
    assert _version("silver.orders") == version and table_content("silver.orders").equals(published)
    assert BAD_DAY not in [p for p in _partitions("gold.daily_sales_summary")]
    materialized = {".".join(ev.asset_key.path) for ev in refused.get_asset_materialization_events()
               if ev.asset_key is not None}
    assert "gold.daily_sales_summary" not in materialized and "silver.orders" not in materialized
    assert _rejected_exists(lakehouse_env, "silver", "orders")

    # 4. the feed is fixed and the day re-run: the day flows through to gold
    _land_bad_orders(lakehouse_env, BAD_DAY, "49.99")
    recovered = _run(defs, instance, chain, BAD_DAY)
    assert recovered.success
    assert BAD_DAY in _partitions("silver.orders") and BAD_DAY in _partitions("gold.daily_sales_summary")
    assert bad_file.exists()


def _partitions(table: str) -> list[str]:
    from lakehouse.resources import LakehouseResource

    return LakehouseResource().partitions_of(get_spec(table))


def _rejected_exists(settings, layer: str, name: str) -> bool:
    return (Path(urlparse(settings.warehouse).path) / "_rejected" / layer / name).exists()


def test_each_day_of_a_backfill_reports_its_own_numbers(lakehouse_env):
    """A two-day single-run backfill: each partition's materialization carries that day's rows in, published,
    quarantined, rule violations and null rates, and they add up to what the tables hold per day."""
    from lakehouse.definitions import build_definitions
    from lakehouse.dev.generate.commerce import land_commerce

    land_commerce(lakehouse_env, date.fromisoformat(START), 2, 60, 3)
    tables = ["bronze.shop_orders", "bronze.fx_rates", "silver.fx_rates", "silver.orders"]
    result = _run_range(build_definitions(), DagsterInstance.ephemeral(), tables, START, END)
    assert result.success
    meta = {(".".join(ev.asset_key.path), ev.partition): {k: v.value for k, v in
            ev.event_specific_data.materialization.metadata.items()}
            for ev in result.get_asset_materialization_events()}
    for table in tables:
        days = [meta[(table, day)] for day in (START, END)]
        for day, m in zip((START, END), days):
            published = table_content(table, partitions=[day]).num_rows
            quarantined = table_content(table, quarantine=True, partitions=[day]).num_rows
            assert (m["rows_published"], m["rows_quarantined"]) == (published, quarantined), (table, day)
            assert m["rows_in"] == published + quarantined and m["dagster/row_count"] == published
    # preview, seconds and batch facts are each partition's own: a day previews its own rows
    fx = {day: meta[("silver.fx_rates", day)] for day in (START, END)}
    assert START in fx[START]["preview"] and END not in fx[START]["preview"] and END in fx[END]["preview"]
    assert fx[START]["seconds.write"] == fx[END]["seconds.write"]  # each carries its share of the one step
    assert fx[START]["batch"] == f"{START}..{END} (2 partitions in one step)" and "partitions" not in fx[START]
    orders = meta[("silver.orders", START)]
    assert {"violations.positive_quantity", "null_rate.order_id"} <= set(orders)
    assert 0 <= orders["null_rate.order_id"] <= 1
    assert "null_rate.order_id" in meta[("bronze.shop_orders", START)]


def _run_range(defs, instance, tables, start, end):
    job = defs.resolve_job_def("lakehouse_daily")
    return job.execute_in_process(
        instance=instance, asset_selection=[AssetKey(get_spec(t).asset_key_path) for t in tables],
        tags={RANGE_START: start, RANGE_END: end}, raise_on_error=False)
