"""Quality that remembers: per-partition metrics in ops.partition_metrics, anomaly checks against the same weekday
of the weeks before, and a diff for every re-run (ops.partition_diffs).

The judgement tests write a history straight into the ops table (real Delta through delta-rs) and judge a day;
the pipeline tests run the real assets (execute_in_process over a tmp lakehouse, a few dozen orders a day).
"""
from __future__ import annotations

import csv
import io
import random
import re
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse

import pytest
from dagster import AssetCheckSeverity, AssetKey, DagsterInstance
from tables_testing import table_content

from lakehouse.pipeline.quality_step import anomaly_result, judge_batch
from lakehouse.pipeline.registry import all_specs, get_spec
from lakehouse.quality import history
from lakehouse.quality.anomaly import judge, judged_metrics
from lakehouse.resources import LakehouseResource
from lakehouse.runs import RANGE_END, RANGE_START

GOLD, SILVER = get_spec("gold.daily_sales_summary"), get_spec("silver.orders")
DAY = "2024-06-10"  # a Monday
ORDERS_CHAIN = ["bronze.shop_orders", "bronze.fx_rates", "silver.fx_rates", "silver.orders"]
SALES_CHAIN = [*ORDERS_CHAIN, "bronze.shop_products", "silver.products", "gold.daily_sales_summary"]
# a weekly shape: quiet weekends, a busy Monday
WEEKDAY_ROWS = {0: 1200, 1: 1000, 2: 1000, 3: 1050, 4: 1100, 5: 600, 6: 500}


def _weekly_history(table: str, last: str, weeks: int, seed: int = 1) -> dict[str, dict[str, float]]:
    """`weeks` weeks of daily metrics up to the day before `last`, rows following WEEKDAY_ROWS with 3% noise."""
    rng, end = random.Random(seed), date.fromisoformat(last)
    out = {}
    for back in range(weeks * 7, 0, -1):
        day = end - timedelta(days=back)
        rows = round(WEEKDAY_ROWS[day.weekday()] * rng.uniform(0.97, 1.03))
        out[day.isoformat()] = {"rows": rows, "sum.revenue_usd": rows * 42.5 * rng.uniform(0.98, 1.02)}
    return out


def _write_history(table: str, by_day: dict[str, dict[str, float]], run_id: str = "history") -> None:
    history.append(LakehouseResource(), history.PARTITION_METRICS, history.long_rows(table, run_id, 1, by_day))


def test_anomaly_weekly_history_passes_and_a_thin_day_blocks_gold_and_warns_silver(lakehouse_env):
    settings = lakehouse_env
    for spec in (GOLD, SILVER):
        _write_history(spec.id, _weekly_history(spec.id, DAY, weeks=5))
    # every day of the last two weeks, judged against the weeks before it, passes: the weekly shape is no anomaly
    recorded = history.current(history.read(settings, history.PARTITION_METRICS, GOLD.id))
    past = history.by_day(recorded)
    for day in sorted(past)[-14:]:
        verdicts = judge(GOLD, {day: past[day]}, recorded)
        assert verdicts and all(j.judged and not j.outlier for j in verdicts), [j.metadata() for j in verdicts]
    # a normal Monday passes, on gold and silver
    monday = {DAY: {"rows": 1190.0}}
    for spec in (GOLD, SILVER):
        normal = judge_batch(settings, spec, monday)
        assert [(j.metric, j.judged, j.outlier) for j in normal] == [("rows", True, False)]
        assert len(normal[0].history) == 5 and normal[0].low < 1190 < normal[0].high
        assert anomaly_result(spec, normal).passed
    # a Monday with 20% of the usual rows: blocked on gold, warned on silver
    thin = {DAY: {"rows": 240.0, "sum.revenue_usd": 240 * 42.5}}
    blocked, warned = judge_batch(settings, GOLD, thin), judge_batch(settings, SILVER, thin)
    assert [j.metric for j in blocked if j.outlier] == ["rows"] and blocked[0].blocks
    assert warned[0].outlier and not warned[0].blocks
    gold_check, silver_check = anomaly_result(GOLD, blocked), anomaly_result(SILVER, warned)
    assert not gold_check.passed and gold_check.severity == AssetCheckSeverity.ERROR
    assert not silver_check.passed and silver_check.severity == AssetCheckSeverity.WARN
    meta = {k: v.value for k, v in gold_check.metadata.items()}
    assert meta["metric"] == "rows" and meta["value"] == 240.0
    assert meta["expected_low"] > 240 and len(meta["history"]) == 5  # the 5 Mondays before
    assert set(meta["history"]) == {(date.fromisoformat(DAY) - timedelta(weeks=w)).isoformat() for w in range(1, 6)}
    # revenue is not judged by default; a spec that asks for it gets it
    assert judged_metrics(GOLD, thin)[1] == ["rows"]


