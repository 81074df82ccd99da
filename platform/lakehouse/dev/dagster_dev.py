"""`make dev`: one warm Spark Connect server and `dagster dev`, under one supervisor.

Runs launched by `dagster dev` attach to the server (LAKEHOUSE_SPARK_REMOTE) instead of starting a JVM each;
each run has its own Connect session. While `dagster dev` starts, the server does a run's kinds of work once
(`ConnectServer.warm_up`), so the first landed file does not pay for a cold JVM. With LAKEHOUSE_SPARK_REMOTE already set (a remote Connect endpoint),
no server is started and runs attach there; LAKEHOUSE_DEV_CONNECT=0 keeps one local JVM per run.

Each warehouse gets its own Dagster storage (`make dev`: .lakehouse/dagster, `make dev-aws`:
.lakehouse/dagster-aws): the storage remembers which partitions exist, so it must describe one warehouse only.
"""
from __future__ import annotations

import os
import shutil
import sys
import threading
from pathlib import Path

from lakehouse.config import Settings
from lakehouse.errors import ConfigError, LakehouseError

MARKER = "lakehouse-warehouse.txt"


def claim_storage(storage: Path, warehouse: str, reset: bool = False) -> None:
    """Tie a Dagster storage directory to one warehouse; refuse one tied to another.

    With `reset`, a storage of an earlier moto server (in memory, so gone) is emptied instead; one of a real
    warehouse never is.

    A storage that says a partition exists while the warehouse runs read lacks it is how gold got published
    from a missing upstream: automation trusts the storage.
    """
    storage.mkdir(parents=True, exist_ok=True)
    marker = storage / MARKER
    owner = marker.read_text().strip() if marker.is_file() else None
    if owner not in (None, warehouse):
        if not (reset and " on moto " in owner):
            raise ConfigError(f"the Dagster storage {storage} belongs to the warehouse {owner}, not {warehouse}: "
                              "set LAKEHOUSE_DAGSTER_STORAGE to a directory of its own for this warehouse")
        print(f"emptying the Dagster storage {storage}: it described {owner}, which is gone", flush=True)
        shutil.rmtree(storage)
        storage.mkdir(parents=True)
    marker.write_text(warehouse + "\n")


def run(env: dict[str, str], warehouse_id: str | None = None, reset_storage: bool = False) -> int:
    """Start the Connect server (unless told otherwise) and `dagster dev` with `env`; return when stopped."""
    from lakehouse.dev.supervisor import Supervisor

    settings = Settings.from_env(env)
    storage = Path(env.get("LAKEHOUSE_DAGSTER_STORAGE") or Path(settings.home) / "dagster")
    env["LAKEHOUSE_DAGSTER_STORAGE"] = str(storage)
    claim_storage(storage, warehouse_id or settings.warehouse, reset_storage)
    supervisor = Supervisor()
    if not settings.spark_remote and env.get("LAKEHOUSE_DEV_CONNECT", "1") != "0":
        from lakehouse.dev.spark_server import ConnectServerError, start_connect_server

        print("starting the Spark Connect server that runs attach to ...", flush=True)
        try:
            server = start_connect_server(settings, cancelled=lambda: supervisor.stopping is not None)
        except ConnectServerError as exc:
            if supervisor.stopping is None:
                raise
            print(exc, flush=True)
            return 0
        supervisor.adopt("spark connect server", server.process, server.stop)
        env.update(server.client_env())
        print(f"Spark Connect server ready on 127.0.0.1:{server.port} (log {server.log})", flush=True)
        if settings.spark_master.startswith("local"):  # beside dagster dev's own start, before a file lands
            threading.Thread(target=_warm_up, args=(server, supervisor), daemon=True, name="spark-warm-up").start()
    if supervisor.stopping is None:
        supervisor.start("dagster dev", [sys.executable, "-m", "dagster", "dev", "-w", "workspace.yaml"], env)
    return supervisor.wait()


def _warm_up(server, supervisor) -> None:
    from lakehouse.dev.spark_server import ConnectServerError

    try:
        print(f"Spark Connect server warmed up for runs in {server.warm_up()}s", flush=True)
    except ConnectServerError as exc:  # said here in one line; a run meeting the same problem fails on its own
        if supervisor.stopping is None:  # not when `make dev` is stopping under it
            print(exc, flush=True)


def main() -> int:
    try:
        return run(dict(os.environ))
    except (ConfigError, LakehouseError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
