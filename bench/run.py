"""`make bench`: the platform against plain PySpark and floors, side by side in one run, as ratios.

Every measurement runs in a fresh process (a JVM never leaks from one to the next); wall time and the
peak RSS of the whole process tree (Python + JVM) are recorded.

Sizes (see bench/README.md): BENCH_DAYS (default 30) x BENCH_ROWS orders/day (default 5000), both
multiplied by BENCH_SCALE's row factor (default 1); BENCH_WINDOW days (default 4) for the per-partition and
Spark Connect comparisons; BENCH_QUICK=1 for a ~2-3 minute smoke run; BENCH_CONNECT=0 skips Spark Connect.
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
    began = time.time()  # wall clock: the task stamps its end (ENDED) with the same clock
    proc = subprocess.Popen([sys.executable, "-m", "bench.tasks", task, start, end], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    samples: list[tuple[float, int]] = []  # (when, RSS of the task and its children)

    def sample():
        parent = psutil.Process(proc.pid)
        while proc.poll() is None:
            try:
                samples.append((time.time(), sum(p.memory_info().rss for p in [parent, *parent.children(recursive=True)])))
            except psutil.Error:
                pass
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = proc.communicate()
    ended = time.time()
    sampler.join(timeout=1)
    if proc.returncode != 0:
        raise RuntimeError(f"bench task {task} failed:\n{output[-3000:]}")
    out = {"task": task, "start": start, "end": end, "warehouse": env.get("LAKEHOUSE_WAREHOUSE")}
    for line in output.splitlines():  # METRICS lines from the task: summed when a task runs several times
        if line.startswith("ENDED "):  # the task's work ended here; what follows (its digest) is not measured
            ended = float(line[6:])
        elif line.startswith("METRICS "):
            for k, v in json.loads(line[8:]).items():
                out[k] = round(out.get(k, 0) + v, 2)
        elif line.startswith("TABLES "):  # per table: its step's seconds and its phases (summed over runs)
            for table, phases in json.loads(line[7:]).items():
                own = out.setdefault("tables", {}).setdefault(table, {})
                for k, v in phases.items():
                    own[k] = round(own.get(k, 0) + v, 3)
        elif line.startswith("DIGEST "):  # what a platform run published; the last one covers the range
            out["digest"] = json.loads(line[7:])
    out["wall_s"] = round(ended - began, 2)
    out["peak_rss_mb"] = round(max((rss for when, rss in samples if when <= ended), default=0) / 2**20)
    return out


def land(env: dict, start: str, days: int, rows: int) -> None:
    subprocess.run([sys.executable, "-m", "lakehouse.cli", "land", "--start", start, "--days", str(days),
                    "--rows", str(rows), "--seed", "1"], cwd=REPO, env=env, check=True, capture_output=True)


def _days(start: str, n: int) -> list[str]:
    return [(date.fromisoformat(start) + timedelta(days=i)).isoformat() for i in range(n)]


NOTES = {
    "jvm_start": "floor: SparkSession start + 1 trivial job",
    "pyarrow_floor": "floor: pyarrow reads the orders CSVs, writes Delta (no engine)",
    "duckdb": "DuckDB, same silver orders + daily_sales_summary SQL, one node",
    "plain_range": "plain PySpark, one job over the range",
    "plain_per_day": "plain PySpark, one job per day (one process)",
    "plain_per_day_cron": "= plain_per_day + (days-1) x jvm_start: one process per day",
    "platform_range": "platform: ONE Dagster run over the range, checks on",
    "window_platform_range": "platform: one run over the window",
    "window_platform_per_partition": "platform: one run per day over the window (one process)",
    "window_platform_per_partition_processes": "= per_partition + (window-1) x (process start + JVM): make dev's way",
    "platform_one_day": "one landed day -> gold, platform",
    "platform_one_day_on_history": "the same day re-run on the warehouse holding the whole range",
    "plain_one_day": "one landed day -> daily_sales_summary, plain PySpark",
    "window_platform_connect": "platform through Spark Connect (remote local[2]) over the window",
    "window_platform_standalone": "platform on a standalone master + 2 workers (1 core each) over the window",
}


def measuring(console, measurements: dict, began: float):
    """step(name, task, first, last, env): print what is measured (seconds since `began`), measure it, keep it."""
    def step(name: str, task: str, first: str, last: str, env: dict) -> None:
        console.print(f"[dim]{time.perf_counter() - began:6.0f}s[/] {name}: {task} {first}..{last}")
        measurements[name] = measure(task, first, last, env)
    return step


def main() -> int:
    quick = os.environ.get("BENCH_QUICK") == "1"
    scale = float(os.environ.get("BENCH_SCALE", 1))
    days = int(os.environ.get("BENCH_DAYS", 2 if quick else 30))
    rows = int(int(os.environ.get("BENCH_ROWS", 300 if quick else 5000)) * scale)
    window = min(days, int(os.environ.get("BENCH_WINDOW", 2 if quick else 4)))
    factors = (1, 4) if quick else (1, 4, 16)
    scale_days = 1 if quick else 2
    connect = os.environ.get("BENCH_CONNECT", "0" if quick else "1") == "1"
    standalone = os.environ.get("BENCH_STANDALONE", "0" if quick else "1") == "1"
    start = "2024-05-06"
    day_list = _days(start, days)
    end = day_list[-1]
    tmp = Path(tempfile.mkdtemp(prefix="lakehouse-bench-"))
    base = {**os.environ, "BENCH_TMP": str(tmp), "PYTHONPATH": f"{REPO}/platform:{REPO}",
            "LAKEHOUSE_SPARK_MASTER": os.environ.get("LAKEHOUSE_SPARK_MASTER", "local[*]"),
            # partitions from the first landed day (a week before the measured range, for look-backs)
            "LAKEHOUSE_START_DATE": (date.fromisoformat(start) - timedelta(days=7)).isoformat()}
    for var in ("LAKEHOUSE_WAREHOUSE", "LAKEHOUSE_LANDING", "AWS_ENDPOINT_URL", "LAKEHOUSE_GLUE_PREFIX"):
        base.pop(var, None)  # tables and landing on the local disk
    moto = None
    if os.environ.get("BENCH_CATALOG", "1") == "1":
        # the platform registers every table in Glue, here a moto server over HTTP: its cost is measured
        from lakehouse.dev.aws import start_moto

        moto, endpoint = start_moto()
        base.update(AWS_ENDPOINT_URL=endpoint, LAKEHOUSE_GLUE_PREFIX="bench", AWS_ACCESS_KEY_ID="testing",
                    AWS_SECRET_ACCESS_KEY="testing", AWS_REGION="us-east-1", AWS_DEFAULT_REGION="us-east-1")
    console = Console(width=150)
    results: dict = {"days": days, "rows_per_day": rows, "window_days": window, "quick": quick,
                     "machine": {"cpus": os.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2**30)},
                     "measurements": {}}
    m = results["measurements"]
    began = time.perf_counter()
    step = measuring(console, m, began)

    try:
        env = {**base, "LAKEHOUSE_HOME": str(tmp / "x1"), "LAKEHOUSE_LANDING": str(tmp / "x1" / "landing")}
        land(env, (date.fromisoformat(start) - timedelta(days=7)).isoformat(), days + 7, rows)
        console.print(f"landed {days}+7 days x {rows} orders/day (+ customers, products, fx, events) under {tmp}")
        step("jvm_start", "jvm", start, end, env)
        step("pyarrow_floor", "pyarrow_floor", start, end, env)
        step("duckdb", "duckdb_same_logic", start, end, env)
        step("plain_range", "plain", start, end, env)
        step("plain_per_day", "plain_per_day", start, end, env)
        m["plain_per_day_cron"] = {"task": "derived", "wall_s": round(
            m["plain_per_day"]["wall_s"] + (days - 1) * m["jvm_start"]["wall_s"], 2), "peak_rss_mb": m["plain_per_day"]["peak_rss_mb"]}
        step("platform_range", "platform", start, end, env)
        step("platform_one_day", "platform", end, end, env)
        # the same day again, now on top of the range's history: time and memory must not grow with it
        m["platform_one_day_on_history"] = measure("platform", end, end, {
            **env, "LAKEHOUSE_WAREHOUSE": m["platform_range"]["warehouse"], "DAGSTER_HOME": ""}, fresh_warehouse=False)
        step("plain_one_day", "plain", end, end, env)
        wend = day_list[window - 1]
        if window == days:  # the same measurement: not taken twice
            m["window_platform_range"] = dict(m["platform_range"])
        else:
            step("window_platform_range", "platform", start, wend, env)
        step("window_platform_per_partition", "platform_per_partition", start, wend, env)
        # as `make dev` runs them: one process (and JVM) per run, so each day also pays what a process pays
        # before its run starts (imports, JVM)
        per_run_start = m["platform_one_day"]["wall_s"] - m["platform_one_day"].get("run_s", 0) + m["jvm_start"]["wall_s"]
        m["window_platform_per_partition_processes"] = {"task": "derived", "wall_s": round(
            m["window_platform_per_partition"]["wall_s"] + (window - 1) * per_run_start, 2),
            "peak_rss_mb": m["window_platform_per_partition"]["peak_rss_mb"]}
        if connect:
            step("window_platform_connect", "platform", start, wend, {**env, "LAKEHOUSE_SPARK_REMOTE": "local[2]"})
        if standalone:  # a real spark:// master with two workers (own JVMs, own Python workers) on 127.0.0.1
            from lakehouse.dev.cluster import start_standalone

            with start_standalone(workers=2, cores=1, memory="1g") as cluster:
                step("window_platform_standalone", "platform", start, wend, {
                    **env, "LAKEHOUSE_SPARK_MASTER": cluster.master_url,
                    "LAKEHOUSE_SPARK_CONF": json.dumps({"spark.executor.memory": "768m", "spark.driver.host": "127.0.0.1"})})
        local = m["window_platform_range"].get("digest")
        results["same_results_as_local"] = {name: m[name].get("digest") == local for name in
                                            ("window_platform_per_partition", "window_platform_connect",
                                             "window_platform_standalone") if name in m}
        base_rows = max(rows // 4, 1)
        for factor in factors:
            home = tmp / f"scale{factor}"
            senv = {**base, "LAKEHOUSE_HOME": str(home), "LAKEHOUSE_LANDING": str(home / "landing")}
            land(senv, (date.fromisoformat(start) - timedelta(days=7)).isoformat(), 7 + scale_days, base_rows * factor)
            scale_end = day_list[scale_days - 1] if scale_days <= days else _days(start, scale_days)[-1]
            step(f"scale_x{factor}", "platform", start, scale_end, senv)
            m[f"scale_x{factor}"]["rows_per_day"] = base_rows * factor
            if standalone and factor == factors[-1]:
                # the largest day on two workers with the driver capped at 1 GB: the measured tree is the driver
                # (Python + driver JVM); executors live under the workers, outside it
                from lakehouse.dev.cluster import start_standalone

                with start_standalone(workers=2, cores=1, memory="1g") as cluster:
                    step(f"scale_x{factor}_standalone_driver_1g", "platform", start, scale_end, {
                        **senv, "LAKEHOUSE_SPARK_MASTER": cluster.master_url,
                        "LAKEHOUSE_SPARK_CONF": json.dumps({"spark.executor.memory": "768m", "spark.driver.memory": "1g",
                                                            "spark.driver.host": "127.0.0.1"})})
                m[f"scale_x{factor}_standalone_driver_1g"]["rows_per_day"] = base_rows * factor
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if moto is not None:
            moto.terminate()
    results["total_s"] = round(time.perf_counter() - began)

    def ratio(a, b):
        return round(m[a]["wall_s"] / m[b]["wall_s"], 2) if a in m and b in m and m[b]["wall_s"] else None

    results["ratios"] = {k: v for k, v in {
        "(a) platform_range / plain_range": ratio("platform_range", "plain_range"),
        "(a) platform_range / plain_per_day": ratio("platform_range", "plain_per_day"),
        "(a) platform_range / plain_per_day_cron": ratio("platform_range", "plain_per_day_cron"),
        "(a) plain_per_day / plain_range": ratio("plain_per_day", "plain_range"),
        "(a) plain_range / duckdb": ratio("plain_range", "duckdb"),
        "(a) plain_range / pyarrow_floor": ratio("plain_range", "pyarrow_floor"),
        "(b) per_partition / single_run (window)": ratio("window_platform_per_partition", "window_platform_range"),
        "(b) per_partition_processes / single_run (window)": ratio("window_platform_per_partition_processes",
                                                                   "window_platform_range"),
        "(c) scale x4 / x1 wall": ratio("scale_x4", "scale_x1"),
        "(c) scale x16 / x1 wall": ratio("scale_x16", "scale_x1"),
        "(d) platform_one_day / plain_one_day": ratio("platform_one_day", "plain_one_day"),
        "(d) platform_one_day / jvm_start": ratio("platform_one_day", "jvm_start"),
        "(c) one day on history / on empty warehouse, wall": ratio("platform_one_day_on_history", "platform_one_day"),
        "(5) connect / local (window)": ratio("window_platform_connect", "window_platform_range"),
        "(5) standalone / local (window)": ratio("window_platform_standalone", "window_platform_range"),
    }.items() if v is not None}
    results["ratios"]["(c) one day on history / on empty warehouse, peak RSS"] = round(
        m["platform_one_day_on_history"]["peak_rss_mb"] / m["platform_one_day"]["peak_rss_mb"], 2)
    for factor in factors[1:]:
        results["ratios"][f"(c) scale x{factor} / x1 peak RSS"] = round(
            m[f"scale_x{factor}"]["peak_rss_mb"] / m["scale_x1"]["peak_rss_mb"], 2)
    # where the platform's extra time goes, from its own run events (see bench/README.md)
    pr, pl = m["platform_range"], m["plain_range"]
    phases = {k[len("phase_"):-2]: v for k, v in pr.items() if k.startswith("phase_")}
    in_phases = sum(phases.values())
    results["breakdown_platform_range_s"] = {
        "process_total": pr["wall_s"],
        "process_start_imports_jvm_outside_run": round(pr["wall_s"] - pr.get("run_s", 0), 2),
        "dagster_run": pr.get("run_s"),
        "orchestration_between_steps": pr.get("orchestration_s"),
        "inside_asset_steps": pr.get("in_steps_s"),
        **{f"  step: {name}": v for name, v in sorted(phases.items(), key=lambda kv: -kv[1])},
        "  step: other (IO manager metadata, check events)": round(pr.get("in_steps_s", 0) - in_phases, 2),
        "plain_range total, for comparison": pl["wall_s"],
        "extra_over_plain_range": round(pr["wall_s"] - pl["wall_s"], 2)}

    table = Table(title=f"lakehouse bench: {days} days x {rows} orders/day, window {window} days "
                        f"(orders, fx, products -> silver.orders -> gold.daily_sales_summary)")
    for col in ("measurement", "wall s", "peak RSS MB", "note"):
        table.add_column(col)
    for name, r in m.items():
        note = NOTES.get(name, f"{r.get('rows_per_day', '')} orders/day x {scale_days} day(s), one run"
                         if name.startswith("scale") else "")
        table.add_row(name, f"{r['wall_s']:.1f}", str(r["peak_rss_mb"]), note)
    console.print(table)
    ratios = Table(title="ratios (same run, same machine; >1 means the first is slower)")
    ratios.add_column("comparison")
    ratios.add_column("ratio")
    for k, v in results["ratios"].items():
        ratios.add_row(k, f"{v:.2f}")
    console.print(ratios)
    breakdown = Table(title="platform_range: where the time goes (s)")
    breakdown.add_column("part")
    breakdown.add_column("s")
    for k, v in results["breakdown_platform_range_s"].items():
        breakdown.add_row(k, "" if v is None else f"{v:.1f}")
    console.print(breakdown)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(results, indent=2))
    same = results.get("same_results_as_local", {})
    if same:
        console.print("published exactly what local mode published (silver + gold row digests): " + ", ".join(
            f"{name.replace('window_platform_', '')} {'yes' if ok else '[red]NO[/red]'}" for name, ok in same.items()))
    console.print(f"total {results['total_s']} s; written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