def test_anomaly_new_table_with_no_history_is_not_judged(lakehouse_env):
    verdicts = judge_batch(lakehouse_env, GOLD, {DAY: {"rows": 3.0}})
    assert [(j.metric, j.judged, j.outlier) for j in verdicts] == [("rows", False, False)]
    assert anomaly_result(GOLD, verdicts).passed
    # two same-weekday points are not enough either
    _write_history(GOLD.id, {"2024-06-03": {"rows": 1000.0}, "2024-05-27": {"rows": 1000.0}})
    assert not judge_batch(lakehouse_env, GOLD, {DAY: {"rows": 3.0}})[0].judged


def test_the_history_log_is_checkpointed_every_tenth_append_also_a_table_made_without_the_interval(lakehouse_env):
    """Each step appends to ops.partition_metrics and the next reads it: without checkpoints every open replays
    every commit of the table's life. A table made before the interval was set (delta-rs alone would wait for
    100 commits) takes it on its next append."""
    from deltalake import DeltaTable, write_deltalake

    from lakehouse.storage.locations import TableLocation

    uri = TableLocation.of(history.PARTITION_METRICS, lakehouse_env).uri
    log = Path(urlparse(uri).path) / "_delta_log"
    write_deltalake(uri, history.long_rows("silver.old", "r0", 1, {"2024-06-01": {"rows": 1.0}}),
                    partition_by=[history.PARTITION])  # as written before: no interval
    days = [(date(2024, 6, 2) + timedelta(days=i)).isoformat() for i in range(11)]
    for i, day in enumerate(days):
        _write_history(SILVER.id, {day: {"rows": float(i)}}, run_id=f"r{i}")
    assert DeltaTable(uri).metadata().configuration["delta.checkpointInterval"] == "10"
    assert DeltaTable(uri).version() == 12  # the creation, the property, 11 appends
    assert sorted(p.name for p in log.glob("*.checkpoint.parquet")) == ["00000000000000000009.checkpoint.parquet"]  # the tenth commit
    # what a reader gets is unchanged by the checkpoint: every append's rows, the old table's apart
    got = history.by_day(history.current(history.read(lakehouse_env, history.PARTITION_METRICS, SILVER.id)))
    assert got == {day: {"rows": float(i)} for i, day in enumerate(days)}
    assert history.read(lakehouse_env, history.PARTITION_METRICS, "silver.old").num_rows == 1


def test_anomaly_ops_tables_hold_no_pii(lakehouse_env, spark):
    from pyspark.sql import types as T

    from lakehouse.quality.contracts import spark_type
    from lakehouse.quality.metrics import published_stats
    from lakehouse.query.tables import known_tables

    for spec in history.OPS_TABLES:
        assert not spec.pii and {c.name for c in spec.columns} == set(history.SCHEMA.names)
        table = known_tables(lakehouse_env)[spec.id]
        assert table.pii == () and table.layer == "ops"
    # no metric of any table reads a value of a PII column: min/max never, null counts only
    for spec in all_specs():
        schema = T.StructType([T.StructField(c.name, spark_type(c.type)) for c in spec.columns])
        names = [s.name for s in published_stats(spec, schema)]
        assert not [n for n in names if n.split(".", 1)[-1] in spec.pii and not n.startswith("nulls.")], spec.id


# --- the pipeline ---------------------------------------------------------------------------------------------

def _run(defs, instance, tables, day=DAY):
    job = defs.resolve_job_def("lakehouse_daily")
    return job.execute_in_process(
        instance=instance, asset_selection=[AssetKey(get_spec(t).asset_key_path) for t in tables],
        tags={RANGE_START: day, RANGE_END: day}, raise_on_error=False)


def _checks(result) -> dict[tuple[str, str], object]:
    return {(".".join(e.asset_key.path), e.check_name): e for e in result.get_asset_check_evaluations()}


def _materialized(result) -> dict[str, dict]:
    return {".".join(ev.asset_key.path): {k: v.value for k, v in ev.event_specific_data.materialization.metadata.items()}
            for ev in result.get_asset_materialization_events()}


def _land(settings, rows: int = 40):
    from lakehouse.dev.generate.commerce import land_commerce

    land_commerce(settings, date.fromisoformat(DAY), 1, rows, 11)


