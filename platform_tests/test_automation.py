"""Automation: silver and gold follow bronze with no click, for any updated day, not only the latest."""
from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path
from urllib.parse import urlparse

import pytest
from dagster import AssetKey, DagsterInstance, evaluate_automation_conditions

from lakehouse.dev.generate.commerce import land_commerce
from lakehouse.pipeline.conditions import WAITS
from lakehouse.pipeline.registry import specs_in
from lakehouse.resources import LakehouseResource
from lakehouse.runs import RANGE_END, RANGE_START


@pytest.mark.slow
def test_silver_follows_any_updated_day_not_only_the_latest(lakehouse_env):
    from lakehouse.definitions import build_definitions

    defs = build_definitions()
    instance = DagsterInstance.ephemeral()
    before = evaluate_automation_conditions(defs=defs, instance=instance)  # the daemon's previous tick
    assert before.total_requested == 0  # nothing landed: nothing to do, however many days exist
    land_commerce(lakehouse_env, date(2024, 6, 3), 2, 20, 1)
    bronze = [AssetKey(s.asset_key_path) for s in specs_in("bronze", domain="commerce")]
    job = defs.resolve_job_def("lakehouse_daily")
    assert job.execute_in_process(instance=instance, asset_selection=bronze,
                                  tags={RANGE_START: "2024-06-03", RANGE_END: "2024-06-04"}).success
    result = evaluate_automation_conditions(defs=defs, instance=instance, cursor=before.cursor)
    requested = {(".".join(k.path), p) for k, parts in _requested(result).items() for p in parts}
    # both days -- 2024-06-03 is far from the latest partition (today), which eager() alone would ignore
    assert {("silver.events", "2024-06-03"), ("silver.events", "2024-06-04"), ("silver.fx_rates", "2024-06-03")} <= requested
    # upstreams requested on the same tick count: the day's silver and gold go together (one run per day), not
    # a tick and a run per layer; the monthly table (another partitioning) follows on a later tick
    assert {("silver.orders", "2024-06-03"), ("gold.daily_sales_summary", "2024-06-04")} <= requested
    assert not any(t == "gold.business_metrics" for t, _ in requested)


def _requested(result):
    keys = {AssetKey(s.asset_key_path) for s in specs_in()}
    return {key: result.get_requested_partitions(key) for key in keys if result.get_num_requested(key)}


def _gold_days(lakehouse: LakehouseResource) -> dict[str, list[str]]:
    return {s.id: lakehouse.partitions_of(s) for s in specs_in("gold", domain="commerce")}


