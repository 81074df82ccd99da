"""Idempotency, crash safety and S3 faults: a re-run changes nothing, a killed write loses nothing
committed, transient S3 errors (injected by a proxy in front of moto) are retried, permanent ones fail fast."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import urllib.request
from datetime import date
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


# --- idempotency: re-running a partition leaves every table's content identical ------------------------

CHAIN = ["bronze.shop_orders", "bronze.fx_rates", "silver.fx_rates", "silver.orders", "bronze.shop_products",
         "silver.products", "gold.daily_sales_summary"]
RUN_STAMPS = {"_ingested_at", "quarantined_at"}


def _day_content(table: str, dt: str, quarantine: bool = False) -> pa.Table:
    from lakehouse.quality.quarantine import quarantine_name
    from lakehouse.resources import LakehouseResource
    from lakehouse.tables.registry import get_spec

    lh, spec = LakehouseResource(), get_spec(table)
    uri = f"{lh.settings().warehouse}/quarantine/{quarantine_name(table)}" if quarantine else lh.uri_of(spec)
    data = lh.store().read(uri, lh.format_of(spec), [dt])
    data = data.select([c for c in data.column_names if c not in RUN_STAMPS])
    return data.sort_by([(c, "ascending") for c in data.column_names if c != "rules"])


@pytest.mark.slow
def test_rerunning_a_partition_leaves_bronze_silver_and_gold_identical(lakehouse_env):
    from dagster import AssetKey, DagsterInstance

    from lakehouse.definitions import build_definitions
    from lakehouse.generate.commerce import land_commerce
    from lakehouse.runs import RANGE_END, RANGE_START
    from lakehouse.tables.registry import get_spec

    day = "2024-06-03"
    land_commerce(lakehouse_env, date.fromisoformat(day), 1, 40, 7)
    defs, instance = build_definitions(), DagsterInstance.ephemeral()
    job = defs.resolve_job_def("lakehouse_daily")

    def run():
        result = job.execute_in_process(
            instance=instance, asset_selection=[AssetKey(get_spec(t).asset_key_path) for t in CHAIN],
            tags={RANGE_START: day, RANGE_END: day}, raise_on_error=False)
        assert result.success, [e.message for e in result.all_events if e.is_failure]
        return {t: (_day_content(t, day), _day_content(t, day, quarantine=t != "gold.daily_sales_summary"))
                for t in ("bronze.shop_orders", "silver.orders", "gold.daily_sales_summary")}

    first = run()
    assert all(rows.num_rows > 0 for rows, _ in first.values())
    assert first["silver.orders"][1].num_rows > 0  # the generated feed is dirty: something is quarantined
    second = run()
    for table in first:
        assert second[table][0].equals(first[table][0]), table  # published rows
        assert second[table][1].equals(first[table][1]), table  # quarantine rows: replaced, never appended


# --- S3 faults injected by an HTTP proxy in front of moto ----------------------------------------------

# The proxy runs in its own process: delta-rs holds the calling thread (and the GIL) while it waits for S3.
PROXY = r"""
import http.client, http.server, json, socketserver, sys, threading
upstream, mode, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
host, port = upstream.split("//")[1].split(":")
lock, seen = threading.Lock(), {"requests": 0, "injected": 0}

class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def _any(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/__stats":
            return self._send(200, json.dumps(seen).encode(), {"Content-Type": "application/json"})
        with lock:
            seen["requests"] += 1
            i = seen["requests"]
            fail = (mode == "first" and i <= n) or (mode == "every" and i % n == 0) or mode == "deny"
            if fail:
                seen["injected"] += 1
        if fail and mode == "deny":
            return self._send(403, b"<Error><Code>AccessDenied</Code><Message>Access Denied (injected)</Message></Error>",
                              {"Content-Type": "application/xml"})
        if fail:
            return self._send(503, b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate (injected)</Message></Error>",
                              {"Content-Type": "application/xml"})
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "transfer-encoding")}
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        hop = ("connection", "transfer-encoding", "content-length", "keep-alive")
        self._send(resp.status, data, {k: v for k, v in resp.getheaders() if k.lower() not in hop})
        conn.close()
    def _send(self, status, data, headers):
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _any

class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True

server = Server(("127.0.0.1", 0), Proxy)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


@pytest.fixture
def fault_proxy(aws_env, monkeypatch):
    """start(mode, n) -> stats(): a proxy to moto answering 503 to the first n requests ("first"), to every
    n-th request ("every"), or 403 to all ("deny"); AWS_ENDPOINT_URL points at it."""
    procs = []

    def start(mode: str, n: int = 0):
        proc = subprocess.Popen([sys.executable, "-c", PROXY, aws_env, mode, str(n)], stdout=subprocess.PIPE, text=True)
        procs.append(proc)
        url = f"http://127.0.0.1:{proc.stdout.readline().strip()}"
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        import json

        return lambda: json.loads(urllib.request.urlopen(f"{url}/__stats", timeout=5).read())

    yield start
    for proc in procs:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("mode,n", [("first", 3), ("every", 4)])
def test_transient_s3_errors_from_the_wire_are_retried(s3_lakehouse_env, fault_proxy, mode, n):
    from lakehouse.config import Settings

    stats = fault_proxy(mode, n)
    store = TableStore(Settings.from_env())  # now speaking to moto through the proxy
    uri = store.uri("bronze", f"wire_{mode}")
    data = pa.table({"id": list(range(100)), "dt": ["2024-06-01"] * 50 + ["2024-06-02"] * 50})
    store.write("bronze.wire", uri, "delta", data, ["2024-06-01", "2024-06-02"])
    store.write("bronze.wire", uri, "delta", pa.table({"id": [7], "dt": ["2024-06-02"]}), ["2024-06-02"])
    assert sorted(store.read(uri, "delta").column("id").to_pylist()) == sorted([*range(50), 7])
    assert store.read(uri, "delta", ["2024-06-02"]).column("id").to_pylist() == [7]
    assert store.version(uri, "delta") == 1
    seen = stats()
    assert seen["injected"] >= (n if mode == "first" else 2), seen  # the faults did happen, and were survived


def test_access_denied_fails_fast_and_names_the_location(s3_lakehouse_env, fault_proxy):
    from lakehouse.config import Settings

    fault_proxy("deny")
    store = TableStore(Settings.from_env())
    uri = store.uri("bronze", "denied")
    began = time.monotonic()
    with pytest.raises((OSError, LakehouseError)) as err:
        store.write("bronze.denied", uri, "delta", pa.table({"id": [1], "dt": ["2024-06-01"]}), ["2024-06-01"])
    assert time.monotonic() - began < 30
    message = str(err.value)
    assert "bronze/denied" in message or s3_lakehouse_env.warehouse in message, message
    assert "403" in message or "denied" in message.lower(), message