def test_anomaly_pipeline_records_metrics_blocks_gold_and_warns_silver(lakehouse_env):
    from lakehouse.definitions import build_definitions
    from lakehouse.query.run import run_query

    _land(lakehouse_env)
    usual = {(date.fromisoformat(DAY) - timedelta(weeks=w)).isoformat(): {"rows": 5000.0} for w in range(1, 4)}
    for spec in (GOLD, SILVER):
        _write_history(spec.id, usual)
    result = _run(build_definitions(), DagsterInstance.ephemeral(), SALES_CHAIN)
    assert not result.success
    checks = _checks(result)
    gold, silver = checks[(GOLD.id, "anomaly")], checks[(SILVER.id, "anomaly")]
    assert not gold.passed and gold.severity == AssetCheckSeverity.ERROR
    assert not silver.passed and silver.severity == AssetCheckSeverity.WARN
    meta = gold.metadata
    assert meta["metric"].value == "rows" and meta["expected_low"].value > meta["value"].value
    assert set(meta["history"].value) == set(usual)
    # silver published with its metrics; gold published nothing and kept the refused batch
    published = _materialized(result)
    assert SILVER.id in published and GOLD.id not in published
    assert DAY not in LakehouseResource().partitions_of(GOLD)
    assert (Path(urlparse(lakehouse_env.warehouse).path) / "_rejected" / "gold" / "daily_sales_summary").exists()
    orders = table_content(SILVER.id, partitions=[DAY])
    metrics = history.by_day(history.current(history.read(lakehouse_env, history.PARTITION_METRICS, SILVER.id)))[DAY]
    assert metrics["rows"] == orders.num_rows == metrics["distinct_keys"]
    assert metrics["sum.amount_usd"] == pytest.approx(float(sum(orders.column("amount_usd").to_pylist())))
    assert metrics["max.quantity"] == max(orders.column("quantity").to_pylist())
    assert metrics["min.order_date"] == (min(orders.column("order_date").to_pylist()) - date(1970, 1, 1)).days
    assert "null_fraction.region" in metrics and "quarantined.positive_quantity" in metrics
    assert published[SILVER.id]["sum.amount_usd"] == metrics["sum.amount_usd"]  # on the materialization too
    # every published partition has its rows in ops.partition_metrics, readable with the default scope
    rows = run_query("SELECT table_name, dt, value FROM ops.partition_metrics WHERE metric = 'rows'",
                     settings=lakehouse_env).to_pylist()
    assert {(r["table_name"], r["dt"]) for r in rows if r["dt"] == DAY} == set(
        (t, DAY) for t in SALES_CHAIN if t != GOLD.id)


def _change_one_order(settings) -> tuple[str, Decimal]:
    """Double the quantity of one placed USD order in the day's landed orders; (its id, the added amount)."""
    folder = Path(urlparse(settings.landing).path) / "shop" / "orders" / f"dt={DAY}"
    path = next(folder.iterdir())
    lines = path.read_text().splitlines(keepends=True)
    header = next(csv.reader([lines[0]]))
    for i, line in enumerate(lines[1:], start=1):
        row = next(csv.reader([line]), [])
        if len(row) != len(header):
            continue
        record = dict(zip(header, row))
        if record["currency"] == "USD" and record["status"] == "placed" and record["quantity"].isdigit() \
                and int(record["quantity"]) > 0 and record["order_id"].startswith("O"):
            order = record["order_id"]
            if sum(1 for other in lines if other.startswith(order + ",") or f",{order}," in other) != 1:
                continue  # a re-sent duplicate: pick an order that appears once
            added = Decimal(record["unit_price"]) * int(record["quantity"])
            record["quantity"] = str(int(record["quantity"]) * 2)
            out = io.StringIO()
            csv.writer(out, lineterminator=line[len(line.rstrip("\r\n")):]).writerow([record[c] for c in header])
            lines[i] = out.getvalue()
            path.write_text("".join(lines))
            return order, added
    raise AssertionError(f"no plain USD order in {path}")


