"""`make bench-native`: the platform's Spark-native data path against plain PySpark, paired so noise cancels.

What it answers (docs/operations.md, "Spark does the data work"):
- platform range / plain range: one Dagster run over BENCH_DAYS days with every rule, contract, quarantine and
  Glue update, against a hand-written PySpark job that goes from the landing CSVs to the gold table in one
  query and writes that one Delta table. Measured A B B A (plain, platform, platform, plain), so a machine
  that gets busier or quieter during the run shifts both sides alike; the ratio is the sum of the platform's
  two times over the sum of the plain script's.
- platform range / plain seven tables range (measured around the pair above): the same runs against a
  hand-written job writing the same seven tables from the same SQL files (bronze, silver, gold; no rules,
  contracts, quarantine or catalog), so the two ratios tell the medallion's own cost from what the platform
  adds to it.
- driver peak RSS at x1, x4 and x16 rows per day (local mode: the whole process tree, driver and executors),
  and x16 on a standalone master with two workers and the driver capped at 1 GB (the driver alone is measured).

Sizes: BENCH_DAYS (default 30) x BENCH_ROWS orders/day (default 5000); the large size BENCH_LARGE_DAYS (default
3) x BENCH_LARGE_ROWS (default 500,000; 0 skips it), measured A B B A against the plain seven-tables job, its ratio
keyed "(large)"; BENCH_STANDALONE=0 skips the cluster. Every platform run's JSON holds `tables`: each table's
step seconds and its phases (spark_session, read_upstream, transform_and_rules, contract, quarantine_write,
write, catalog, ...), so the passes a table makes are visible.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.run import REPO, RESULTS, _days, land, measuring


def main() -> int:
    days = int(os.environ.get("BENCH_DAYS", 30))
    rows = int(os.environ.get("BENCH_ROWS", 5000))
    standalone = os.environ.get("BENCH_STANDALONE", "1") == "1"
    large_rows = int(os.environ.get("BENCH_LARGE_ROWS", 500_000))  # 0 skips the large size
    large_days = int(os.environ.get("BENCH_LARGE_DAYS", 3))
    start = "2024-05-06"
    end = _days(start, days)[-1]
    tmp = Path(tempfile.mkdtemp(prefix="lakehouse-bench-native-"))
    base = {**os.environ, "BENCH_TMP": str(tmp), "PYTHONPATH": f"{REPO}/platform:{REPO}",
            "LAKEHOUSE_SPARK_MASTER": os.environ.get("LAKEHOUSE_SPARK_MASTER", "local[*]"),
            # partitions from the first landed day (a week before the measured range, for look-backs)
            "LAKEHOUSE_START_DATE": (date.fromisoformat(start) - timedelta(days=7)).isoformat()}
    for var in ("LAKEHOUSE_WAREHOUSE", "LAKEHOUSE_LANDING", "AWS_ENDPOINT_URL", "LAKEHOUSE_GLUE_PREFIX",
                "LAKEHOUSE_SPARK_REMOTE"):
        base.pop(var, None)
    from lakehouse.dev.aws import start_moto

    moto, endpoint = start_moto()  # the Glue updates are part of what the platform does, so they are measured
    base.update(AWS_ENDPOINT_URL=endpoint, LAKEHOUSE_GLUE_PREFIX="bench", AWS_ACCESS_KEY_ID="testing",
                AWS_SECRET_ACCESS_KEY="testing", AWS_REGION="us-east-1", AWS_DEFAULT_REGION="us-east-1")
    console = Console(width=150)
    m: dict = {}
    began = time.perf_counter()
    step = measuring(console, m, began)

    try:
        env = {**base, "LAKEHOUSE_HOME": str(tmp / "range"), "LAKEHOUSE_LANDING": str(tmp / "range" / "landing")}
        land(env, (date.fromisoformat(start) - timedelta(days=7)).isoformat(), days + 7, rows)
        for name, task in (("plain_tables_range_a", "plain_tables"), ("plain_range_a", "plain"),
                           ("platform_range_a", "platform"), ("platform_range_b", "platform"),
                           ("plain_range_b", "plain"), ("plain_tables_range_b", "plain_tables")):
            step(name, task, start, end, env)
        if large_rows:  # the same pair at size: a few big days, where a pass over the data costs the most
            lstart = start
            lend = _days(lstart, large_days)[-1]
            lenv = {**base, "LAKEHOUSE_HOME": str(tmp / "large"), "LAKEHOUSE_LANDING": str(tmp / "large" / "landing")}
            # the week before at the default size (the range's run reads only its own days' orders), the
            # measured days at the large size: landing ten large days took 11 minutes, three take 3
            land(lenv, (date.fromisoformat(lstart) - timedelta(days=7)).isoformat(), 7, rows)
            land(lenv, lstart, large_days, large_rows)
            for name, task in (("plain_tables_large_a", "plain_tables"), ("platform_large_a", "platform"),
                               ("platform_large_b", "platform"), ("plain_tables_large_b", "plain_tables")):
                step(name, task, lstart, lend, lenv)
                m[name]["rows_per_day"] = large_rows
            shutil.rmtree(tmp / "large", ignore_errors=True)
        scale_days, base_rows = 2, max(rows // 4, 1)
        scale_end = _days(start, scale_days)[-1]
        for factor in (1, 4, 16):
            home = tmp / f"scale{factor}"
            senv = {**base, "LAKEHOUSE_HOME": str(home), "LAKEHOUSE_LANDING": str(home / "landing")}
            land(senv, (date.fromisoformat(start) - timedelta(days=7)).isoformat(), 7 + scale_days, base_rows * factor)
            step(f"scale_x{factor}", "platform", start, scale_end, senv)
            m[f"scale_x{factor}"]["rows_per_day"] = base_rows * factor
        if standalone:
            from lakehouse.dev.cluster import start_standalone

            with start_standalone(workers=2, cores=1, memory="1g") as cluster:
                step("scale_x16_standalone_driver_1g", "platform", start, scale_end, {
                    **senv, "LAKEHOUSE_SPARK_MASTER": cluster.master_url,
                    "LAKEHOUSE_SPARK_CONF": json.dumps({"spark.executor.memory": "768m", "spark.driver.memory": "1g",
                                                        "spark.driver.host": "127.0.0.1"})})
            m["scale_x16_standalone_driver_1g"]["rows_per_day"] = base_rows * 16
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        moto.terminate()

    plain = m["plain_range_a"]["wall_s"] + m["plain_range_b"]["wall_s"]
    platform = m["platform_range_a"]["wall_s"] + m["platform_range_b"]["wall_s"]
    tables = m["plain_tables_range_a"]["wall_s"] + m["plain_tables_range_b"]["wall_s"]
    same = m["platform_range_a"].get("digest") == m["platform_range_b"].get("digest")
    ratios = {
        "platform range / plain range (ABBA)": round(platform / plain, 2),
        # the same seven tables by hand: what rules, contracts, quarantine, catalog and Dagster add
        "platform range / plain seven tables range": round(platform / tables, 2),
        **({"platform range / plain seven tables range (large)": round(
            (m["platform_large_a"]["wall_s"] + m["platform_large_b"]["wall_s"])
            / (m["plain_tables_large_a"]["wall_s"] + m["plain_tables_large_b"]["wall_s"]), 2)} if large_rows else {}),
        "peak RSS x4 / x1": round(m["scale_x4"]["peak_rss_mb"] / m["scale_x1"]["peak_rss_mb"], 2),
        "peak RSS x16 / x1": round(m["scale_x16"]["peak_rss_mb"] / m["scale_x1"]["peak_rss_mb"], 2),
        "wall x16 / x1": round(m["scale_x16"]["wall_s"] / m["scale_x1"]["wall_s"], 2),
    }
    table = Table(title=f"Spark-native path: {days} days x {rows} orders/day (range); scale runs: 2 days")
    for col in ("measurement", "wall s", "peak RSS MB", "orders/day"):
        table.add_column(col)
    for name, r in m.items():
        table.add_row(name, f"{r['wall_s']:.1f}", str(r["peak_rss_mb"]), str(r.get("rows_per_day", rows)))
    console.print(table)
    for k, v in ratios.items():
        console.print(f"{k}: {v:.2f}")
    console.print(f"both platform runs published the same rows: {'yes' if same else 'NO'}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"bench-native-{time.strftime('%Y%m%d-%H%M%S')}.json"
    if large_rows:
        console.print(f"large size: {large_days} days x {large_rows} orders/day; both runs published the same rows: "
                      f"{'yes' if m['platform_large_a'].get('digest') == m['platform_large_b'].get('digest') else 'NO'}")
        slowest = sorted(m["platform_large_a"].get("tables", {}).items(), key=lambda kv: -kv[1].get("step_s", 0))
        for table, phases in slowest[:8]:  # where the large run's time goes, table by table
            console.print(f"  {table}: " + ", ".join(f"{k} {v:.1f}s" for k, v in phases.items()))
    out.write_text(json.dumps({"days": days, "rows_per_day": rows, "large_days": large_days,
                               "large_rows_per_day": large_rows, "measurements": m, "ratios": ratios,
                               "total_s": round(time.perf_counter() - began)}, indent=2))
    console.print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
