"""A throwaway Trino server (the engine Athena v3 is built on) for development and tests: one JVM, 127.0.0.1.

`fetch()` (run by `make trino-deps`) takes `io.trino:trino-server` from Maven Central once, with Maven's
dependency plugin, and keeps only the server's own JARs and the two connectors the lakehouse needs (Delta Lake
and Hive) under ~/.cache/lakehouse/trino/<version>. Maven Central has no per-connector archives of recent
releases (no trino-delta-lake zip since 449, no trino-server-core since 476), so the whole server archive is
downloaded once (about 820 MB, into a scratch Maven repository removed afterwards) and unpacked partly.

`start_trino()` writes a coordinator's configuration and the given catalogs to a temp dir and starts
`io.trino.server.TrinoServer` on a free loopback port with a small heap. Trino needs a newer Java than the
platform's 17: it runs under the JDK found by `java_home()` (LAKEHOUSE_TRINO_JAVA_HOME, else the newest
/usr/lib/jvm/* of at least JAVA_MAJOR), passed as JAVA_HOME to Trino's process only.
`glue_catalogs()` are the `delta_lake` and `hive` catalogs over the Glue catalog and S3 (or a moto server).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

from lakehouse.dev.maven import fetch_once, is_complete
from lakehouse.dev.ports import free_port

TRINO_VERSION = "476"
JAVA_MAJOR = 24  # Trino 476 refuses to start on an older JVM
ARTIFACT = f"io.trino:trino-server:{TRINO_VERSION}:tar.gz"
PLUGINS = ("delta-lake", "hive")  # the connectors delta_lake and hive
JVM_ROOT = Path("/usr/lib/jvm")


class TrinoUnavailable(RuntimeError):
    pass


def install_dir() -> Path:
    return Path.home() / ".cache" / "lakehouse" / "trino" / TRINO_VERSION


def _installed() -> bool:
    root = install_dir()
    return is_complete(root) and all((root / "plugin" / p).is_dir() for p in PLUGINS)


def _unpack(archive: Path, target: Path) -> None:
    """The server's lib/ and the PLUGINS' folders of the archive into `target`.

    The archive stores a JAR shared by several plugins once and hard links the others to it, sometimes in a
    plugin we leave out: those targets are unpacked too (so the links resolve), then their folders removed."""
    with tarfile.open(archive, "r:gz") as tar:
        members = tar.getmembers()
        top = members[0].name.split("/")[0]
        keep = (f"{top}/lib/", *(f"{top}/plugin/{p}/" for p in PLUGINS))
        wanted = [m for m in members if m.name.startswith(keep)]
        targets = {m.linkname for m in wanted if m.islnk()}
        tar.extractall(target, members=[m for m in members if m.name.startswith(keep) or m.name in targets],
                       filter="data")
    unpacked = target / top
    for plugin in (unpacked / "plugin").iterdir():
        if plugin.name not in PLUGINS:
            shutil.rmtree(plugin)
    for child in unpacked.iterdir():
        child.rename(target / child.name)
    unpacked.rmdir()


def fetch() -> Path:
    """Fetch Trino's server and its Delta Lake and Hive connectors from Maven Central once (Maven must be on PATH)."""
    def fill(mvn, work: Path, staging: Path) -> None:
        # a scratch repository: the 820 MB archive is not worth keeping in ~/.m2 once unpacked
        mvn(["dependency:copy", f"-Dartifact={ARTIFACT}", f"-DoutputDirectory={work}",
             f"-Dmaven.repo.local={work / 'repository'}"], timeout=1800)
        archive = work / f"trino-server-{TRINO_VERSION}.tar.gz"
        if not archive.is_file():
            raise TrinoUnavailable(f"mvn did not leave {archive.name} after fetching {ARTIFACT}")
        _unpack(archive, staging)

    return fetch_once(install_dir(), ARTIFACT, TrinoUnavailable, fill)


