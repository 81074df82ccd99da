"""Landing sensor: exactly once across ticks and daemon restarts, files in flight wait, S3 past 1,000 keys."""
from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlparse

import pytest
from dagster import AssetKey, DagsterInstance, PartitionKeyRange, SkipReason, build_sensor_context

from lakehouse.automation.sensors import SENSOR_NAME, LandingCursor, build_landing_sensor
from lakehouse.dev.generate.commerce import land_commerce
from lakehouse.ingest.landing import LandingZone, batches
from lakehouse.jobs import landing_fed
from lakehouse.pipeline.registry import all_specs, specs_in
from lakehouse.resources import LakehouseResource

REPO = Path(__file__).resolve().parents[1]


def _tick(cursor=None, instance=None):
    sensor = build_landing_sensor(landing_fed(all_specs()))  # as definitions.py builds it
    context = build_sensor_context(cursor=cursor, instance=instance or DagsterInstance.ephemeral(),
                                   resources={"lakehouse": LakehouseResource()})
    result = sensor(context)
    requests = [] if isinstance(result, SkipReason) else list(result)
    return requests, context.cursor


ORDERS_PATH = {"bronze.shop_orders", "silver.orders", "gold.daily_sales_summary", "gold.customer_analytics"}


def _ids_of(keys) -> set[str]:
    return {".".join(k.path) for k in keys}


def _ids(request) -> set[str]:
    return _ids_of(request.asset_selection)


def _day_folder(settings, entity="orders", dt="2024-06-03") -> Path:
    return Path(urlparse(settings.landing).path) / "shop" / entity / f"dt={dt}"


def test_each_batch_is_requested_exactly_once(lakehouse_env):
    land_commerce(lakehouse_env, date(2024, 6, 3), 2, 20, 1)
    first, cursor = _tick()
    # a landed backlog is one run over its days (a single-run backfill) ...
    assert [(r.partition_key, r.partition_key_range) for r in first] == [
        (None, PartitionKeyRange("2024-06-03", "2024-06-04"))]
    assert all(r.run_key.count("@") == 1 for r in first)
    bronze = {AssetKey(s.asset_key_path) for s in specs_in("bronze", domain="commerce") if s.landing}
    assert all(bronze <= set(r.asset_selection) for r in first)  # ... of its 7 entities, carrying the days' path
    assert _ids(first[0]) - _ids_of(bronze) == {  # to gold: every daily table downstream, not the monthly one
        "silver.fx_rates", "silver.orders", "silver.products", "silver.customers", "silver.events",
        "silver.crm_contacts", "silver.crm_deals", "gold.daily_sales_summary", "gold.customer_analytics",
        "gold.conversion_funnel"}
    assert first[0].tags["lakehouse/day"] == "2024-06-03..2024-06-04" and first[0].tags["lakehouse/domain"] == "commerce"
    assert first[0].tags["lakehouse/landing_files"] == "14" and len(first[0].tags["lakehouse/landing_fingerprint"]) == 16
    assert json.loads(cursor)["v"] == 2 and len(json.loads(cursor)["batches"]) == 14

    again, cursor2 = _tick(cursor)
    assert again == [] and json.loads(cursor2)["batches"] == json.loads(cursor)["batches"]

    # a tick that lost its cursor asks again with the *same* run keys, which Dagster refuses to repeat
    replay, _ = _tick(None)
    assert {r.run_key for r in replay} == {r.run_key for r in first}

    # files still being written wait; a new complete file in a processed day re-runs that day only
    folder = _day_folder(lakehouse_env)
    (folder / "late.csv.tmp").write_text("order_id\nX1\n")
    (folder / "empty.csv").write_text("")
    assert _tick(cursor2)[0] == []
    (folder / "late.csv.tmp").rename(folder / "late.csv")  # a rename keeps the mtime: still seen as new
    late, cursor3 = _tick(cursor2)  # the orders' path only: no other entity's tables
    assert [(r.partition_key, _ids(r)) for r in late] == [("2024-06-03", ORDERS_PATH)]
    assert late[0].run_key not in {r.run_key for r in first}
    assert _tick(cursor3)[0] == []


