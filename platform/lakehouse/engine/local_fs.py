"""Hadoop's local file system without a process per file, for local sessions (java/NoForkLocalFileSystem.java).

Hadoop without its native library (pip's pyspark has none) runs `chmod` in a new process for every file and folder
Spark writes on a `file:` path and `readlink` for every rename of a Delta commit: about 1,600 processes in one
commerce run of the demo. `make install` compiles the Java file next to this module with the JDK's `javac` into the
JAR cache (one small JAR, keyed by the source and the Hadoop version it was compiled against); a local session puts
it on its class path and names it for `file:` paths. Without a `javac` the sessions keep Hadoop's own local file
system, which works the same, only slower.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
import zipfile
from pathlib import Path

from lakehouse.engine.jars import cache_dir, hadoop_version, jdk_tool, pyspark_jars

SOURCE = Path(__file__).with_name("java") / "NoForkLocalFileSystem.java"
CLASS = "lakehouse.hadoop.NoForkLocalFileSystem"
# FileSystem for `file:` paths, and its FileContext twin (Delta's commits rename through FileContext)
CONF = {"spark.hadoop.fs.file.impl": CLASS, "spark.hadoop.fs.AbstractFileSystem.file.impl": f"{CLASS}$Fs"}


def jar_path() -> Path:
    key = hashlib.sha256(SOURCE.read_bytes() + hadoop_version().encode()).hexdigest()[:12]
    return cache_dir() / f"lakehouse-local-fs-{key}.jar"


def installed() -> Path | None:
    """The compiled JAR when `make install` built it for this source and Hadoop, else None."""
    path = jar_path()
    return path if path.is_file() else None


def build() -> Path | None:
    """Compile the source into the cache (once); None, with the reason printed, when there is no `javac`."""
    target = jar_path()
    if target.is_file():
        return target
    javac = jdk_tool("javac")
    if javac is None:
        print("no javac (a JDK's compiler) found: local sessions keep Hadoop's own local file system, which starts "
              "a process per file written (slower, same results)")
        return None
    hadoop = [str(j) for j in pyspark_jars().glob("hadoop-client-api-*.jar")]
    with tempfile.TemporaryDirectory() as out:
        done = subprocess.run([str(javac), "--release", "17", "-nowarn", "-cp", os.pathsep.join(hadoop), "-d", out,
                               str(SOURCE)], capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"javac failed on {SOURCE.name}: {done.stderr.strip()[-2000:]}")
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".jar.partial")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as jar:  # a JAR is a zip of the class files
            for path in sorted(Path(out).rglob("*.class")):
                jar.write(path, path.relative_to(out).as_posix())
        partial.replace(target)  # whole or not there
    return target


def main() -> int:
    path = build()
    if path is not None:
        print(f"local file system without a process per file: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
