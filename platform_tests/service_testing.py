"""Shared by the service tests: a small warehouse written through delta-rs (no Spark), API keys, and the real app
served by uvicorn on 127.0.0.1 in a thread.

The tables are test_security's (security_lake.py), so its corpus of bad reads replays over HTTP unchanged.
"""
from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Iterator

import httpx
import pyarrow as pa
from security_lake import DAY, REGIONS, security_tables

from lakehouse.config import Settings
from lakehouse.dev.ports import free_port
from lakehouse.service.keys import KeyStore
from lakehouse.storage.arrow_store import ArrowStore

DAYS = [DAY, "2024-06-04", "2024-06-05"]
CATEGORIES = ["Books", "Electronics", "Garden"]


def put(settings: Settings, table_id: str, data: pa.Table) -> None:
    layer, name = table_id.split(".")
    store = ArrowStore(settings)
    store.write(table_id, store.uri(layer, name), "delta", data, sorted(set(data.column("dt").to_pylist())))


def build_lake(home: Path) -> Settings:
    settings = Settings.from_env({"LAKEHOUSE_HOME": str(home)})
    for table_id, rows in security_tables().items():
        put(settings, table_id, rows)
    rows = [{"category": c, "region": r, "transactions": 10 + i, "units": 20 + i,
             "revenue_usd": Decimal(f"{100 + i}.25"), "avg_order_value_usd": Decimal("10.03"),
             "unique_customers": 5 + i, "dt": d}
            for i, (d, c, r) in enumerate((d, c, r) for d in DAYS for c in CATEGORIES for r in REGIONS)]
    put(settings, "gold.daily_sales_summary", pa.Table.from_pylist(rows, schema=pa.schema([
        ("category", pa.string()), ("region", pa.string()), ("transactions", pa.int64()), ("units", pa.int64()),
        ("revenue_usd", pa.decimal128(18, 2)), ("avg_order_value_usd", pa.decimal128(18, 2)),
        ("unique_customers", pa.int64()), ("dt", pa.string())])))
    return settings


def add_key(settings: Settings, name: str, *scopes: str, rate: int | None = None) -> str:
    return KeyStore(settings.serve_keys_file).add(name, scopes, rate)[1]


def add_key_with_unknown_scope(settings: Settings, name: str, scope: str) -> str:
    """A key whose entry names a scope that does not exist (a hand-edited key file)."""
    key = add_key(settings, name)
    path = settings.serve_keys_file
    data = json.loads(path.read_text())
    for entry in data["keys"]:
        if entry["name"] == name:
            entry["scopes"] = [scope]
    path.write_text(json.dumps(data))
    return key


@contextmanager
def running(settings: Settings, warm: bool = False) -> Iterator[str]:
    """The service for `settings` on a free port of 127.0.0.1; yields its base URL. Its query workers start at the
    first query, or now and ready to go with `warm` (as `lakehouse serve` does), for tests that time queries."""
    import uvicorn

    from lakehouse.service import create_app

    port = free_port()
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, name=f"service-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the service did not start"
        time.sleep(0.02)
    if warm:
        app.state.service.start()
        app.state.service.pool.warm(wait=True)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        app.state.service.close()  # its query workers


def client(url: str, key: str | None = None, **headers: str) -> httpx.Client:
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return httpx.Client(base_url=url, headers=headers, timeout=60)


def one_line_error(response: httpx.Response, status: int, code: str | None = None) -> dict:
    """The body of an error answer, checked: the status, JSON, a code, one line, no traceback."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) >= {"error", "message"} and (code is None or body["error"] == code), body
    assert "\n" not in body["message"] and "Traceback" not in response.text
    return body