def test_a_backlog_splits_at_gaps_and_at_a_different_set_of_entities(lakehouse_env):
    land_commerce(lakehouse_env, date(2024, 6, 3), 3, 5, 1)
    land_commerce(lakehouse_env, date(2024, 6, 7), 2, 5, 1)  # 06-06 has no files: a gap
    for folder in Path(urlparse(lakehouse_env.landing).path).glob("*/*/dt=2024-06-08"):
        if folder.parent.name != "orders":  # on 06-08 only the orders landed
            for f in folder.iterdir():
                f.unlink()
    requests, cursor = _tick()
    spans = [(r.partition_key, r.partition_key_range) for r in requests]
    assert spans == [(None, PartitionKeyRange("2024-06-03", "2024-06-05")), ("2024-06-07", None),
                     ("2024-06-08", None)]
    assert _ids(requests[2]) == ORDERS_PATH
    assert len({r.run_key for r in requests}) == 3 and _tick(cursor)[0] == []


def test_a_file_for_a_day_without_a_partition_waits_for_it(lakehouse_env):
    far = (datetime.now(timezone.utc) + timedelta(days=5)).date()
    land_commerce(lakehouse_env, far, 1, 5, 1)
    requests, cursor = _tick()
    assert requests == [] and len(json.loads(cursor)["pending"]) == 7
    # the day stays pending on every tick, however far the watermark moves, until its partition exists
    assert _tick(cursor)[0] == [] and len(json.loads(_tick(cursor)[1])["pending"]) == 7


def test_the_watermark_window_only_refingerprints_recent_batches(lakehouse_env):
    land_commerce(lakehouse_env, date(2024, 6, 3), 3, 5, 1)
    all_batches, newest = LandingZone(lakehouse_env).changed_batches(None)
    assert len(all_batches) == 21 and newest is not None
    assert LandingZone(lakehouse_env).changed_batches(newest)[0] == {}
    (_day_folder(lakehouse_env, "orders", "2024-06-04") / "more.csv").write_text("order_id\nX2\n")
    changed, _ = LandingZone(lakehouse_env).changed_batches(newest)
    assert list(changed) == ["shop/orders/2024-06-04"] and changed != {k: all_batches[k] for k in changed}
    # an old cursor (a plain {batch: fingerprint} map) is read as a full rescan
    fingerprints = {k: b.fingerprint for k, b in all_batches.items()}
    assert LandingCursor.parse(json.dumps(fingerprints)).batches == fingerprints


