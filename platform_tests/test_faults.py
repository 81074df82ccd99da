"""Crash safety and S3 faults: a killed write loses nothing committed, transient S3 errors (injected by a
proxy in front of moto) are retried, permanent ones fail fast. Idempotency of every table is asserted in
test_commerce_e2e.py."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pyarrow as pa
import pytest

from lakehouse.errors import LakehouseError
from lakehouse.storage.arrow_store import ArrowStore

REPO = Path(__file__).resolve().parents[1]


def test_a_write_killed_midway_leaves_the_previous_version_readable(lakehouse_env):
    store = ArrowStore(lakehouse_env)
    uri = store.uri("silver", "crash")
    store.write("silver.crash", uri, "delta", pa.table({"id": [1, 2], "dt": ["2024-06-01", "2024-06-02"]}),
                ["2024-06-01", "2024-06-02"])
    before = sorted(store.read(uri, "delta").to_pylist(), key=lambda r: r["id"])
    writer = textwrap.dedent(f"""
        import pyarrow as pa, sys
        sys.path.insert(0, {str(REPO / 'platform')!r})
        from lakehouse.config import Settings
        from lakehouse.storage.arrow_store import ArrowStore
        n = 30_000_000
        big = pa.table({{"id": pa.array(range(n), pa.int64()), "dt": pa.array(["2024-06-02"] * n)}})
        print("writing", flush=True)
        ArrowStore(Settings.from_env()).write("silver.crash", {uri!r}, "delta", big, ["2024-06-02"])
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
    store = ArrowStore(s3_lakehouse_env)
    uri = store.uri("bronze", "flaky")
    result = store.write("bronze.flaky", uri, "delta", pa.table({"id": [1], "dt": ["2024-06-01"]}), ["2024-06-01"])
    assert len(failures) == 2 and result.version == 0
    assert store.read(uri, "delta").column("id").to_pylist() == [1]


def test_permanent_s3_error_fails_fast_and_names_the_location(s3_lakehouse_env):
    settings = s3_lakehouse_env.with_(warehouse="s3://no-such-bucket-anywhere/warehouse")
    store = ArrowStore(settings)
    began = time.monotonic()
    with pytest.raises((OSError, LakehouseError)) as err:
        store.write("bronze.x", store.uri("bronze", "x"), "delta", pa.table({"id": [1], "dt": ["2024-06-01"]}),
                    ["2024-06-01"])
    assert time.monotonic() - began < 60
    assert "no-such-bucket-anywhere" in str(err.value)


# --- S3 faults injected by an HTTP proxy in front of moto ----------------------------------------------

# The proxy runs in its own process: delta-rs holds the calling thread (and the GIL) while it waits for S3.
PROXY = r"""
import http.client, http.server, json, socketserver, sys, threading
upstream, mode, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
host, port = upstream.split("//")[1].split(":")
lock, seen, refused = threading.Lock(), {"requests": 0, "injected": 0}, set()

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
            # transient: a request refused once is served when it comes again. Without this, an attempt that
            # makes a multiple of n requests meets its 503 at the same request on every retry (a permanent fault).
            asked = (self.command, self.path, self.headers.get("Range"))
            if mode == "every":
                fail = fail and asked not in refused
                (refused.add if fail else refused.discard)(asked)
            slow = mode == "slow" and i % 5 == 0
            if fail or slow:
                seen["injected"] += 1
        if slow:  # a slow answer: held for n seconds, then served
            __import__("time").sleep(n)
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
        # a HEAD answer has no body but must still say the object's size
        length = resp.getheader("Content-Length") if self.command == "HEAD" else None
        self._send(resp.status, data, {k: v for k, v in resp.getheaders() if k.lower() not in hop}, length)
        conn.close()
    def _send(self, status, data, headers, length=None):
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", length or str(len(data)))
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
    n-th request ("every"), 403 to all ("deny"), or holding every 5th request for n seconds ("slow");
    AWS_ENDPOINT_URL points at it."""
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


