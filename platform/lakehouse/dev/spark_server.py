"""One long-lived Spark Connect server for `make dev`: runs attach to it instead of starting a JVM each.

pyspark ships the server (`spark-connect_2.13-*.jar`); it is started with pyspark's own `spark-submit`, the
Delta/S3A JARs from the manifest and the project's Spark settings as the server's defaults, so every Connect
session starts from them. Session-level settings a run changes (S3A endpoint, SQL parameters) are set on
the run's own session by `configure_session`. The server listens on 127.0.0.1 only and asks for a random
token, passed to clients through SPARK_CONNECT_AUTHENTICATE_TOKEN (never in a URL, so never in a log).

`python -m lakehouse.dev.spark_server` starts one in the foreground and prints its LAKEHOUSE_SPARK_REMOTE.
"""
from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from lakehouse.config import Settings
from lakehouse.dev.ports import free_port
from lakehouse.engine.class_archive import with_archive
from lakehouse.errors import LakehouseError

SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
TOKEN_ENV = "SPARK_CONNECT_AUTHENTICATE_TOKEN"


class ConnectServerError(LakehouseError):
    """The Spark Connect server did not start."""


@dataclass
class ConnectServer:
    process: subprocess.Popen
    port: int
    token: str = field(repr=False)  # a secret: never in a repr, a log or a traceback
    log: Path = field(default=None)
    settings: Settings | None = field(default=None, repr=False)  # what it was started with; its warm-up uses them

    @property
    def remote(self) -> str:
        # "localhost", not 127.0.0.1: pyspark sends a token without TLS only to a host named localhost
        return f"sc://localhost:{self.port}"

    def client_env(self) -> dict[str, str]:
        """What a process needs in its environment to attach its runs to this server."""
        return {"LAKEHOUSE_SPARK_REMOTE": self.remote, TOKEN_ENV: self.token}

    def warm_up(self) -> float:
        """Do a run's kinds of work once on a scratch table (`_exercise`) and return the seconds it took.

        For a server on a local master (the scratch table is on this machine's disk). A failure here, e.g.
        Delta's JARs not loading, is said now in one line instead of at the first landed file."""
        began = time.monotonic()
        try:
            with _throwaway_session(self) as session:
                _exercise(session, self.settings)
        except Exception as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ConnectServerError(f"the Spark Connect server failed its warm-up: {first} (its log: {self.log})") from None
        return round(time.monotonic() - began, 1)

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM the server's process group (spark-submit and its JVM), SIGKILL after `timeout` seconds."""
        if self.process.poll() is None:
            _signal_group(self.process, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal_group(self.process, signal.SIGKILL)
                self.process.wait(10)


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(process.pid, sig)  # the group this module created with start_new_session
    except ProcessLookupError:
        pass


def server_conf(settings: Settings) -> dict[str, str]:
    """The server's Spark settings: the same ones a classic session of a run gets (JARs, Delta, laptop tuning)."""
    from lakehouse.engine.spark import LOG_OPTIONS, SESSION_CONF, _builder_conf, session_classpath

    conf = {**_builder_conf(settings), **SESSION_CONF, "spark.master": settings.spark_master,
            "spark.app.name": "lakehouse-connect",
            # Spark's own catalog folder under the lakehouse home, not in whatever directory `make dev` ran from
            "spark.sql.warehouse.dir": str(Path(settings.home) / "spark-warehouse")}
    if "spark.driver.extraJavaOptions" not in settings.spark_conf:
        # A server lives for many runs: the optimizing JIT tier earns its compile time back (runs of the
        # 10-day latency bench took 28 s / 70 s per landing / automation run with it, 37 s / 93 s with the
        # quick tier alone that suits a one-run local JVM). The class archive stays.
        conf["spark.driver.extraJavaOptions"] = with_archive(LOG_OPTIONS, session_classpath(settings))
    return conf


def spark_submit() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent / "bin" / "spark-submit"


def start_connect_server(settings: Settings, port: int | None = None, ready_timeout: float = 180,
                         cancelled: Callable[[], bool] = lambda: False) -> ConnectServer:
    """Start the server on 127.0.0.1 and return once it answers a query (then `warm_up` readies it for runs).

    `cancelled` is asked while waiting: a Ctrl-C during the start stops the server at once."""
    port = port or free_port()
    token = secrets.token_urlsafe(24)
    command = [str(spark_submit()), "--class", SERVER_CLASS, "--name", "lakehouse-connect"]
    for key, value in server_conf(settings).items():
        command += ["--conf", f"{key}={value}"]
    command += ["--conf", "spark.connect.grpc.binding.address=127.0.0.1",
                "--conf", f"spark.connect.grpc.binding.port={port}", "spark-internal"]
    env = {**os.environ, TOKEN_ENV: token, "PYSPARK_PYTHON": os.environ.get("PYSPARK_PYTHON", sys.executable)}
    for var in ("SPARK_REMOTE", "SPARK_CONNECT_MODE_ENABLED", "LAKEHOUSE_SPARK_REMOTE"):
        env.pop(var, None)  # spark-submit would otherwise try to be a Connect client itself
    log = Path(tempfile.mkstemp(prefix="lakehouse-connect-", suffix=".log")[1])
    with log.open("wb") as out:  # the server's own log, kept out of the dev console
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)  # its own group: stopping it stops the JVM too
    server = ConnectServer(process, port, token, log, settings)
    try:
        _wait_ready(server, ready_timeout, cancelled)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_ready(server: ConnectServer, timeout: float, cancelled: Callable[[], bool]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cancelled():
            raise ConnectServerError("stopped before the Spark Connect server was ready")
        if server.process.poll() is not None:
            tail = server.log.read_text(errors="replace")[-2000:]
            raise ConnectServerError(f"the Spark Connect server exited with code {server.process.returncode}; "
                                     f"the end of its log ({server.log}):\n{tail}")
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=1):
                break
        except OSError:
            time.sleep(0.5)
    else:
        raise ConnectServerError(f"the Spark Connect server did not listen on port {server.port} within "
                                 f"{timeout:.0f}s; its log: {server.log}")
    _first_query(server)