@pytest.fixture
def dagster_home(tmp_path, lakehouse_env, monkeypatch):
    """A persistent instance on disk with a queued run coordinator: runs are recorded, not executed."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(
        "run_coordinator:\n  module: dagster._core.run_coordinator\n  class: QueuedRunCoordinator\n"
        "telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


def _daemon_tick(home: Path, at: datetime) -> list:
    """One iteration of the real sensor daemon over the instance stored in `home` (a fresh process view)."""
    import logging

    from dagster._core.test_utils import create_test_daemon_workspace_context, freeze_time
    from dagster._core.workspace.load_target import ModuleTarget
    from dagster._daemon.sensor import execute_sensor_iteration

    instance = DagsterInstance.from_config(str(home))
    target = ModuleTarget(module_name="lakehouse.definitions", attribute="defs",
                          working_directory=str(REPO / "platform"), location_name="lakehouse")
    try:
        with freeze_time(at), create_test_daemon_workspace_context(target, instance) as context:
            list(execute_sensor_iteration(context, logging.getLogger("test_sensor_daemon"), None, None))
        return [r for r in instance.get_runs() if r.tags.get("dagster/sensor_name") == SENSOR_NAME]
    finally:
        instance.dispose()


@pytest.mark.slow
def test_exactly_once_across_daemon_restarts(dagster_home, lakehouse_env):
    now = datetime.now(timezone.utc)
    land_commerce(lakehouse_env, date(2024, 6, 3), 1, 10, 1)
    runs = _daemon_tick(dagster_home, now)
    assert len(runs) == 1 and runs[0].tags["lakehouse/landing_files"] == "7"  # one run for the landed day
    assert sum(k.path[0] == "bronze" for k in runs[0].asset_selection) == 7

    first_ids = {r.run_id for r in runs}
    # while the daemon is down one more file lands in a day already processed; the restarted daemon (a new
    # instance over the same storage, resuming from the stored cursor) runs that day once, and nothing else
    (_day_folder(lakehouse_env) / "while-down.csv").write_text(
        "order_id,customer_id,order_ts,currency,amount,status\nZ1,C1,2024-06-03T10:00:00,EUR,9.5,placed\n")
    runs = _daemon_tick(dagster_home, now + timedelta(seconds=30))
    assert [(r.tags["lakehouse/landing_batches"], r.tags["dagster/partition"]) for r in runs
            if r.run_id not in first_ids] == [("shop/orders", "2024-06-03")]
    assert len(_daemon_tick(dagster_home, now + timedelta(seconds=60))) == 2


def test_s3_listing_pages_past_1000_keys_and_shared_timestamps(s3_lakehouse_env):
    import boto3

    s3 = boto3.client("s3", endpoint_url=s3_lakehouse_env.aws_endpoint_url, region_name="us-east-1")
    bucket = s3_lakehouse_env.landing.split("/")[2]
    keys = [f"landing/events/clickstream/dt=2024-06-{1 + i % 5:02d}/part-{i:05d}.jsonl" for i in range(1050)]
    started = time.monotonic()
    with ThreadPoolExecutor(32) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=bucket, Key=k, Body=b'{"event_id": "e"}\n'), keys))
    put_seconds = time.monotonic() - started
    s3.put_object(Bucket=bucket, Key="landing/events/clickstream/dt=2024-06-01/_tmp-part.jsonl", Body=b"x")
    s3.put_object(Bucket=bucket, Key="landing/events/clickstream/dt=2024-06-02/empty.jsonl", Body=b"")
    files = LandingZone(s3_lakehouse_env).files()
    assert len(files) == 1050, f"listed {len(files)} (writing took {put_seconds:.1f}s)"
    assert len(batches(files)) == 5
    requests, cursor = _tick()
    assert [r.partition_key_range for r in requests] == [PartitionKeyRange("2024-06-01", "2024-06-05")]

    # objects landing within the watermark's own second (S3 stamps whole seconds) are still seen:
    # the settle window re-reads them and the fingerprints keep the re-read from requesting twice
    watermark = LandingCursor.parse(cursor).watermark
    assert watermark is not None
    s3.put_object(Bucket=bucket, Key="landing/events/clickstream/dt=2024-06-03/same-second.jsonl", Body=b'{"a":1}\n')
    late, cursor2 = _tick(cursor)
    assert [r.partition_key for r in late] == ["2024-06-03"]
    assert _tick(cursor2)[0] == []


@pytest.mark.slow
def test_a_batch_materialized_by_any_path_is_never_requested_again(lakehouse_env, spark):
    from lakehouse.definitions import build_definitions

    land_commerce(lakehouse_env, date(2024, 6, 3), 1, 5, 1)
    instance = DagsterInstance.ephemeral()
    bronze = [AssetKey(s.asset_key_path) for s in specs_in("bronze", domain="commerce")]
    # materialized outside the sensor, as `lakehouse demo` or `materialize` do
    run = build_definitions().resolve_job_def("lakehouse_daily").execute_in_process(
        instance=instance, asset_selection=bronze, partition_key="2024-06-03")
    assert run.success
    meta = {".".join(ev.asset_key.path): ev.event_specific_data.materialization.metadata
            for ev in run.get_asset_materialization_events()}
    assert meta["bronze.shop_orders"]["landing_files"].value == 1 and meta["bronze.shop_orders"]["landed_at"].value

    requests, cursor = _tick(None, instance)  # a sensor starting afresh (make dev after make demo)
    assert requests == [] and len(json.loads(cursor)["batches"]) == 7

    # a late file changes one batch: its day runs again, for the changed entity only; a sensor that lost its
    # cursor asks for exactly the same run (the other six are trusted from their materializations)
    (_day_folder(lakehouse_env) / "late.csv").write_text(
        "order_id,customer_id,order_ts,currency,amount,status\nZ1,C1,2024-06-03T10:00:00,EUR,9.5,placed\n")
    late, _ = _tick(cursor, instance)
    assert [(r.partition_key, _ids(r)) for r in late] == [("2024-06-03", ORDERS_PATH)]
    assert [r.run_key for r in _tick(None, instance)[0]] == [late[0].run_key]