@pytest.mark.slow
def test_a_landed_day_reaches_gold_with_no_click_also_a_late_file_of_an_older_day(lakehouse_env, spark):
    from lakehouse.automation.drive import drive
    from lakehouse.definitions import build_definitions

    defs, instance, lakehouse = build_definitions(), DagsterInstance.ephemeral(), LakehouseResource()
    state = drive(defs, instance)  # the daemons' first ticks over an empty landing zone
    assert state.runs == []
    land_commerce(lakehouse_env, date(2024, 6, 3), 1, 20, 1)
    state = drive(defs, instance, state)
    assert state.failures == []
    # as few runs as Dagster allows: the landed day carries its silver and gold; automation adds only the month
    # (another partitioning), and requests none of the day's tables again
    assert [(kind, partition) for kind, _, partition in state.runs] == [("landing", "2024-06-03"), ("automation", "2024-06-01")]
    carried = set(state.runs[0][1])
    assert {"bronze.shop_orders", "silver.orders", "silver.customers", "gold.daily_sales_summary",
            "gold.conversion_funnel"} <= carried and "gold.business_metrics" not in carried
    gold = _gold_days(lakehouse)
    assert all(gold[t] == ["2024-06-03"] for t in gold if t != "gold.business_metrics")
    # a one-day step's preview is that day's rows, PII columns never read
    preview = instance.get_latest_materialization_event(AssetKey(["bronze", "shop_customers"])).asset_materialization.metadata["preview"].value
    assert "2024-06-03" in preview and "customer_id" in preview and not {"email", "phone", "first_name"} & set(preview.split())
    assert gold["gold.business_metrics"] == ["2024-06-01"]
    print(f"\nlanded 1 day -> fresh gold in {state.seconds:.1f}s in-process ({len(state.runs)} runs)")

    # a late file for that day, long before the latest partition (today): bronze, silver and gold follow it
    # (eager() alone would ignore it), and only the tables downstream of the changed entity re-run
    version = {s.id: lakehouse.store().version(lakehouse.uri_of(s), lakehouse.format_of(s)) for s in specs_in("gold", domain="commerce")}
    folder = Path(urlparse(lakehouse_env.landing).path) / "shop" / "orders" / "dt=2024-06-03"
    (folder / "late.csv").write_text((folder / next(p.name for p in folder.iterdir())).read_text())
    state.runs = []
    state = drive(defs, instance, state)
    assert state.failures == []
    assert len(state.runs) == 2  # the day's bronze with its silver and gold, then the month
    followed = {(t, p) for _, tables, p in state.runs for t in tables}
    assert {("bronze.shop_orders", "2024-06-03"), ("silver.orders", "2024-06-03"),
            ("gold.daily_sales_summary", "2024-06-03"), ("gold.business_metrics", "2024-06-01")} <= followed
    assert not any(t in ("silver.events", "gold.conversion_funnel", "silver.crm_contacts") for t, _ in followed)
    after = {s.id: lakehouse.store().version(lakehouse.uri_of(s), lakehouse.format_of(s)) for s in specs_in("gold", domain="commerce")}
    assert after["gold.daily_sales_summary"] != version["gold.daily_sales_summary"]
    print(f"late file of an older day -> fresh gold in {state.seconds:.1f}s in-process ({len(state.runs)} runs)")


def _waiting(evaluation, table: str) -> set[str]:
    """Partitions for which the automation condition of `table` says an upstream partition is missing."""
    def find(result):
        if result.condition.get_label() == WAITS:
            return result
        return next(filter(None, (find(child) for child in result.child_results)), None)

    result = next(r for r in evaluation.results if r.key == AssetKey(table.split(".")))
    node = find(result)
    return {k for k in DAILY_KEYS if k not in set(node.true_subset.expensively_compute_partition_keys())}


DAILY_KEYS = ("2024-06-03",)


@pytest.mark.slow
def test_a_day_without_crm_files_waits_for_them_and_fails_nothing(lakehouse_env, spark):
    from lakehouse.automation.drive import drive
    from lakehouse.cli import _materialize
    from lakehouse.definitions import build_definitions

    defs, instance, lakehouse = build_definitions(), DagsterInstance.ephemeral(), LakehouseResource()
    state = drive(defs, instance)  # the daemons' first ticks over an empty landing zone
    land_commerce(lakehouse_env, date(2024, 6, 3), 1, 10, 1)
    shutil.rmtree(Path(urlparse(lakehouse_env.landing).path) / "crm")  # the CRM delivered nothing that day
    state = drive(defs, instance, state)
    assert state.failures == []
    assert _gold_days(lakehouse)["gold.daily_sales_summary"] == ["2024-06-03"]
    latest = instance.get_latest_materialization_event(AssetKey(["gold", "daily_sales_summary"]))
    assert latest.asset_materialization.metadata["landing_to_publish_seconds"].value > 0  # shown on the partition
    crm = [s for s in specs_in("silver", domain="commerce") if s.name.startswith("crm_")]
    assert all(lakehouse.partitions_of(s) == [] for s in crm)
    # the UI says what it waits for: the missing upstream partition, not some failure
    evaluation = evaluate_automation_conditions(defs=defs, instance=instance, cursor=state.automation_cursor)
    assert _waiting(evaluation, "silver.crm_contacts") == {"2024-06-03"}
    assert _waiting(evaluation, "silver.orders") == set()

    # `lakehouse materialize` over that day: the CRM tables are skipped with a line, the run succeeds
    run = _materialize(lakehouse_env, "2024-06-03", "2024-06-03", ["commerce"], log_level="WARNING")
    assert run.success and all(lakehouse.partitions_of(s) == [] for s in crm)


