"""Transient storage errors are retried by the asset retry policy; errors a person must fix fail at once."""
from __future__ import annotations

from datetime import date

import pyarrow as pa
from dagster import AssetKey, DagsterEventType, DagsterInstance

from lakehouse.dev.generate.commerce import land_commerce
from lakehouse.storage.arrow_store import ArrowStore

FX = AssetKey(["bronze", "fx_rates"])


def _run_fx():
    from lakehouse.definitions import build_definitions

    job = build_definitions().resolve_job_def("lakehouse_daily")
    return job.execute_in_process(instance=DagsterInstance.ephemeral(), asset_selection=[FX],
                                  partition_key="2024-06-03", raise_on_error=False)


def _events(result, kind):
    return [e for e in result.all_events if e.event_type == kind]


def test_transient_storage_error_is_retried_and_the_run_succeeds(lakehouse_env, monkeypatch):
    land_commerce(lakehouse_env, date(2024, 6, 3), 1, 20, 1)
    from lakehouse.storage.spark_store import SparkStore

    original, calls = SparkStore.write_df, []  # the write a run makes (Spark from the executors)

    def flaky(self, table_id, *args, **kwargs):
        if table_id == "bronze.fx_rates" and not calls:
            calls.append(table_id)
            raise OSError("S3 answered 503 Slow Down (injected)")
        return original(self, table_id, *args, **kwargs)

    monkeypatch.setattr(SparkStore, "write_df", flaky)
    result = _run_fx()
    assert result.success
    assert calls == ["bronze.fx_rates"]
    assert len(_events(result, DagsterEventType.STEP_UP_FOR_RETRY)) == 1
    assert ArrowStore(lakehouse_env).partitions(f"{lakehouse_env.warehouse}/bronze/fx_rates", "delta") == ["2024-06-03"]


def test_permanent_error_fails_fast_with_a_clear_message(lakehouse_env):
    land_commerce(lakehouse_env, date(2024, 6, 3), 1, 20, 1)
    store = ArrowStore(lakehouse_env)
    uri = f"{lakehouse_env.warehouse}/bronze/fx_rates"
    # someone created the table with a numeric rate column: the string batch cannot go in
    store.write("bronze.fx_rates", uri, "delta", pa.table({"usd_rate": [1.0], "dt": ["2024-06-01"]}), ["2024-06-01"])
    result = _run_fx()
    assert not result.success
    assert _events(result, DagsterEventType.STEP_UP_FOR_RETRY) == []
    failure = _events(result, DagsterEventType.STEP_FAILURE)[0].step_failure_data
    message = failure.user_failure_data.description
    assert "bronze.fx_rates" in message and "'usd_rate'" in message and "double" in message
    assert store.partitions(uri, "delta") == ["2024-06-01"]  # nothing was written