def _java_major(home: Path) -> int:
    """The feature version of the JDK at `home`, from its `release` file (0 when it has none)."""
    try:
        text = (home / "release").read_text()
    except OSError:
        return 0
    found = re.search(r'^JAVA_VERSION="(\d+)', text, re.M)
    return int(found.group(1)) if found else 0


def java_home(env: Mapping[str, str] | None = None) -> Path:
    """The JDK Trino runs under: LAKEHOUSE_TRINO_JAVA_HOME, else the newest JDK of at least JAVA_MAJOR in
    /usr/lib/jvm. The platform's own Java (Spark, Kafka) is not changed."""
    env = os.environ if env is None else env
    named = env.get("LAKEHOUSE_TRINO_JAVA_HOME")
    if named:
        home = Path(named).expanduser()
        if not (home / "bin" / "java").is_file() or _java_major(home) < JAVA_MAJOR:
            raise TrinoUnavailable(f"LAKEHOUSE_TRINO_JAVA_HOME={named} is not a JDK {JAVA_MAJOR} or newer "
                                   f"(Trino {TRINO_VERSION} needs one)")
        return home
    found = sorted((h for h in (JVM_ROOT.iterdir() if JVM_ROOT.is_dir() else ())
                    if (h / "bin" / "java").is_file() and not h.is_symlink() and _java_major(h) >= JAVA_MAJOR),
                   key=_java_major)
    if not found:
        raise TrinoUnavailable(f"no JDK {JAVA_MAJOR} or newer in {JVM_ROOT} (Trino {TRINO_VERSION} needs one): "
                               "install one there or set LAKEHOUSE_TRINO_JAVA_HOME")
    return found[-1]


def glue_catalogs(region: str, endpoint: str | None = None, access_key: str | None = None,
                  secret_key: str | None = None) -> dict[str, dict[str, str]]:
    """`delta_lake` and `hive` catalogs over the Glue catalog and S3, as Athena reads them.

    With `endpoint` (a moto server), both Glue and S3 are spoken to there, S3 path-style; without keys, Trino
    uses the AWS default credential chain."""
    glue: dict[str, str] = {"hive.metastore": "glue", "hive.metastore.glue.region": region}
    s3: dict[str, str] = {"fs.native-s3.enabled": "true", "s3.region": region}
    if endpoint:
        glue["hive.metastore.glue.endpoint-url"] = endpoint
        s3.update({"s3.endpoint": endpoint, "s3.path-style-access": "true"})
    if access_key and secret_key:
        glue.update({"hive.metastore.glue.aws-access-key": access_key,
                     "hive.metastore.glue.aws-secret-key": secret_key})
        s3.update({"s3.aws-access-key": access_key, "s3.aws-secret-key": secret_key})
    return {
        "delta_lake": {"connector.name": "delta_lake", **glue, **s3},
        # the Delta tables of a Glue database are read by delta_lake; a query naming them in hive goes there
        "hive": {"connector.name": "hive", **glue, **s3, "hive.delta-lake-catalog-name": "delta_lake"},
    }


@dataclass
class TrinoServer:
    root: Path
    port: int
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return (self.root / "server.log").read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def wait_ready(self, timeout: float = 180, cancelled: Callable[[], bool] = lambda: False) -> "TrinoServer":
        """Wait until the server takes queries; a server that exits, takes too long or is cancelled is stopped
        and TrinoUnavailable raised with the end of its log."""
        deadline = time.monotonic() + timeout
        while not _ready(self.url):
            if cancelled():
                self.stop()
                raise TrinoUnavailable("Trino's start was cancelled")
            if self.process.poll() is not None or time.monotonic() > deadline:
                tail = self.log_tail()
                self.stop()
                raise TrinoUnavailable(f"Trino did not start within {timeout:g} s: {tail}")
            time.sleep(0.5)
        return self

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)  # it holds nothing: catalogs point at S3 and Glue
            self.process.wait(timeout=30)
        shutil.rmtree(self.root, ignore_errors=True)


