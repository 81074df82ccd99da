"""`make dev`'s loop: one Spark Connect server that runs attach to, one session per run, a supervisor that stops."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from lakehouse.dev.dagster_dev import claim_storage
from lakehouse.dev.spark_server import TOKEN_ENV
from lakehouse.errors import ConfigError


def test_connect_checks_in_a_fresh_process():
    """connect_checks.py: runs attached to a Connect server, in a process with no classic session."""
    here = os.path.dirname(__file__)
    env = {k: v for k, v in os.environ.items() if k not in ("LAKEHOUSE_SPARK_REMOTE", TOKEN_ENV, "LAKEHOUSE_TEST_CONNECT")}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--no-header",
                           os.path.join(here, "connect_checks.py")], cwd=os.path.dirname(here), env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "skipped" not in proc.stdout, proc.stdout[-2000:]


SUPERVISED = textwrap.dedent("""
    import sys
    from lakehouse.dev.supervisor import Supervisor

    supervisor = Supervisor()
    child = supervisor.start("sleeper", [sys.executable, "-c", "import time; time.sleep(600)"], {})
    print(child.process.pid, flush=True)
    sys.exit(supervisor.wait())
""")


def _ignore_sigint():  # what a non-interactive shell does to a command started with `&`
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_supervisor_started_in_background_stops_on_signal(sig):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-c", SUPERVISED], stdout=subprocess.PIPE, text=True, env=env,
                            preexec_fn=_ignore_sigint)
    try:
        child = int(proc.stdout.readline())
        time.sleep(0.5)
        proc.send_signal(sig)
        assert proc.wait(20) == 0
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _alive(child):
            time.sleep(0.1)
        assert not _alive(child), "the supervised child outlived the supervisor"
    finally:
        if proc.poll() is None:
            proc.kill()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie has exited (its parent is gone or not reaping)
        return stat.read().split(")")[-1].split()[0] != "Z"


def test_supervisor_stops_the_rest_when_a_child_exits():
    from lakehouse.dev.supervisor import Supervisor

    supervisor = Supervisor()
    try:
        sleeper = supervisor.start("sleeper", [sys.executable, "-c", "import time; time.sleep(600)"], {})
        supervisor.start("quitter", [sys.executable, "-c", "raise SystemExit(3)"], {})
        assert supervisor.wait() == 3
        assert sleeper.process.poll() is not None
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL)


def test_dagster_storage_belongs_to_one_warehouse(tmp_path):
    storage = tmp_path / "dagster"
    claim_storage(storage, "/data/warehouse")
    claim_storage(storage, "/data/warehouse")  # the same warehouse again: fine
    (storage / "runs.db").write_text("history")
    with pytest.raises(ConfigError, match="belongs to the warehouse /data/warehouse"):
        claim_storage(storage, "s3://bucket/warehouse on moto http://127.0.0.1:1")
    with pytest.raises(ConfigError):  # a real warehouse's storage is never emptied, even when asked to reset
        claim_storage(storage, "s3://bucket/warehouse on moto http://127.0.0.1:1", reset=True)
    assert (storage / "runs.db").is_file()


def test_dev_aws_storage_is_emptied_when_its_moto_is_new(tmp_path):
    storage = tmp_path / "dagster-aws"
    claim_storage(storage, "s3://b/warehouse on moto http://127.0.0.1:1", reset=True)
    (storage / "runs.db").write_text("materializations of a bucket that is gone")
    claim_storage(storage, "s3://b/warehouse on moto http://127.0.0.1:2", reset=True)
    assert not (storage / "runs.db").exists()
    assert "127.0.0.1:2" in (storage / "lakehouse-warehouse.txt").read_text()


def test_server_token_never_in_repr():
    from lakehouse.dev.spark_server import ConnectServer

    server = ConnectServer(process=None, port=1, token="s3cret-token", log=None)
    assert "s3cret-token" not in repr(server) and "s3cret-token" not in server.remote




def test_connect_server_keeps_the_default_jit_tiers_unless_told(monkeypatch):
    """A local run's JVM gets the quick JIT tier; a server living for many runs the JVM's default tiers."""
    from lakehouse.config import Settings
    from lakehouse.dev.spark_server import server_conf
    from lakehouse.engine.spark import JIT_OPTIONS, LOG_OPTIONS, _builder_conf

    monkeypatch.delenv("LAKEHOUSE_SPARK_CONF", raising=False)
    settings = Settings.from_env()
    archive = "-XX:SharedArchiveFile="  # both keep the class archive (test_class_archive.py) and the log settings
    assert _builder_conf(settings)["spark.driver.extraJavaOptions"].startswith(f"{JIT_OPTIONS} {LOG_OPTIONS} {archive}")
    assert server_conf(settings)["spark.driver.extraJavaOptions"].startswith(f"{LOG_OPTIONS} {archive}")
    monkeypatch.setenv("LAKEHOUSE_SPARK_CONF", '{"spark.driver.extraJavaOptions": "-Xss4m"}')
    assert server_conf(Settings.from_env())["spark.driver.extraJavaOptions"].startswith(f"-Xss4m {archive}")


def test_local_jvm_takes_the_jars_on_its_class_path_a_cluster_gets_them_shipped(monkeypatch):
    """Local mode puts the Delta/S3A JARs on the driver's class path (no copy of a 654 MB SDK per start); a
    cluster master ships them with spark.jars; a user's own class path is kept in front of ours."""
    from lakehouse.config import Settings
    from lakehouse.engine.jars import classpath
    from lakehouse.engine.local_fs import CONF as LOCAL_FS, installed
    from lakehouse.engine.spark import _builder_conf

    monkeypatch.delenv("LAKEHOUSE_SPARK_CONF", raising=False)
    monkeypatch.setenv("LAKEHOUSE_SPARK_MASTER", "local[2]")
    local = _builder_conf(Settings.from_env())
    jars = [*classpath(), str(installed())]  # and the local file system `make install` compiled (engine/local_fs.py)
    assert "spark.jars" not in local and local["spark.driver.extraClassPath"].split(os.pathsep) == jars
    assert LOCAL_FS.items() <= local.items()
    monkeypatch.setenv("LAKEHOUSE_SPARK_MASTER", "spark://127.0.0.1:7077")
    cluster = _builder_conf(Settings.from_env())
    assert cluster["spark.jars"].split(",") == classpath() and "spark.driver.extraClassPath" not in cluster
    assert not LOCAL_FS.keys() & cluster.keys()  # a cluster's executors keep their own file system
    monkeypatch.setenv("LAKEHOUSE_SPARK_MASTER", "local[2]")
    monkeypatch.setenv("LAKEHOUSE_SPARK_CONF", '{"spark.driver.extraClassPath": "/opt/mine.jar"}')
    assert _builder_conf(Settings.from_env())["spark.driver.extraClassPath"].split(os.pathsep) == ["/opt/mine.jar", *jars]
