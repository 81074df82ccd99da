"""`make bench-latency`: a landed day -> every daily gold table of that day fresh, as `make dev` does it.

The daemon's work runs in this process through `lakehouse.automation.drive` (landing sensor tick, then
automation ticks, each requested run executed at once) with the runs attached to one warm Spark Connect
server, as `make dev` attaches them. A thread watches the warehouse and notes when every daily gold table of
the day holds it. Steps, on a fresh warehouse:

1. one day landed -> its daily gold: time and runs (the headline number; the first runs on the server,
   after its warm-up, as `make dev` warms it while dagster dev starts);
2. the plain one-day PySpark script (bench.tasks.plain: orders -> daily_sales_summary, its own process and
   JVM, as a cron script runs) over the same day;
3. BENCH_BATCH_DAYS (10) more days landed at once -> all of them in every daily gold table: time and runs.

The last line is `landed_to_gold_s=.. plain_one_day_s=.. runs=..`; everything goes to
bench/results/latency-<timestamp>.json. BENCH_ROWS (1000) orders a day; BENCH_CONNECT=0 runs on a local
JVM in this process instead of a Connect server.
"""
from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
DOMAIN = "commerce"


def daily_gold() -> list:
    from lakehouse.pipeline.registry import all_specs

    return [s for s in all_specs() if s.layer == "gold" and s.domain == DOMAIN and s.partitioning == "daily"]


class GoldWatch:
    """Polls the warehouse (the Delta logs, through delta-rs) until every daily gold table holds `days`."""

    def __init__(self, days: list[str], interval: float = 0.5):
        from lakehouse.resources import LakehouseResource

        self.days, self.interval, self.lakehouse = set(days), interval, LakehouseResource()
        self.began, self.fresh_s = time.monotonic(), None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _fresh(self) -> bool:
        return all(self.days <= set(self.lakehouse.partitions_of(spec)) for spec in daily_gold())

    def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                if self._fresh():
                    self.fresh_s = round(time.monotonic() - self.began, 2)
                    return
            except Exception:  # a table mid-creation: look again next time
                pass
            self._stop.wait(self.interval)

    def stop(self) -> float | None:
        self._stop.set()
        self._thread.join(timeout=30)
        return self.fresh_s


@cache
def _settings():
    """The environment's settings, resolved once (after main() has set the environment up)."""
    from lakehouse.config import Settings

    return Settings.from_env()


def land(start: date, days: int, rows: int) -> None:
    from lakehouse.dev.generate import DOMAINS

    DOMAINS[DOMAIN](_settings(), start, days, rows, 1)


def landed_to_gold(defs, instance, state, start: date, days: int, rows: int) -> dict:
    """Land `days` days, drive the daemons' work until it requests nothing more; time to fresh gold."""
    from lakehouse.automation.drive import drive

    day_list = [(start + timedelta(days=i)).isoformat() for i in range(days)]
    land(start, days, rows)
    landed = time.time()
    watch = GoldWatch(day_list)
    state.runs, state.failures, state.timings, state.steps = [], [], [], []
    state = drive(defs, instance, state, max_rounds=20)
    fresh = watch.stop()
    if fresh is None and watch._fresh():  # fresh at the very end, between two polls
        fresh = round(state.seconds, 2)
    return {"days": days, "landed_to_gold_s": fresh, "drive_s": round(state.seconds, 2), "runs": len(state.runs),
            "runs_by_kind": {k: sum(1 for r in state.runs if r[0] == k) for k in ("landing", "automation")},
            "failures": state.failures, "run_seconds": [t for t in state.timings if t[0] != "tick"],
            "tick_seconds": round(sum(t[2] for t in state.timings if t[0] == "tick"), 2),
            # each step's end, counted from the landing, and its own seconds: where the time to gold goes
            "steps": [(step, round(end - landed, 2), took) for step, end, took in state.steps]}, state


