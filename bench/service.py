"""`python -m bench.service`: the query service under load, beside the same queries through the CLI.

A gold table (gold.customer_analytics: BENCH_SERVICE_DAYS days x BENCH_SERVICE_CUSTOMERS customers, default
30 x 20,000) is written to a temporary warehouse through delta-rs (no Spark). `lakehouse serve` runs in its own
process with the shipped defaults (4 query slots, each with its worker process), and two queries are measured:

- point: one customer on one day;
- aggregate: one day (one partition) grouped by segment;

each with 1, 4 and 16 concurrent clients (every client its own key and keep-alive connection, in threads of this
process) for BENCH_SERVICE_SECONDS each (default 10; 3 with BENCH_QUICK=1), beside the same query through
`lakehouse query` (a process per query, as a script or cron job runs it) and through `execute()` in one process
(the floor: no HTTP, no process start). Prints a table and writes bench/results/service-<timestamp>.json.

On a 2-core machine the clients share the CPU with the server: compare the rows with each other, not with a
bigger machine.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import psutil
import pyarrow as pa
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
SEGMENTS = np.array(["Low Value", "Medium Value", "High Value", "VIP"])


def queries(day: str) -> dict[str, str]:
    return {
        "point": f"SELECT * FROM gold.customer_analytics WHERE dt = '{day}' AND customer_id = 'c0004242'",
        "aggregate": ("SELECT segment, count(*) AS customers, sum(total_spent_usd) AS spent, avg(total_orders) AS orders "
                      f"FROM gold.customer_analytics WHERE dt = '{day}' GROUP BY segment ORDER BY segment"),
    }


def build_gold(settings, days: list[str], customers: int) -> int:
    """gold.customer_analytics for `days`, one Delta commit; returns the rows written."""
    from lakehouse.storage.arrow_store import ArrowStore

    rng = np.random.default_rng(7)
    n = len(days) * customers
    spent = np.round(rng.gamma(1.2, 2500, n), 2)
    orders = rng.integers(1, 60, n)
    first = np.datetime64("2023-01-01") + rng.integers(0, 365, n).astype("timedelta64[D]")
    table = pa.table({
        "customer_id": pa.array(np.tile([f"c{i:07d}" for i in range(customers)], len(days))),
        "total_spent_usd": pa.array([f"{v:.2f}" for v in spent]).cast(pa.decimal128(18, 2)),
        "total_orders": pa.array(orders, pa.int64()),
        "avg_order_value_usd": pa.array([f"{v:.2f}" for v in spent / orders]).cast(pa.decimal128(18, 2)),
        "first_purchase_date": pa.array(first, pa.date32()),
        "last_purchase_date": pa.array(first + rng.integers(0, 300, n).astype("timedelta64[D]"), pa.date32()),
        "segment": pa.array(SEGMENTS[np.searchsorted([1000, 5000, 10000], spent)]),
        "dt": pa.array(np.repeat(days, customers)),
    })
    store = ArrowStore(settings)
    store.write("gold.customer_analytics", store.uri("gold", "customer_analytics"), "delta", table, days)
    return table.num_rows


def percentiles(latencies: list[float]) -> dict:
    ordered = sorted(latencies)
    at = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
    return {"p50_ms": round(at(0.50), 1), "p95_ms": round(at(0.95), 1), "mean_ms": round(statistics.mean(ordered) * 1000, 1)}


def cpu_seconds(server: psutil.Process) -> float:
    """CPU time of the server and of the query worker processes it runs (lakehouse.query.pool)."""
    total = 0.0
    for process in [server, *server.children(recursive=True)]:
        try:
            total += sum(process.cpu_times()[:2])
        except psutil.NoSuchProcess:  # a worker replaced meanwhile
            pass
    return total


def load(url: str, keys: list[str], sql: str, clients: int, seconds: float, server: psutil.Process) -> dict:
    """`clients` threads posting `sql` back to back for `seconds`; every answer must be a 200 with rows."""
    latencies: list[float] = []
    errors: list[str] = []
    lock, start = threading.Lock(), threading.Barrier(clients + 1)

    def client(key: str) -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120) as http:
            http.post("/v1/query", json={"sql": sql})  # its connection is open before the clock starts
            start.wait()
            while time.perf_counter() < stop:
                began = time.perf_counter()
                response = http.post("/v1/query", json={"sql": sql})
                took = time.perf_counter() - began
                with lock:
                    if response.status_code == 200 and response.json()["rows"]:
                        latencies.append(took)
                    else:
                        errors.append(f"{response.status_code}: {response.text[:200]}")

    threads = [threading.Thread(target=client, args=(keys[i],)) for i in range(clients)]
    stop = float("inf")
    for thread in threads:
        thread.start()
    start.wait()  # every client has its connection and a first answer: the clock starts now, for all at once
    cpu_before = cpu_seconds(server)
    began = time.perf_counter()
    stop = began + seconds
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    cpu = cpu_seconds(server) - cpu_before
    done = len(latencies)
    return {"path": f"service x{clients}", "clients": clients, "requests": done, "errors": len(errors),
            "first_error": errors[0] if errors else None, "qps": round(done / wall, 1),
            "server_cpu_ms_per_query": round(cpu * 1000 / done, 1) if done else None,
            **(percentiles(latencies) if latencies else {})}


def through_cli(env: dict, sql: str, runs: int) -> dict:
    """`lakehouse query SQL --format json`, a new process each time."""
    latencies = []
    for _ in range(runs):
        began = time.perf_counter()
        subprocess.run([sys.executable, "-m", "lakehouse.cli", "query", sql, "--format", "json"], cwd=REPO, env=env,
                       check=True, capture_output=True)
        latencies.append(time.perf_counter() - began)
    return {"path": "CLI, a process per query", "clients": 1, "requests": runs, "errors": 0,
            "qps": round(runs / sum(latencies), 2), **percentiles(latencies)}


def in_process(settings, sql: str, runs: int) -> dict:
    from lakehouse.query import execute

    latencies = []
    for _ in range(runs):
        began = time.perf_counter()
        execute(sql, settings=settings)
        latencies.append(time.perf_counter() - began)
    return {"path": "execute() in process", "clients": 1, "requests": runs, "errors": 0,
            "qps": round(runs / sum(latencies), 1), **percentiles(latencies)}


def start_server(env: dict, url: str) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-m", "lakehouse.service"], cwd=REPO, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("the service did not become ready within 60 s")
        time.sleep(0.2)


def main() -> int:
    from lakehouse.config import Settings
    from lakehouse.dev.ports import free_port
    from lakehouse.service.keys import KeyStore

    quick = os.environ.get("BENCH_QUICK") == "1"
    days_n = int(os.environ.get("BENCH_SERVICE_DAYS", 7 if quick else 30))
    customers = int(os.environ.get("BENCH_SERVICE_CUSTOMERS", 5000 if quick else 20_000))
    seconds = float(os.environ.get("BENCH_SERVICE_SECONDS", 3 if quick else 10))
    cli_runs = int(os.environ.get("BENCH_SERVICE_CLI_RUNS", 3 if quick else 5))
    fan_out = (1, 4, 16)
    console = Console(width=max(130, Console().width))
    home = Path(tempfile.mkdtemp(prefix="lakehouse-bench-service-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAKEHOUSE_", "AWS_ENDPOINT"))}
    env.update({"LAKEHOUSE_HOME": str(home), "LAKEHOUSE_SERVE_PORT": str(port), "LAKEHOUSE_SERVE_RATE": "1000000",
                "LAKEHOUSE_SERVE_BURST": "1000", "PYTHONPATH": f"{REPO}/platform"})
    settings = Settings.from_env(env)
    days = [f"2024-06-{d:02d}" for d in range(1, days_n + 1)] if days_n <= 30 else \
        [str(np.datetime64("2024-01-01") + i) for i in range(days_n)]
    began = time.perf_counter()
    rows = build_gold(settings, days, customers)
    console.print(f"gold.customer_analytics: {rows:,} rows ({days_n} days x {customers:,} customers) written in "
                  f"{time.perf_counter() - began:.1f} s under {home}")
    store = KeyStore(settings.serve_keys_file)
    keys = [store.add(f"bench-{i:02d}")[1] for i in range(max(fan_out))]
    url = f"http://127.0.0.1:{port}"
    load_before = os.getloadavg()
    server = start_server(env, url)
    results = []
    try:
        process = psutil.Process(server.pid)
        for name, sql in queries(days[-1]).items():
            for clients in fan_out:
                results.append({"query": name, **load(url, keys, sql, clients, seconds, process)})
            results.append({"query": name, **through_cli(env, sql, cli_runs)})
            results.append({"query": name, **in_process(settings, sql, 30)})
    finally:
        server.terminate()
        server.wait(timeout=30)

    table = Table(title=f"query service vs CLI ({os.cpu_count()} cores, load average {load_before[0]:.1f} at start)")
    for column in ("query", "path", "requests", "errors", "q/s", "p50 ms", "p95 ms", "server CPU ms/query"):
        table.add_column(column, justify="left" if column in ("query", "path") else "right")
    for r in results:
        table.add_row(r["query"], r["path"], str(r["requests"]), str(r["errors"]), f"{r['qps']:g}",
                      f"{r.get('p50_ms', '-')}", f"{r.get('p95_ms', '-')}", f"{r.get('server_cpu_ms_per_query') or '-'}")
    console.print(table)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"service-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"config": {"days": days_n, "customers": customers, "rows": rows, "seconds": seconds,
                                          "cli_runs": cli_runs, "cores": os.cpu_count(),
                                          "load_average_at_start": load_before, "queries": queries(days[-1])},
                               "results": results}, indent=2))
    console.print(f"written {out.relative_to(REPO)}")
    return 1 if any(r["errors"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