@pytest.mark.parametrize("mode,n", [("first", 3), ("every", 4), ("slow", 2)])
def test_transient_s3_errors_from_the_wire_are_retried(s3_lakehouse_env, fault_proxy, mode, n):
    from lakehouse.config import Settings

    stats = fault_proxy(mode, n)
    store = ArrowStore(Settings.from_env())  # now speaking to moto through the proxy
    uri = store.uri("bronze", f"wire_{mode}")
    data = pa.table({"id": list(range(100)), "dt": ["2024-06-01"] * 50 + ["2024-06-02"] * 50})
    store.write("bronze.wire", uri, "delta", data, ["2024-06-01", "2024-06-02"])
    store.write("bronze.wire", uri, "delta", pa.table({"id": [7], "dt": ["2024-06-02"]}), ["2024-06-02"])
    assert sorted(store.read(uri, "delta").column("id").to_pylist()) == sorted([*range(50), 7])
    assert store.read(uri, "delta", ["2024-06-02"]).column("id").to_pylist() == [7]
    assert store.version(uri, "delta") == 1
    seen = stats()
    assert seen["injected"] >= (n if mode == "first" else 2), seen  # the faults did happen, and were survived


@pytest.mark.slow
def test_a_dagster_run_on_s3_survives_injected_503s_and_publishes_what_a_clean_run_does(
        s3_lakehouse_env, fault_proxy, monkeypatch, spark):
    """bronze -> silver over S3 and Glue while every 6th request to S3/Glue answers 503: the run succeeds
    (storage and Glue clients retry), and a clean re-run publishes exactly the same rows."""
    from datetime import date

    from dagster import AssetKey, DagsterInstance

    from lakehouse.definitions import build_definitions
    from lakehouse.dev.generate.commerce import land_commerce
    from lakehouse.pipeline.registry import get_spec
    from lakehouse.resources import LakehouseResource
    from lakehouse.runs import RANGE_END, RANGE_START

    day, tables = "2024-06-03", ["bronze.fx_rates", "silver.fx_rates"]
    land_commerce(s3_lakehouse_env, date.fromisoformat(day), 1, 20, 7)  # straight to moto
    job, instance = build_definitions().resolve_job_def("lakehouse_daily"), DagsterInstance.ephemeral()

    def run_and_read():
        result = job.execute_in_process(
            instance=instance, asset_selection=[AssetKey(get_spec(t).asset_key_path) for t in tables],
            tags={RANGE_START: day, RANGE_END: day}, raise_on_error=False)
        assert result.success, [e.message for e in result.all_events if e.is_failure]
        lh = LakehouseResource()
        out = {}
        for t in tables:
            data = lh.store().read(lh.uri_of(get_spec(t)), "delta", [day])
            data = data.select([c for c in data.column_names if c != "_ingested_at"])
            out[t] = data.sort_by([(c, "ascending") for c in data.column_names])
        return out

    moto = os.environ["AWS_ENDPOINT_URL"]
    stats = fault_proxy("every", 6)
    faulty = run_and_read()
    assert stats()["injected"] >= 3, stats()
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto)
    clean = run_and_read()
    assert faulty["silver.fx_rates"].num_rows > 0
    for t in tables:
        assert faulty[t].equals(clean[t]), t


def test_access_denied_fails_fast_and_names_the_location(s3_lakehouse_env, fault_proxy):
    from lakehouse.config import Settings

    fault_proxy("deny")
    store = ArrowStore(Settings.from_env())
    uri = store.uri("bronze", "denied")
    began = time.monotonic()
    with pytest.raises((OSError, LakehouseError)) as err:
        store.write("bronze.denied", uri, "delta", pa.table({"id": [1], "dt": ["2024-06-01"]}), ["2024-06-01"])
    assert time.monotonic() - began < 30
    message = str(err.value)
    assert "bronze/denied" in message or s3_lakehouse_env.warehouse in message, message
    assert "403" in message or "denied" in message.lower(), message