def plain_one_day(day: str, tmp: Path) -> float:
    """bench.tasks.plain over one day in its own process with a local JVM, timed like bench.run does."""
    from bench.run import measure

    # a classic local session of its own: none of the Connect client settings this process holds
    env = {k: v for k, v in os.environ.items() if k not in (
        "LAKEHOUSE_SPARK_REMOTE", "SPARK_REMOTE", "SPARK_CONNECT_MODE_ENABLED", "SPARK_CONNECT_AUTHENTICATE_TOKEN")}
    env.update(BENCH_TMP=str(tmp), PYTHONPATH=f"{REPO}/platform:{REPO}")
    return measure("plain", day, day, env)["wall_s"]


STAMP = time.strftime("%Y%m%dT%H%M%S")


def _save(out: dict) -> Path:
    """After each step, so a long batch step that is cut short still leaves the one-day numbers."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"latency-{STAMP}.json"
    path.write_text(json.dumps(out, indent=2, default=str))
    return path


def main() -> int:
    rows = int(os.environ.get("BENCH_ROWS", 1000))
    batch = int(os.environ.get("BENCH_BATCH_DAYS", 10))
    connect = os.environ.get("BENCH_CONNECT", "1") == "1"
    tmp = Path(tempfile.mkdtemp(prefix="lakehouse-latency-"))
    os.environ["LAKEHOUSE_HOME"] = str(tmp / "lh")
    os.environ["LAKEHOUSE_START_DATE"] = "2024-06-01"  # fixed days (2024-06-03 on), not the default that follows today
    for var in ("LAKEHOUSE_WAREHOUSE", "LAKEHOUSE_LANDING", "LAKEHOUSE_GLUE_PREFIX", "AWS_ENDPOINT_URL",
                "LAKEHOUSE_SPARK_REMOTE", "SPARK_REMOTE"):
        os.environ.pop(var, None)  # warehouse and landing on the local disk, as `make dev` has them
    os.environ.setdefault("PYTHONPATH", f"{REPO}/platform")  # the server's Python workers import lakehouse
    out: dict = {"rows_per_day": rows, "batch_days": batch, "connect": connect, "cpus": os.cpu_count()}
    server = None
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so `finally` stops the server
    began = time.monotonic()
    try:
        if connect:
            from lakehouse.dev.spark_server import start_connect_server

            server = start_connect_server(_settings())
            os.environ.update(server.client_env())
            out["connect_server_start_s"] = round(time.monotonic() - began, 2)
            out["connect_server_warm_up_s"] = server.warm_up()  # as `make dev` does beside dagster dev's start
            print(f"Spark Connect server ready in {out['connect_server_start_s']}s, warmed up in "
                  f"{out['connect_server_warm_up_s']}s", flush=True)
        from dagster import DagsterInstance

        from lakehouse.automation.drive import Drive, drive
        from lakehouse.definitions import build_definitions

        defs = build_definitions()
        (tmp / "dagster").mkdir()
        with DagsterInstance.local_temp(str(tmp / "dagster")) as instance:
            state = drive(defs, instance, Drive())  # the daemons' first ticks, over an empty landing zone
            day = date(2024, 6, 3)
            out["one_day"], state = landed_to_gold(defs, instance, state, day, 1, rows)
            print(f"1 day landed -> daily gold fresh in {out['one_day']['landed_to_gold_s']}s, "
                  f"{out['one_day']['runs']} runs", flush=True)
            out["plain_one_day_s"] = plain_one_day(day.isoformat(), tmp)
            _save(out)
            if batch:
                out["batch"], state = landed_to_gold(defs, instance, state, day + timedelta(days=1), batch, rows)
                print(f"{batch} days landed at once -> all daily gold fresh in "
                      f"{out['batch']['landed_to_gold_s']}s, {out['batch']['runs']} runs", flush=True)
    finally:
        if server is not None:
            server.stop()
    path = _save(out)
    failures = out.get("batch", {}).get("failures", []) + out["one_day"]["failures"]
    if failures:
        print(f"failed runs: {failures}", file=sys.stderr)
    print(f"results: {path}")
    print(f"landed_to_gold_s={out['one_day']['landed_to_gold_s']} plain_one_day_s={out['plain_one_day_s']} "
          f"runs={out['one_day']['runs']}")
    return 1 if failures or out["one_day"]["landed_to_gold_s"] is None else 0


if __name__ == "__main__":
    raise SystemExit(main())
