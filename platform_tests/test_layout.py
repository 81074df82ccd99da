"""The layout guards and the 'definitions load' test every Dagster project should keep in CI."""
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_stdlib_platform_is_not_shadowed():
    import platform

    assert hasattr(platform, "python_implementation")
    assert not (REPO / "platform" / "__init__.py").exists()


def test_definitions_load_with_every_registered_table():
    from lakehouse.definitions import build_definitions
    from lakehouse.pipeline.registry import all_specs

    defs = build_definitions()
    keys = {".".join(k.path) for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {s.id for s in all_specs()} <= keys
    assert defs.resolve_job_def("lakehouse_daily") is not None


def test_steps_on_the_way_to_gold_go_first():
    """A step's priority is its longest path to a gold table: fx_rates -> orders -> daily_sales_summary."""
    from lakehouse.definitions import build_definitions
    from lakehouse.pipeline.registry import all_specs, steps_to_gold

    assert [steps_to_gold(t) for t in ("silver.fx_rates", "silver.orders", "gold.daily_sales_summary")] == [3, 2, 1]
    assert steps_to_gold("silver.customers") == 0 and steps_to_gold("bronze.crm_deals") == 0  # no gold reads them
    gold_readers = {u.table for s in all_specs() if s.layer == "gold" for u in s.upstreams}
    assert all(steps_to_gold(t) >= 2 for t in gold_readers)
    graph = build_definitions().resolve_asset_graph()
    tags = {".".join(key.path): graph.get(key).assets_def.op.tags for key in graph.get_all_asset_keys()}
    assert all(tags[s.id]["dagster/priority"] == str(steps_to_gold(s.id)) for s in all_specs())


def test_downstream_follows_dagster_dependencies():
    """What a landed day's run carries: every table a change reaches, not optional readers, not the start."""
    from lakehouse.pipeline.registry import downstream

    assert downstream(t for t in ["bronze.shop_orders"]) == {
        "silver.orders", "gold.daily_sales_summary", "gold.customer_analytics", "gold.business_metrics"}
    assert "silver.orders" not in downstream(t for t in ["silver.fx_rates", "silver.orders"])  # given: not "reached"
    assert downstream(["silver.fx_rates"]) >= {"silver.orders", "silver.crm_deals", "gold.daily_sales_summary"}
    # gold.customer_analytics takes silver.customer_behavior only when present: no Dagster dependency
    assert downstream(["silver.customer_behavior"]) == set()
    assert downstream(["silver.customers"]) == set()  # its own history is no reader


def test_every_model_has_its_sql_file():
    from lakehouse.config import Settings
    from lakehouse.engine.sql import sql_dir
    from lakehouse.pipeline.registry import all_specs

    root = sql_dir(Settings.from_env())
    missing = [s.id for s in all_specs() if s.sql_path and not (root / s.sql_path).is_file()]
    assert missing == []


def test_settings_default_to_local_disk(lakehouse_env):
    assert lakehouse_env.warehouse.startswith("file://")
    assert lakehouse_env.landing.startswith("file://")
    assert lakehouse_env.catalog_enabled is False