def test_partition_diff_of_a_rerun_shows_the_one_changed_order(lakehouse_env):
    from lakehouse.definitions import build_definitions

    _land(lakehouse_env)
    defs, instance = build_definitions(), DagsterInstance.ephemeral()
    first = _run(defs, instance, ORDERS_CHAIN)
    assert first.success
    assert _checks(first)[(SILVER.id, "rerun_diff")].passed  # a first publish: nothing to compare
    before = {r["order_id"]: r for r in table_content(SILVER.id, partitions=[DAY]).to_pylist()}
    order, added = _change_one_order(lakehouse_env)
    assert order in before
    rerun = _run(defs, instance, ORDERS_CHAIN)
    assert rerun.success
    after = {r["order_id"]: r for r in table_content(SILVER.id, partitions=[DAY]).to_pylist()}
    changed = [o for o in after if o in before and after[o] != before[o]]
    assert changed == [order]
    expected = float(after[order]["amount_usd"] - before[order]["amount_usd"])
    assert expected == pytest.approx(float(added))
    # the diff: exactly that row changed, and the revenue delta, on the materialization and in ops.partition_diffs
    meta = _materialized(rerun)[SILVER.id]
    assert (meta["rerun.rows_added"], meta["rerun.rows_removed"], meta["rerun.rows_changed"]) == (0, 0, 1)
    assert meta["rerun.change.sum.amount_usd"] == pytest.approx(expected)
    recorded = history.by_day(history.current(history.read(lakehouse_env, history.PARTITION_DIFFS, SILVER.id)))[DAY]
    assert recorded["rows_changed"] == 1 and recorded["rows_before"] == recorded["rows_after"] == len(after)
    assert recorded["change.sum.amount_usd"] == pytest.approx(expected)
    # a closed day (2024) changed by one of ~40 orders: more than 1% of its rows, so the check warns
    check = _checks(rerun)[(SILVER.id, "rerun_diff")]
    assert not check.passed and check.severity == AssetCheckSeverity.WARN
    assert DAY in check.metadata["closed_days_changed"].value
    # the unchanged upstream tables re-ran too: their diff is empty and their check passes
    fx = _materialized(rerun)["silver.fx_rates"]
    assert (fx["rerun.rows_added"], fx["rerun.rows_removed"], fx["rerun.rows_changed"]) == (0, 0, 0)
    assert _checks(rerun)[("silver.fx_rates", "rerun_diff")].passed


def test_anomaly_history_is_compacted_by_maintenance_and_keeps_its_rows(lakehouse_env):
    from lakehouse.automation.maintenance import compact_ops_tables

    for week in range(4):  # four appends: four files
        _write_history(GOLD.id, {f"2024-06-0{week + 1}": {"rows": 100.0 + week}}, run_id=f"run{week}")
    before = history.current(history.read(lakehouse_env, history.PARTITION_METRICS, GOLD.id))
    report = compact_ops_tables(LakehouseResource())
    assert report[history.PARTITION_METRICS.id]["compacted_files"] == 4
    assert history.current(history.read(lakehouse_env, history.PARTITION_METRICS, GOLD.id)) == before


def test_anomaly_history_on_s3_is_registered_in_glue_and_read_back(s3_lakehouse_env):
    from lakehouse.catalog.glue import GlueCatalog

    _write_history(GOLD.id, {"2024-06-03": {"rows": 10.0}})
    _write_history(SILVER.id, {"2024-06-03": {"rows": 20.0}})
    entry = GlueCatalog(s3_lakehouse_env).get_table("ops", "partition_metrics")
    assert entry["Parameters"]["table_type"] == "DELTA"
    assert {c["Name"] for c in entry["StorageDescriptor"]["Columns"]} == set(history.SCHEMA.names)
    # only the table's own partition is read
    assert history.current(history.read(s3_lakehouse_env, history.PARTITION_METRICS, SILVER.id)) == {
        ("2024-06-03", "rows"): 20.0}


