"""A Spark standalone cluster on 127.0.0.1 (one master, N workers), from the `spark-class` pyspark ships.

For the benchmark's scale-out path and for trying the platform against a real `spark://` master without a
cluster: `python -m lakehouse.dev.cluster` (or `make dev-cluster`) starts it and prints the master URL to put
in LAKEHOUSE_SPARK_MASTER. Executors run in their own JVMs with their own Python workers, so everything that
crosses the driver/executor boundary is really serialized, as on a real cluster.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from lakehouse.dev.ports import free_port


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent


@dataclass
class StandaloneCluster:
    master_url: str
    ui_url: str
    processes: list[subprocess.Popen] = field(default_factory=list)
    work_dir: str = ""

    def alive_workers(self) -> int:
        with urllib.request.urlopen(f"{self.ui_url}/json/", timeout=2) as response:
            return int(json.loads(response.read()).get("aliveworkers", 0))

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()

    def __enter__(self) -> "StandaloneCluster":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _env() -> dict[str, str]:
    home = spark_home()
    return {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1",
            "PYSPARK_PYTHON": os.environ.get("PYSPARK_PYTHON", sys.executable),
            "SPARK_NO_DAEMONIZE": "1"}


def start_standalone(workers: int = 2, cores: int = 1, memory: str = "1g", timeout: float = 90) -> StandaloneCluster:
    """Start a master and `workers` workers; return once every worker has registered with the master."""
    spark_class = str(spark_home() / "bin" / "spark-class")
    env = _env()
    port, ui_port = free_port(), free_port()
    work_dir = tempfile.mkdtemp(prefix="lakehouse-spark-work-")
    log = open(Path(work_dir) / "cluster.log", "ab")
    cluster = StandaloneCluster(f"spark://127.0.0.1:{port}", f"http://127.0.0.1:{ui_port}", work_dir=work_dir)
    cluster.processes.append(subprocess.Popen(
        [spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
         "--webui-port", str(ui_port)], env=env, stdout=log, stderr=subprocess.STDOUT))
    for _ in range(workers):
        cluster.processes.append(subprocess.Popen(
            [spark_class, "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1", "--cores", str(cores),
             "--memory", memory, "--webui-port", str(free_port()), "--work-dir", work_dir, cluster.master_url],
            env=env, stdout=log, stderr=subprocess.STDOUT))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in cluster.processes):
            cluster.stop()
            raise RuntimeError(f"a Spark standalone process exited early; see {work_dir}/cluster.log")
        try:
            if cluster.alive_workers() >= workers:
                return cluster
        except OSError:
            pass  # the master's UI is not up yet
        time.sleep(0.5)
    cluster.stop()
    raise RuntimeError(f"{workers} Spark workers did not register within {timeout:.0f}s; see {work_dir}/cluster.log")


def main() -> int:
    workers = int(os.environ.get("LAKEHOUSE_DEV_WORKERS", 2))
    cluster = start_standalone(workers)
    print(f"Spark standalone master {cluster.master_url} with {workers} workers (UI {cluster.ui_url})")
    print(f"point the platform at it with:\n  LAKEHOUSE_SPARK_MASTER={cluster.master_url} make demo")
    print("Ctrl-C stops it.")
    try:
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
