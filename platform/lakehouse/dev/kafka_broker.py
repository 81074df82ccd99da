"""A throwaway Apache Kafka broker for development and tests: KRaft mode, one JVM, 127.0.0.1, no Docker.

`fetch()` (run by `make kafka-deps`) copies `org.apache.kafka:kafka_2.13` and its runtime dependencies from
Maven Central into ~/.cache/lakehouse/kafka/<version> once, with Maven's dependency plugin on a generated
pom. `start_kafka()` formats KRaft storage in a temp dir and starts `kafka.Kafka` as a combined broker +
controller on free ports; `stop()` kills it and removes the dir. `python -m lakehouse.dev.kafka_broker`
(`make dev-kafka`) starts one, creates the topic, produces sample click events and prints the settings.
"""
from __future__ import annotations

import base64
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from lakehouse.dev.maven import fetch_once, is_complete
from lakehouse.dev.ports import free_port

KAFKA_VERSION = "4.1.1"
ARTIFACT = f"org.apache.kafka:kafka_2.13:{KAFKA_VERSION}"
POM = """<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
<groupId>lakehouse.dev</groupId><artifactId>kafka-broker</artifactId><version>1</version>
<dependencies><dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId>
<version>{version}</version></dependency></dependencies></project>
"""


class KafkaUnavailable(RuntimeError):
    pass


def lib_dir() -> Path:
    return Path.home() / ".cache" / "lakehouse" / "kafka" / KAFKA_VERSION / "lib"


def _installed() -> bool:
    return (lib_dir() / f"kafka_2.13-{KAFKA_VERSION}.jar").is_file() and is_complete(lib_dir())


def fetch() -> Path:
    """Copy the broker's JARs from Maven Central once (Maven must be on PATH)."""
    def fill(mvn, work: Path, staging: Path) -> None:
        (work / "pom.xml").write_text(POM.format(version=KAFKA_VERSION))
        mvn(["dependency:copy-dependencies", "-DincludeScope=runtime", f"-DoutputDirectory={staging}"], timeout=900)

    return fetch_once(lib_dir(), ARTIFACT, KafkaUnavailable, fill)


def _cluster_id() -> str:
    """Kafka's Uuid.toString form. Like Kafka's own Uuid.randomUuid, never one starting with '-': the storage
    tool would read it as an option (1 id in 64)."""
    while (cluster := base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")).startswith("-"):
        pass
    return cluster


@dataclass
class KafkaBroker:
    root: Path
    port: int
    process: subprocess.Popen

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)  # a throwaway broker: nothing to flush
            self.process.wait(timeout=30)
        shutil.rmtree(self.root, ignore_errors=True)


def _properties(root: Path, port: int, controller: int) -> str:
    return "\n".join([
        "process.roles=broker,controller", "node.id=1",
        f"controller.quorum.voters=1@127.0.0.1:{controller}",
        f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}",
        f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names=CONTROLLER", "inter.broker.listener.name=PLAINTEXT",
        "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        f"log.dirs={root / 'data'}", "num.partitions=3", "auto.create.topics.enable=false",
        "offsets.topic.replication.factor=1", "offsets.topic.num.partitions=3",
        "transaction.state.log.replication.factor=1", "transaction.state.log.min.isr=1",
        "share.coordinator.state.topic.replication.factor=1", "share.coordinator.state.topic.min.isr=1",
        "group.initial.rebalance.delay.ms=0", "log.retention.ms=-1",  # old event times must not expire at once
        # the generator sends late events with their old event time as the record timestamp
        "log.message.timestamp.before.max.ms=9223372036854775807",
        "log.message.timestamp.after.max.ms=9223372036854775807",
    ]) + "\n"


def admin(bootstrap: str):
    from confluent_kafka.admin import AdminClient

    return AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})  # errors surface as exceptions


def _ready(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        admin(f"127.0.0.1:{port}").list_topics(timeout=5)
        return True
    except Exception:  # not accepting requests yet
        return False


def start_kafka(timeout: float = 90) -> KafkaBroker:
    libs = lib_dir()
    if not _installed():
        raise KafkaUnavailable(f"{ARTIFACT} is not installed: run `make kafka-deps` (fetches it once with mvn)")
    java = shutil.which("java") or str(Path(os.environ.get("JAVA_HOME", "/usr")) / "bin" / "java")
    root = Path(tempfile.mkdtemp(prefix="lh-kafka-"))
    port, controller = free_port(), free_port()
    props = root / "server.properties"
    props.write_text(_properties(root, port, controller))
    # the JIT's quick tier only: a local broker's start and 100k messages took 3 CPU-s instead of 5
    base = [java, "-Xms128m", "-Xmx384m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Djava.awt.headless=true",
            "-cp", f"{libs}/*"]
    done = subprocess.run([*base, "kafka.tools.StorageTool", "format", "-t", _cluster_id(), "-c", str(props)],
                          capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        raise KafkaUnavailable(f"formatting KRaft storage failed: {(done.stdout + done.stderr).strip()[-800:]}")
    log = open(root / "server.log", "wb")
    process = subprocess.Popen([*base, "kafka.Kafka", str(props)], stdout=log, stderr=subprocess.STDOUT,
                               cwd=root, start_new_session=True)
    broker = KafkaBroker(root, port, process)
    deadline = time.monotonic() + timeout
    while not _ready(port):
        if process.poll() is not None or time.monotonic() > deadline:
            tail = (root / "server.log").read_text(errors="replace")[-1500:]
            broker.stop()
            raise KafkaUnavailable(f"the Kafka broker did not start: {tail}")
        time.sleep(0.5)
    return broker


def create_topic(bootstrap: str, topic: str, partitions: int = 3) -> None:
    from confluent_kafka.admin import NewTopic

    client = admin(bootstrap)  # held until the future resolves: a collected client cancels its requests
    futures = client.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)],
                                   operation_timeout=30)
    futures[topic].result(timeout=60)


def main() -> int:
    from datetime import date, timedelta

    from lakehouse.dev.kafka_events import produce_clicks

    fetch()
    broker = start_kafka()
    try:
        create_topic(broker.bootstrap, "clicks")
        sent = produce_clicks(broker.bootstrap, "clicks", date.today() - timedelta(days=2), days=3, sessions=200)
        print(f"Kafka {KAFKA_VERSION} on {broker.bootstrap} (data in {broker.root}); topic clicks has "
              f"{sent.messages} sample messages ({sent.late} late, {sent.malformed} malformed).\n"
              f"  export LAKEHOUSE_KAFKA_BOOTSTRAP={broker.bootstrap} LAKEHOUSE_KAFKA_TOPIC=clicks\n"
              "then `make dev` (the kafka_sensor requests bronze.events_kafka). Ctrl-C stops the broker.", flush=True)
        while broker.process.poll() is None:
            time.sleep(1)
        print("the broker exited", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        broker.stop()


if __name__ == "__main__":
    raise SystemExit(main())