def test_anomaly_history_is_served_over_http_to_a_plain_reader(lakehouse_env):
    from service_testing import add_key, client, running

    _write_history(GOLD.id, {"2024-06-03": {"rows": 10.0, "sum.revenue_usd": 99.5}})
    key = add_key(lakehouse_env, "reader")  # the default scope only: no raw, no pii
    with running(lakehouse_env) as url, client(url, key) as http:
        answer = http.post("/v1/query", json={"sql": "SELECT metric, value FROM ops.partition_metrics "
                                                     "WHERE table_name = 'gold.daily_sales_summary' ORDER BY metric"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["rows"] == [["rows", 10.0], ["sum.revenue_usd", 99.5]]


def test_anomaly_quality_command_prints_the_history_band_and_outliers(lakehouse_env, capsys):
    from lakehouse.cli import main

    past = _weekly_history(GOLD.id, DAY, weeks=5)
    past[DAY] = {"rows": 240.0}
    _write_history(GOLD.id, past)
    assert main(["quality", GOLD.id, "--days", "14"]) == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if "│ rows " in line)
    assert "block" in line and "240" in line and DAY in line  # the thin Monday is the outlier
    band = re.search(r"([\d,.]+)\.\.([\d,.]+)", line)
    assert band and float(band.group(1).replace(",", "")) > 240
    assert "sum.revenue_usd" in out
    assert main(["quality", SILVER.id]) == 0 and "no metrics recorded for silver.orders" in capsys.readouterr().out


def _history_with_a_thin_monday() -> None:
    past = _weekly_history(GOLD.id, DAY, weeks=5)
    past[DAY] = {"rows": 240.0, "sum.revenue_usd": 240 * 42.5}
    _write_history(GOLD.id, past)


def test_anomaly_history_with_bands_is_served_over_http(lakehouse_env):
    from service_testing import add_key, client, running

    _history_with_a_thin_monday()
    key = add_key(lakehouse_env, "reader")  # no raw, no pii: the history is numbers only
    with running(lakehouse_env) as url, client(url, key) as http:
        answer = http.get(f"/v1/tables/{GOLD.id}/quality", params={"days": 14, "metric": "rows"})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["table"] == GOLD.id and "same weekday" in body["baseline"]
        (rows,) = body["metrics"]
        assert rows["metric"] == "rows" and rows["level"] == "block"
        points = rows["points"]
        assert len(points) == 14 and points[-1]["dt"] == DAY
        assert [p["dt"] for p in points if p["outlier"]] == [DAY]
        assert points[-1]["value"] == 240.0 and points[-1]["low"] > 240  # the band of earlier Mondays
        assert all(p["low"] <= p["value"] <= p["high"] for p in points[:-1] if p["low"] is not None)

        both = http.get(f"/v1/tables/{GOLD.id}/quality", params={"days": 3}).json()["metrics"]
        assert {m["metric"] for m in both} == {"rows", "sum.revenue_usd"}
        for name in ("gold.nope", "ops.partition_metrics"):
            missing = http.get(f"/v1/tables/{name}/quality")
            assert missing.status_code == 404 and missing.json()["error"] == "unknown_table", missing.text
        bad = http.get(f"/v1/tables/{GOLD.id}/quality", params={"days": 0})
        assert bad.status_code == 400 and "days" in bad.json()["message"], bad.text


@pytest.mark.browser
def test_anomaly_history_is_plotted_on_the_service_page(lakehouse_env, tmp_path):
    import base64

    from browser_testing import ARTIFACTS, CHROMIUM, chromium
    from service_testing import add_key, running

    assert CHROMIUM, "Debian's chromium is not installed (make browser-deps)"
    _history_with_a_thin_monday()
    key = add_key(lakehouse_env, "page-reader", rate=100_000)
    with running(lakehouse_env) as url, chromium(tmp_path) as page:
        page.call("Page.navigate", url=f"{url}/")
        page.wait("document.readyState === 'complete' && !!document.getElementById('key-form')")
        page.js(f"document.getElementById('key').value = {key!r}; document.getElementById('key-form').requestSubmit()")
        page.wait(f"document.getElementById('quality-table').value === {GOLD.id!r}")
        page.js("document.getElementById('quality-days').value = '14';"
                "document.getElementById('quality-form').requestSubmit()")
        page.wait("document.querySelectorAll('#quality-plots figure').length === 1")
        dots = page.js("[...document.querySelectorAll('#quality-plots circle')]"
                       ".map(c => [c.dataset.dt, c.classList.contains('outlier'), c.textContent])")
        assert len(dots) == 14 and [d for d, outlier, _ in dots if outlier] == [DAY]
        assert dots[-1][2].startswith(f"{DAY}: 240 (band ")
        assert page.js("document.querySelectorAll('#quality-plots rect.band').length") >= 7  # judged partitions
        caption = page.js("document.querySelector('#quality-plots figcaption').textContent")
        assert caption == f"rows \u2014 check: block \u2014 outside the band: {DAY}"
        # an outlier sits outside its band: below the bottom of its grey bar
        below = page.js("(() => { const c = [...document.querySelectorAll('#quality-plots circle')].at(-1);"
                        " const r = [...document.querySelectorAll('#quality-plots rect.band')].at(-1);"
                        " return Number(c.getAttribute('cy')) > Number(r.getAttribute('y')) + Number(r.getAttribute('height')); })()")
        assert below is True

        page.js("document.getElementById('quality-table').value = 'silver.orders';"
                "document.getElementById('quality-form').requestSubmit()")
        page.wait("document.getElementById('quality-status').textContent === 'no metrics recorded for silver.orders yet'")
        ARTIFACTS.mkdir(exist_ok=True)
        page.js("document.getElementById('quality-table').value = 'gold.daily_sales_summary';"
                "document.getElementById('quality-metric').value = '';"
                "document.getElementById('quality-form').requestSubmit()")
        page.wait("document.querySelectorAll('#quality-plots figure').length === 2")
        shot = ARTIFACTS / "service-quality.png"
        shot.write_bytes(base64.b64decode(page.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]))
        assert shot.stat().st_size > 10_000
