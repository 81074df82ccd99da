"""A class-data sharing (CDS) archive of the JVM classes a local Spark run loads, built once by `make install`.

A local run's JVM spends a good part of its time loading and verifying the same classes of Spark, Delta and Hadoop
every time it starts. The JDK can map them from an archive instead (`-XX:SharedArchiveFile`). `make install` runs a
small Spark + Delta workload in a JVM that writes the archive when it exits (`-XX:ArchiveClassesAtExit`,
dev/archive_classes.py); every local session after that starts with it. Classes the workload did not load still
come from the JARs.

The archive is only valid for the JVM and the JARs that wrote it, so its file name carries a hash of the java binary
and of each JAR's path, size and modification time (what the JDK checks). The JDK checks it again when it maps it:
a stale or foreign archive is ignored and the JVM loads classes as usual, never fails. `-Xshare:off` in
`spark.driver.extraJavaOptions` turns it off.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from lakehouse.engine.jars import cache_dir, jdk_tool, pyspark_jars

# Options that already say how to share classes: the person's own choice wins.
_OWN = ("-Xshare", "SharedArchiveFile", "ArchiveClassesAtExit")


def archive_path(classpath: list[str]) -> Path | None:
    """Where the archive for this JVM and class path lives (whether or not it was built); None without a java."""
    java = jdk_tool("java")  # the java binary spark-submit launches
    if java is None:
        return None
    # The JVM's class path is ours plus pyspark's own JARs, whose folder differs per virtual environment. The JDK
    # refuses an archive when a JAR's size or modification time changed since it was written (a virtual
    # environment made again in the same place): those are in the name too, so such a change builds a new one.
    jars = sorted(str(p) for p in pyspark_jars().glob("*.jar")) + list(classpath)
    key = "\n".join([str(java), str(java.stat().st_mtime_ns), *_stamps(jars)])
    return cache_dir() / "class-archive" / f"spark-{hashlib.sha256(key.encode()).hexdigest()[:16]}.jsa"


def _stamps(paths: list[str]) -> list[str]:
    """Each path with its size and modification time (a missing file as itself)."""
    out = []
    for path in paths:
        try:
            stat = os.stat(path)
            out.append(f"{path} {stat.st_size} {stat.st_mtime_ns}")
        except OSError:
            out.append(path)
    return out


def with_archive(java_options: str, classpath: list[str]) -> str:
    """`java_options` plus the archive when it was built for this JVM and class path (else unchanged)."""
    if any(own in java_options for own in _OWN):
        return java_options
    path = archive_path(classpath)
    if path is None or not path.is_file():
        return java_options
    try:  # marks it in use: `make install` removes archives no session started with for weeks
        os.utime(path)
    except OSError:
        pass
    return f"{java_options} -XX:SharedArchiveFile={path} -Xlog:cds=off,cds+dynamic=off".strip()
