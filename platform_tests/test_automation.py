"""Landing sensor exactly-once, S3 pagination, automation reaching downstream days, retention."""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from urllib.parse import urlparse

import pyarrow as pa
import pytest
from dagster import AssetKey, DagsterInstance, SkipReason, build_sensor_context, evaluate_automation_conditions

from lakehouse.automation.maintenance import apply_retention, partition_health
from lakehouse.automation.sensors import batches, build_landing_sensor, list_landed
from lakehouse.generate.commerce import land_commerce
from lakehouse.resources import LakehouseResource
from lakehouse.runs import RANGE_END, RANGE_START
from lakehouse.tables.registry import get_spec, specs_in


def _tick(cursor=None):
    sensor = build_landing_sensor(specs_in("bronze"))
    context = build_sensor_context(cursor=cursor, resources={"lakehouse": LakehouseResource()})
    result = sensor(context)
    requests = [] if isinstance(result, SkipReason) else list(result)
    return requests, context.cursor


def test_landing_sensor_requests_each_batch_exactly_once(lakehouse_env):
    land_commerce(lakehouse_env, date(2024, 6, 3), 2, 20, 1)
    first, cursor = _tick()
    assert len(first) == 14  # 7 entities x 2 days
    assert {r.partition_key for r in first} == {"2024-06-03", "2024-06-04"}
    assert all(len(r.asset_selection) == 1 for r in first)

    again, cursor2 = _tick(cursor)  # the next tick, or a restarted daemon reading the stored cursor
    assert again == [] and json.loads(cursor2) == json.loads(cursor)

    # a restart that lost the cursor asks again with the *same* run keys, which Dagster refuses to repeat
    replay, _ = _tick(None)
    assert {r.run_key for r in replay} == {r.run_key for r in first}

    # a file still being written waits; a new complete file in a processed day re-runs that day only
    folder = Path(urlparse(lakehouse_env.landing).path) / "shop" / "orders" / "dt=2024-06-03"
    (folder / "late.csv.tmp").write_text("order_id\nX1\n")
    (folder / "empty.csv").write_text("")
    assert _tick(cursor2)[0] == []
    (folder / "late.csv").write_text("order_id\nX1\n")
    late, _ = _tick(cursor2)
    assert [(r.partition_key, r.asset_selection) for r in late] == [("2024-06-03", [AssetKey(["bronze", "shop_orders"])])]
    assert late[0].run_key not in {r.run_key for r in first}


def test_s3_listing_pages_past_1000_keys(s3_lakehouse_env):
    import boto3

    s3 = boto3.client("s3", endpoint_url=s3_lakehouse_env.aws_endpoint_url, region_name="us-east-1")
    bucket = s3_lakehouse_env.landing.split("/")[2]
    keys = [f"landing/events/clickstream/dt=2024-06-{1 + i % 5:02d}/part-{i:05d}.jsonl" for i in range(1050)]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=bucket, Key=k, Body=b'{"event_id": "e"}\n'), keys))
    s3.put_object(Bucket=bucket, Key="landing/events/clickstream/dt=2024-06-01/_tmp-part.jsonl", Body=b"x")
    files = list_landed(s3_lakehouse_env)
    assert len(files) == 1050
    assert len(batches(files)) == 5
    requests, _ = _tick()
    assert sorted(r.partition_key for r in requests) == [f"2024-06-0{d}" for d in range(1, 6)]


@pytest.mark.slow
def test_silver_follows_any_updated_day_not_only_the_latest(lakehouse_env):
    from lakehouse.definitions import build_definitions

    defs = build_definitions()
    instance = DagsterInstance.ephemeral()
    before = evaluate_automation_conditions(defs=defs, instance=instance)  # the daemon's previous tick
    assert before.total_requested == 0  # nothing landed: nothing to do, however many days exist
    land_commerce(lakehouse_env, date(2024, 6, 3), 2, 20, 1)
    bronze = [AssetKey(s.asset_key_path) for s in specs_in("bronze")]
    job = defs.resolve_job_def("lakehouse_daily")
    assert job.execute_in_process(instance=instance, asset_selection=bronze,
                                  tags={RANGE_START: "2024-06-03", RANGE_END: "2024-06-04"}).success
    result = evaluate_automation_conditions(defs=defs, instance=instance, cursor=before.cursor)
    requested = {(".".join(k.path), p) for k, parts in _requested(result).items() for p in parts}
    # both days -- 2024-06-03 is far from the latest partition (today), which eager() alone would ignore
    assert {("silver.events", "2024-06-03"), ("silver.events", "2024-06-04"), ("silver.fx_rates", "2024-06-03")} <= requested
    # tables whose other upstreams are not there yet wait for them: orders for fx_rates, gold for silver
    assert not any(t.startswith("gold.") or t == "silver.orders" for t, _ in requested)


def _requested(result):
    keys = {AssetKey(s.asset_key_path) for s in specs_in()}
    return {key: result.get_requested_partitions(key) for key in keys if result.get_num_requested(key)}


def test_retention_removes_only_expired_partitions(lakehouse_env):
    lakehouse = LakehouseResource()
    spec = get_spec("bronze.fx_rates")
    days = ["2024-01-01", "2024-03-30", "2024-03-31", "2024-04-01"]
    table = pa.table({c.name: [None] * 4 for c in spec.columns} | {"dt": days})
    table = table.cast(pa.schema([pa.field(c.name, pa.string()) for c in spec.columns] + [pa.field("dt", pa.string())]))
    lakehouse.publish(spec, table, days)
    removed = apply_retention(lakehouse, spec, today=date(2024, 6, 30))  # bronze keeps 90 days
    assert removed == ["2024-01-01", "2024-03-30", "2024-03-31"]
    assert lakehouse.partitions_of(spec) == ["2024-04-01"]
    health = partition_health(lakehouse, spec)
    assert (health.present, health.expected, health.last_rows) == (1, 1, {"2024-04-01": 1})
