"""Crash safety and S3 faults: a killed write loses nothing committed; transient S3 errors are retried."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pyarrow as pa
import pytest

from lakehouse.errors import LakehouseError
from lakehouse.storage.table_store import TableStore

REPO = Path(__file__).resolve().parents[1]


def test_a_write_killed_midway_leaves_the_previous_version_readable(lakehouse_env):
    store = TableStore(lakehouse_env)
    uri = store.uri("silver", "crash")
    store.write("silver.crash", uri, "delta", pa.table({"id": [1, 2], "dt": ["2024-06-01", "2024-06-02"]}),
                ["2024-06-01", "2024-06-02"])
    before = sorted(store.read(uri, "delta").to_pylist(), key=lambda r: r["id"])
    writer = textwrap.dedent(f"""
        import pyarrow as pa, sys
        sys.path.insert(0, {str(REPO / 'platform')!r})
        from lakehouse.config import Settings
        from lakehouse.storage.table_store import TableStore
        n = 30_000_000
        big = pa.table({{"id": pa.array(range(n), pa.int64()), "dt": pa.array(["2024-06-02"] * n)}})
        print("writing", flush=True)
        TableStore(Settings.from_env()).write("silver.crash", {uri!r}, "delta", big, ["2024-06-02"])
        print("committed", flush=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", writer], stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    assert proc.stdout.readline().strip() == "writing"
    time.sleep(1.5)  # mid-write: parquet files are being produced, the commit has not happened
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert store.version(uri, "delta") == 0  # the log never saw the killed write
    assert sorted(store.read(uri, "delta").to_pylist(), key=lambda r: r["id"]) == before
    store.write("silver.crash", uri, "delta", pa.table({"id": [7], "dt": ["2024-06-02"]}), ["2024-06-02"])
    assert sorted(r["id"] for r in store.read(uri, "delta").to_pylist()) == [1, 7]


def test_transient_storage_errors_are_retried_inside_the_store(s3_lakehouse_env, monkeypatch):
    import deltalake

    original, failures = deltalake.write_deltalake, []

    def flaky(*args, **kwargs):
        if len(failures) < 2:
            failures.append(1)
            raise OSError("Generic S3 error: 503 Slow Down (injected)")
        return original(*args, **kwargs)

    monkeypatch.setattr(deltalake, "write_deltalake", flaky)
    store = TableStore(s3_lakehouse_env)
    uri = store.uri("bronze", "flaky")
    result = store.write("bronze.flaky", uri, "delta", pa.table({"id": [1], "dt": ["2024-06-01"]}), ["2024-06-01"])
    assert len(failures) == 2 and result.version == 0
    assert store.read(uri, "delta").column("id").to_pylist() == [1]


def test_permanent_s3_error_fails_fast_and_names_the_location(s3_lakehouse_env):
    settings = s3_lakehouse_env.with_(warehouse="s3://no-such-bucket-anywhere/warehouse")
    store = TableStore(settings)
    began = time.monotonic()
    with pytest.raises((OSError, LakehouseError)) as err:
        store.write("bronze.x", store.uri("bronze", "x"), "delta", pa.table({"id": [1], "dt": ["2024-06-01"]}),
                    ["2024-06-01"])
    assert time.monotonic() - began < 60
    assert "no-such-bucket-anywhere" in str(err.value)