@pytest.mark.slow
def test_a_carried_table_whose_other_upstream_has_not_landed_waits_then_follows_it(lakehouse_env, spark, tmp_path):
    """A landed day's run carries silver.orders, which also needs FX rates: with none landed yet it waits
    inside the run (nothing published, nothing failed); the FX files' own run then carries it to gold."""
    from lakehouse.automation.drive import drive
    from lakehouse.definitions import build_definitions

    defs, instance, lakehouse = build_definitions(), DagsterInstance.ephemeral(), LakehouseResource()
    state = drive(defs, instance)
    land_commerce(lakehouse_env, date(2024, 6, 3), 1, 10, 1)
    fx = Path(urlparse(lakehouse_env.landing).path) / "fx"
    shutil.move(fx, tmp_path / "fx")  # the FX feed is late
    state = drive(defs, instance, state)
    assert state.failures == [] and state.runs[0][0] == "landing" and "silver.orders" in state.runs[0][1]
    days = {s.id: lakehouse.partitions_of(s) for s in specs_in(domain="commerce") if s.layer != "bronze"}
    assert days["silver.products"] == ["2024-06-03"] and days["silver.orders"] == []
    assert days["gold.daily_sales_summary"] == [] and days["silver.crm_deals"] == []
    waits = [e.message for run in instance.get_runs() for e in instance.all_logs(run.run_id) if "skipped" in (e.message or "")]
    assert any("silver.orders" in w and "silver.fx_rates" in w for w in waits)

    shutil.move(tmp_path / "fx", fx)  # the FX files land
    state.runs = []
    state = drive(defs, instance, state)
    assert state.failures == []
    landing = next(tables for kind, tables, _ in state.runs if kind == "landing")
    assert {"bronze.fx_rates", "silver.fx_rates", "silver.orders", "gold.daily_sales_summary", "silver.crm_deals"} <= set(landing)
    assert "bronze.shop_orders" not in landing  # the orders' files were read once
    assert lakehouse.partitions_of(next(s for s in specs_in("gold") if s.name == "daily_sales_summary")) == ["2024-06-03"]


@pytest.mark.slow
def test_a_missing_upstream_partition_is_never_published_as_empty(lakehouse_env, spark):
    """Dagster may believe an upstream partition exists that the warehouse being read lacks (e.g. two warehouses
    sharing one Dagster storage): the model publishes nothing rather than reading it as empty."""
    from lakehouse.definitions import build_definitions

    land_commerce(lakehouse_env, date(2024, 6, 3), 1, 10, 1)
    defs, instance, lakehouse = build_definitions(), DagsterInstance.ephemeral(), LakehouseResource()
    job = defs.resolve_job_def("lakehouse_daily")
    chain = ["bronze.fx_rates", "bronze.shop_orders", "silver.fx_rates", "silver.orders"]
    assert job.execute_in_process(instance=instance, partition_key="2024-06-03", asset_selection=[
        AssetKey(t.split(".")) for t in chain]).success
    gold = job.execute_in_process(instance=instance, partition_key="2024-06-03", raise_on_error=False,
                                  asset_selection=[AssetKey(["gold", "daily_sales_summary"])])
    assert gold.success and gold.get_asset_materialization_events() == []  # skipped, not "Unknown" rows
    assert lakehouse.partitions_of(next(s for s in specs_in("gold") if s.name == "daily_sales_summary")) == []
    lines = [e.message for e in instance.all_logs(gold.run_id) if "skipped" in (e.message or "")]
    assert any("silver.products has no partition from 2024-05-27 to 2024-06-03 in file://" in line for line in lines)