def _properties(values: Mapping[str, str]) -> str:
    return "".join(f"{k}={v}\n" for k, v in values.items())


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/v1/info", timeout=2) as answer:
            return json.loads(answer.read()).get("starting") is False
    except (OSError, ValueError):
        return False


def start_trino(catalogs: Mapping[str, Mapping[str, str]], heap: str = "1G", port: int | None = None,
                timeout: float = 180, cancelled: Callable[[], bool] = lambda: False, wait: bool = True) -> TrinoServer:
    """A single-node Trino (coordinator and worker in one) with these catalogs; waits until it takes queries
    (or until `cancelled()`: then the server is stopped and TrinoUnavailable raised). With `wait=False` it
    returns at once: `server.wait_ready()` waits later (the JVM's minute of start can overlap other work)."""
    if not _installed():
        raise TrinoUnavailable(f"Trino {TRINO_VERSION} is not installed: run `make trino-deps` "
                               "(fetches it once with mvn)")
    jdk = java_home()
    root = Path(tempfile.mkdtemp(prefix="lh-trino-"))
    port = port or free_port()
    (root / "catalog").mkdir()
    for name, values in catalogs.items():
        (root / "catalog" / f"{name}.properties").write_text(_properties(values))
    (root / "config.properties").write_text(_properties({
        "coordinator": "true", "node-scheduler.include-coordinator": "true",
        "http-server.http.port": str(port),
        "discovery.uri": f"http://127.0.0.1:{port}",
        "catalog.config-dir": str(root / "catalog"), "plugin.dir": str(install_dir() / "plugin"),
        "query.max-memory": "512MB", "query.max-memory-per-node": "512MB",
        "task.concurrency": "2", "task.max-worker-threads": "4",  # small machines, shared with Spark
    }))
    (root / "log.properties").write_text("io.trino=WARN\nio.airlift=WARN\n")
    # the JIT's quick tier only (C1): a stand-in for Athena over a few tables spends more CPU compiling with C2
    # than querying (start + 20 small queries: 15 CPU-s instead of 25, the queries faster too)
    command = [
        str(jdk / "bin" / "java"), f"-Xmx{heap}", f"-Xms{heap}", "-XX:+UseG1GC", "-XX:+ExitOnOutOfMemoryError",
        "-XX:TieredStopAtLevel=1", "-XX:ReservedCodeCacheSize=256M", "-XX:+EnableDynamicAgentLoading",
        "-Djdk.attach.allowAttachSelf=true",
        "-Dfile.encoding=UTF-8", f"-Dnode.id={uuid.uuid4()}", "-Dnode.environment=lakehouse",
        "-Dnode.bind-ip=127.0.0.1", "-Dnode.internal-address=127.0.0.1",  # loopback only
        f"-Dnode.data-dir={root / 'data'}", f"-Dconfig={root / 'config.properties'}",
        f"-Dlog.levels-file={root / 'log.properties'}", f"-Dlog.output-file={root / 'server.log'}",
        "-cp", f"{install_dir() / 'lib'}/*", "io.trino.server.TrinoServer",
    ]
    env = {**os.environ, "JAVA_HOME": str(jdk)}
    log = open(root / "server.log", "ab")  # noqa: SIM115 (the child holds it; closed below)
    try:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=root, env=env,
                                   start_new_session=True)
    finally:
        log.close()
    server = TrinoServer(root, port, process)
    if wait:
        server.wait_ready(timeout, cancelled)
    return server


def main() -> int:
    """Fetch Trino (once) and print where it is: `make trino-deps`. What is missing is one line on stderr."""
    try:
        print(f"Trino {TRINO_VERSION} (connectors: {', '.join(PLUGINS)}) in {fetch()}; Java: {java_home()}")
    except TrinoUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
