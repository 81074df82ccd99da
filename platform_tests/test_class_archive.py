"""The JVM class archive `make install` builds (engine/class_archive.py): a local session maps Spark's and Delta's
classes from it, and an archive the JVM cannot use never stops a session."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from lakehouse.engine.class_archive import archive_path, with_archive
from lakehouse.engine.spark import DRIVER_OPTIONS, JIT_OPTIONS, local_classpath  # a local session's JARs, options

# A fresh process: the session's JVM starts with the options given, runs a query (with `delta`, a Delta write
# and read), and says how many classes it loaded from where.
SESSION = """
import sys
from lakehouse.config import Settings
from lakehouse.engine.spark import get_spark
spark = get_spark(Settings.from_env())
if sys.argv[2] == "delta":
    spark.range(10).selectExpr("id", "'2024-06-01' dt").write.format("delta").save(sys.argv[1])
    print("ROWS", spark.read.format("delta").load(sys.argv[1]).count())
else:
    print("ROWS", spark.range(10).count())
"""


def _session(tmp_path, java_options: str, work: str = "delta") -> tuple[int, list[str], str]:
    log = tmp_path / "classes.log"
    env = {**os.environ, "LAKEHOUSE_HOME": str(tmp_path / "home"),
           "LAKEHOUSE_SPARK_CONF": json.dumps({"spark.driver.extraJavaOptions":
                                               f"{java_options} -Xlog:class+load=info:file={log}"})}
    env.pop("LAKEHOUSE_SPARK_REMOTE", None)
    done = subprocess.run([sys.executable, "-c", SESSION, str(tmp_path / "t"), work], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = int(next(line.split()[1] for line in done.stdout.splitlines() if line.startswith("ROWS")))
    return rows, log.read_text().splitlines(), done.stderr


def test_a_local_session_maps_spark_and_delta_classes_from_the_archive(tmp_path):
    archive = archive_path(local_classpath())
    assert archive is not None and archive.is_file(), "make install builds the class archive"
    rows, loaded, console = _session(tmp_path, DRIVER_OPTIONS)  # the session's own: with_archive adds the archive
    archived = [line for line in loaded if "shared objects file (top)" in line]
    assert rows == 10
    # engine/log4j2.properties: neither Spark's default profile nor the missing native library is announced
    assert "log4j profile" not in console and "default log level" not in console, console
    assert "NativeCodeLoader" not in console and " INFO " not in console, console
    assert sum("org.apache.spark.sql." in line for line in archived) > 1000, len(archived)
    assert any("org.apache.spark.sql.delta." in line for line in archived)


def test_an_archive_the_jvm_cannot_use_leaves_the_session_working(tmp_path):
    stale = tmp_path / "stale.jsa"
    stale.write_bytes(b"not an archive" * 1000)
    rows, loaded, _ = _session(tmp_path, f"{JIT_OPTIONS} -XX:SharedArchiveFile={stale}", work="query")
    assert rows == 10 and not any("shared objects file (top)" in line for line in loaded)


def test_the_archive_is_only_added_when_it_exists_and_the_options_do_not_choose_their_own(tmp_path, monkeypatch):
    jars = local_classpath()
    used = archive_path(jars)
    os.utime(used, (used.stat().st_atime, time.time() - 86_400))
    assert "-XX:SharedArchiveFile=" in with_archive(JIT_OPTIONS, jars)
    assert time.time() - used.stat().st_mtime < 60  # a session starting with it marks it in use
    for own in ("-Xshare:off", "-XX:SharedArchiveFile=/elsewhere.jsa", "-XX:ArchiveClassesAtExit=/x.jsa"):
        assert with_archive(f"{JIT_OPTIONS} {own}", jars) == f"{JIT_OPTIONS} {own}"
    monkeypatch.setattr("lakehouse.engine.class_archive.cache_dir", lambda: tmp_path)  # a machine where it was not built
    assert with_archive(JIT_OPTIONS, jars) == JIT_OPTIONS


def test_a_jar_changed_in_place_names_another_archive(tmp_path, monkeypatch):
    """A virtual environment made again in the same folder keeps its JAR paths with new times: the JDK would refuse
    the old archive, so the name changes with them and `make install` builds a new one."""
    jars = tmp_path / "jars"
    jars.mkdir()
    jar = jars / "spark-core.jar"
    jar.write_bytes(b"classes")
    monkeypatch.setattr("lakehouse.engine.class_archive.pyspark_jars", lambda: jars)
    first = archive_path([])
    assert archive_path([]) == first
    os.utime(jar, ns=(jar.stat().st_atime_ns, jar.stat().st_mtime_ns + 10**9))
    assert archive_path([]) != first


def test_install_prunes_archives_no_session_used_for_weeks(tmp_path):
    from lakehouse.dev.archive_classes import STALE_DAYS, prune

    kept, recent, stale = (tmp_path / f"spark-{name}.jsa" for name in ("new", "recent", "stale"))
    for path in (kept, recent, stale):
        path.write_bytes(b"archive")
    old = time.time() - (STALE_DAYS + 1) * 86_400
    os.utime(stale, (old, old))
    os.utime(kept, (old, old))  # the one just built is never removed
    assert prune(tmp_path, keep=kept) == [stale]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spark-new.jsa", "spark-recent.jsa"]
