"""`make bench`: the platform against plain PySpark and floors, side by side in one run, as ratios.

Every measurement runs in a fresh process (a JVM never leaks from one to the next); wall time and the
peak RSS of the whole process tree (Python + JVM) are recorded. Sizes: BENCH_DAYS (default 7),
BENCH_ROWS orders/day (default 5000), BENCH_QUICK=1 for a smoke run (3 days x 500), BENCH_FULL=1 adds
the x16 scaling point.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import psutil
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"


def measure(task: str, start: str, end: str, env: dict, fresh_warehouse: bool = True) -> dict:
    """Run one task in its own process; sample the RSS of it and its children every 100 ms."""
    env = dict(env)
    if fresh_warehouse:
        env["LAKEHOUSE_WAREHOUSE"] = tempfile.mkdtemp(prefix=f"wh-{task}-", dir=env["BENCH_TMP"])
        env["DAGSTER_HOME"] = ""  # an ephemeral Dagster instance per measurement
    began = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "bench.tasks", task, start, end], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak = [0]

    def sample():
        parent = psutil.Process(proc.pid)
        while proc.poll() is None:
            try:
                rss = sum(p.memory_info().rss for p in [parent, *parent.children(recursive=True)])
                peak[0] = max(peak[0], rss)
            except psutil.Error:
                pass
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = proc.communicate()
    wall = time.perf_counter() - began
    sampler.join(timeout=1)
    if proc.returncode != 0:
        raise RuntimeError(f"bench task {task} failed:\n{output[-3000:]}")
    return {"task": task, "start": start, "end": end, "wall_s": round(wall, 2), "peak_rss_mb": round(peak[0] / 2**20)}


def land(env: dict, start: str, days: int, rows: int) -> None:
    subprocess.run([sys.executable, "-m", "lakehouse.cli", "land", "--start", start, "--days", str(days),
                    "--rows", str(rows), "--seed", "1"], cwd=REPO, env=env, check=True, capture_output=True)


def per_partition(task: str, days: list[str], env: dict) -> dict:
    """One process (one JVM) per day, as a daily cron job or a per-partition backfill would do."""
    runs = [measure(task, d, d, env) for d in days]
    return {"task": f"{task} x{len(days)} runs", "wall_s": round(sum(r["wall_s"] for r in runs), 2),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs)}


def main() -> int:
    quick = os.environ.get("BENCH_QUICK") == "1"
    days = int(os.environ.get("BENCH_DAYS", 3 if quick else 7))
    rows = int(os.environ.get("BENCH_ROWS", 500 if quick else 5000))
    start = "2024-05-06"
    end = (date.fromisoformat(start) + timedelta(days=days - 1)).isoformat()
    day_list = [(date.fromisoformat(start) + timedelta(days=i)).isoformat() for i in range(days)]
    tmp = Path(tempfile.mkdtemp(prefix="lakehouse-bench-"))
    base = {**os.environ, "BENCH_TMP": str(tmp), "PYTHONPATH": f"{REPO}/platform:{REPO}",
            "LAKEHOUSE_SPARK_MASTER": os.environ.get("LAKEHOUSE_SPARK_MASTER", "local[*]")}
    console = Console(width=140)
    results: dict = {"days": days, "rows_per_day": rows, "machine": {"cpus": os.cpu_count(),
                     "memory_gb": round(psutil.virtual_memory().total / 2**30)}, "measurements": {}}
    m = results["measurements"]
    try:
        env = {**base, "LAKEHOUSE_HOME": str(tmp / "x1"), "LAKEHOUSE_LANDING": str(tmp / "x1" / "landing")}
        land(env, (date.fromisoformat(start) - timedelta(days=7)).isoformat(), days + 7, rows)
        console.print(f"landed {days}+7 days x {rows} orders/day under {tmp}")
        m["jvm_start"] = measure("jvm", start, end, env)
        m["pyarrow_floor"] = measure("pyarrow_floor", start, end, env)
        m["duckdb"] = measure("duckdb_same_logic", start, end, env)
        m["plain_range"] = measure("plain", start, end, env)
        m["plain_per_day"] = per_partition("plain", day_list, env)
        m["platform_range"] = measure("platform", start, end, env)
        m["platform_per_partition"] = per_partition("platform", day_list, env)
        m["platform_one_day"] = measure("platform", end, end, env)
        m["plain_one_day"] = measure("plain", end, end, env)
        m["platform_all_tables_range"] = measure("platform_all", start, end, env)
        # the scale-out path: the same run through a Spark Connect server (started locally by pyspark)
        m["platform_range_connect"] = measure("platform", start, end, {**env, "LAKEHOUSE_SPARK_REMOTE": "local[2]"})
        for factor in (1, 4, 16) if os.environ.get("BENCH_FULL") == "1" else (1, 4):
            home = tmp / f"scale{factor}"
            senv = {**base, "LAKEHOUSE_HOME": str(home), "LAKEHOUSE_LANDING": str(home / "landing")}
            scale_days = 3
            land(senv, (date.fromisoformat(start) - timedelta(days=7)).isoformat(), 7 + scale_days, rows * factor // 4 or 1)
            m[f"scale_x{factor}"] = measure("platform", start, day_list[min(scale_days, days) - 1], senv)
            m[f"scale_x{factor}"]["rows_per_day"] = rows * factor // 4
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    def ratio(a, b):
        return round(m[a]["wall_s"] / m[b]["wall_s"], 2)

    results["ratios"] = {
        "platform_range / plain_range": ratio("platform_range", "plain_range"),
        "platform_range / plain_per_day": ratio("platform_range", "plain_per_day"),
        "platform_per_partition / platform_range": ratio("platform_per_partition", "platform_range"),
        "plain_per_day / plain_range": ratio("plain_per_day", "plain_range"),
        "platform_one_day / plain_one_day": ratio("platform_one_day", "plain_one_day"),
        "plain_range / duckdb": ratio("plain_range", "duckdb"),
        "platform_range / jvm_start": ratio("platform_range", "jvm_start"),
        "platform_range_connect / platform_range": ratio("platform_range_connect", "platform_range"),
    }
    table = Table(title=f"lakehouse bench: {days} days x {rows} orders/day (orders, fx, products -> daily sales)")
    for col in ("measurement", "wall s", "peak RSS MB", "note"):
        table.add_column(col)
    notes = {"platform_range": "one Dagster run, single-run backfill, rules + contracts + catalog",
             "platform_per_partition": "one run (one JVM) per day", "plain_range": "hand-written PySpark, one job",
             "plain_per_day": "hand-written PySpark, one job per day", "pyarrow_floor": "orders CSV -> Delta, no engine",
             "jvm_start": "SparkSession start + 1 job", "platform_all_tables_range": "all 18 tables, one run"}
    for name, r in m.items():
        table.add_row(name, f"{r['wall_s']:.1f}", str(r["peak_rss_mb"]),
                      notes.get(name, f"{r.get('rows_per_day', '')} orders/day, 3 days" if name.startswith("scale") else ""))
    console.print(table)
    ratios = Table(title="ratios (same run, same machine)")
    ratios.add_column("comparison")
    ratios.add_column("ratio")
    for k, v in results["ratios"].items():
        ratios.add_row(k, f"{v:.2f}")
    console.print(ratios)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(results, indent=2))
    console.print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