def test_freshness_is_recorded_without_a_run_and_only_for_configured_domains(lakehouse_env, monkeypatch):
    from dagster import AssetCheckEvaluation, AssetMaterialization, SensorResult, build_sensor_context

    from lakehouse.automation.freshness import evaluate_freshness
    from lakehouse.definitions import build_definitions

    def checked(defs) -> set[str]:
        return {"/".join(k.asset_key.path) for k in defs.resolve_asset_graph().asset_check_keys
                if k.name == "freshness_check"}

    monkeypatch.delenv("LAKEHOUSE_BILLING_DSN", raising=False)
    defs = build_definitions()
    assert "gold/daily_sales_summary" in checked(defs) and "gold/billing_daily_revenue" not in checked(defs)
    monkeypatch.setenv("LAKEHOUSE_BILLING_DSN", "postgresql://lakehouse@127.0.0.1:5432/billing")
    assert "gold/billing_daily_revenue" in checked(build_definitions())

    instance = DagsterInstance.ephemeral()
    instance.report_runless_asset_event(AssetMaterialization(["gold", "daily_sales_summary"], partition="2024-06-03"))
    sensor = defs.resolve_sensor_def("gold_freshness")
    result = sensor(build_sensor_context(instance=instance))
    assert isinstance(result, SensorResult) and instance.get_runs() == []  # no run of checks only
    assert [(e.asset_key.path, e.passed) for e in result.asset_events] == [(["gold", "daily_sales_summary"], True)]
    for event in result.asset_events:  # what the daemon does with the sensor's result
        instance.report_runless_asset_event(event)
    keys = [k for k in defs.resolve_asset_graph().asset_check_keys if k.name == "freshness_check"]
    now = instance.get_latest_materialization_event(AssetKey(["gold", "daily_sales_summary"])).timestamp
    assert evaluate_freshness(instance, keys, now + 60) == []  # unchanged: not recorded again
    stale = evaluate_freshness(instance, keys, now + 37 * 3600)
    assert [(e.asset_key.path, e.passed) for e in stale] == [(["gold", "daily_sales_summary"], False)]
    assert all(isinstance(e, AssetCheckEvaluation) for e in stale)


def test_what_a_day_needs_of_its_upstreams_and_what_counts_as_published_empty():
    from dagster import AssetMaterialization

    from lakehouse.pipeline.readiness import missing_upstreams, published_empty
    from lakehouse.pipeline.registry import get_spec

    gold = get_spec("gold.daily_sales_summary")  # orders of the day; products as of the week before
    wh = "file:///wh"
    ok = {"silver.orders": ["2024-06-03"], "silver.products": ["2024-05-30"]}
    assert missing_upstreams(gold, ["2024-06-03"], ok, wh) == {}
    assert missing_upstreams(gold, ["2024-06-03", "2024-06-04"], ok, wh) == {
        "2024-06-04": ["silver.orders has no partition 2024-06-04 in file:///wh"]}
    assert missing_upstreams(gold, ["2024-06-03"], {"silver.orders": ["2024-06-03"], "silver.products": []}, wh) == {
        "2024-06-03": ["silver.products has no partition from 2024-05-27 to 2024-06-03 in file:///wh"]}
    month = get_spec("gold.business_metrics")  # any day of the month will do
    assert missing_upstreams(month, ["2024-06-01"], {"silver.orders": ["2024-06-03"], "silver.products": ["2024-06-03"]}, wh) == {}

    # a day absent from the warehouse is there, empty, when its latest materialization published no rows
    # (a database day without rows); a landing day that read no files is not
    instance = DagsterInstance.ephemeral()
    instance.report_runless_asset_event(AssetMaterialization(["silver", "orders"], partition="2024-06-04",
                                                             metadata={"dagster/row_count": 0}))
    instance.report_runless_asset_event(AssetMaterialization(["bronze", "shop_orders"], partition="2024-06-04",
                                                             metadata={"dagster/row_count": 0, "landing_files": 0}))
    assert published_empty(instance, gold, ["2024-06-03", "2024-06-04"], ok) == {"silver.orders": {"2024-06-04"}}
    orders = get_spec("silver.orders")
    assert published_empty(instance, orders, ["2024-06-04"], {"bronze.shop_orders": [], "silver.fx_rates": []}) == {}