def _first_query(server: ConnectServer) -> None:
    """One query through a throwaway session: the port opens before the server serves."""
    with _throwaway_session(server) as session:
        session.range(1).count()


@contextmanager
def _throwaway_session(server: ConnectServer):
    from pyspark.sql import SparkSession

    os.environ.setdefault(TOKEN_ENV, server.token)  # pyspark's client reads the token from the environment
    # pyspark's own builder, as runs use it: it marks the process a Connect client, which column functions
    # (F.col) ask to know where to build expressions
    session = SparkSession.builder.remote(server.remote).create()
    try:
        yield session
    finally:
        session.stop()


def _parse_batches(batches):
    """The Python side of the warm-up: a worker that imports what a bronze parse imports."""
    import lakehouse.ingest.executors  # noqa: F401  (the bronze parser's modules, loaded in the worker)

    yield from batches


def _exercise(session, settings: Settings) -> None:
    """A run's kinds of work once, on a scratch table: a Python-worker parse into a cached frame, the rules'
    aggregation, the key check, the store's Delta create and replaceWhere overwrite, its read, a join and a
    window. On a fresh server the first landed day's runs otherwise pay for the JVM's class loading and
    compiling of these paths and for the Python workers' start (bench-latency, 2 cores: 115-120 s from landing
    to gold without, 96 s with)."""
    from pyspark.sql import functions as F

    from lakehouse.storage.spark_store import SparkStore

    store = SparkStore(settings, session)
    scratch = Path(tempfile.mkdtemp(prefix="lakehouse-warm-up-"))
    try:
        rows = session.range(2000).selectExpr("cast(id as string) as k", "id % 7 as v",
                                              "concat('2024-01-0', cast(id % 3 + 1 as string)) as dt")
        parsed = rows.repartition(2).mapInArrow(_parse_batches, rows.schema).persist()
        parsed.groupBy("dt").agg({"v": "max", "k": "count"}).collect()
        parsed.groupBy("k").count().where("count > 1").first()
        uri = str(scratch / "t")
        for days in (["2024-01-01", "2024-01-02", "2024-01-03"], ["2024-01-02"]):  # create, then overwrite a day
            store.write_df("warm_up.scratch", uri, "delta", parsed.where(F.col("dt").isin(days)), days)
        back = store.read_df(session, uri, "delta", ["2024-01-02"])
        (back.join(rows.selectExpr("k", "v as w"), "k").selectExpr("*", "row_number() over (partition by dt order by v desc) as n")
         .where("n = 1").collect())
        parsed.unpersist()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # so `finally` stops the server's JVM too
    server = start_connect_server(Settings.from_env())  # the `python -m lakehouse.dev.spark_server` command
    try:
        print(f"warmed up in {server.warm_up()}s", flush=True)
    except ConnectServerError as exc:
        server.stop()
        print(exc, file=sys.stderr)
        return 1
    print(f"Spark Connect server on 127.0.0.1:{server.port} (log {server.log}); attach runs with\n"
          f"  LAKEHOUSE_SPARK_REMOTE={server.remote} and {TOKEN_ENV} from this process's environment", flush=True)
    try:
        server.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
