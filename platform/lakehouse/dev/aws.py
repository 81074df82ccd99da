"""`make dev-aws`: the Dagster UI against a local moto server (S3 + Glue + Athena APIs) on 127.0.0.1, with a
Trino server beside it reading the Glue tables (lakehouse query --engine trino).

moto keeps state in memory only: this is for trying the AWS code path, never a home for data you keep.
Like `make dev`, runs attach to one warm Spark Connect server (lakehouse.dev.dagster_dev). The Dagster storage
is the warehouse's own (.lakehouse/dagster-aws, never `make dev`'s): it is emptied at each start, because each
start's moto bucket is new and empty, and a storage that remembers partitions S3 lacks makes automation
publish gold from missing upstreams.
"""
from __future__ import annotations

import os
import secrets
import subprocess
import sys
import threading
from pathlib import Path

from lakehouse.dev.ports import free_port


def start_moto(port: int | None = None, log: Path | None = None) -> tuple[subprocess.Popen, str]:
    """Start `moto_server` in its own process on 127.0.0.1 and wait until it answers; its output goes to `log`
    (else nowhere: it logs every request).

    Its own process, not a thread: delta-rs holds the caller's thread while it waits for S3.
    """
    import time
    import urllib.request

    port = port or free_port()
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 (the child holds it; closed below)
    try:
        process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                   stdout=out, stderr=subprocess.STDOUT)
    finally:
        if log:
            out.close()
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1)
            return process, endpoint
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"moto server exited with code {process.returncode}")
            time.sleep(0.2)
    process.terminate()
    raise RuntimeError(f"moto server did not answer on {endpoint} within 30s")


def main() -> int:
    import boto3

    server, endpoint = start_moto(int(os.environ["MOTO_PORT"]) if os.environ.get("MOTO_PORT") else None)
    bucket = os.environ.get("LAKEHOUSE_DEV_BUCKET", "lakehouse-dev")
    env = dict(os.environ)
    env.update(
        AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
        AWS_REGION="us-east-1", AWS_DEFAULT_REGION="us-east-1",
        LAKEHOUSE_WAREHOUSE=f"s3://{bucket}/warehouse", LAKEHOUSE_LANDING=f"s3://{bucket}/landing",
        LAKEHOUSE_GLUE_PREFIX=env.get("LAKEHOUSE_GLUE_PREFIX", "dev"),
        # an in-memory moto bucket holds nothing to protect, but the warehouse is off the local disk, where
        # the development salt is refused: a salt of its own, random per start
        LAKEHOUSE_PII_SALT=env.get("LAKEHOUSE_PII_SALT") or secrets.token_hex(16),
    )
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                 aws_access_key_id="testing", aws_secret_access_key="testing").create_bucket(Bucket=bucket)
    print(f"moto server (S3, Glue, Athena) at {endpoint}; warehouse s3://{bucket}/warehouse")
    print(f"land sample data from another shell with:\n  AWS_ENDPOINT_URL={endpoint} AWS_ACCESS_KEY_ID=testing "
          f"AWS_SECRET_ACCESS_KEY=testing LAKEHOUSE_LANDING=s3://{bucket}/landing .venv/bin/lakehouse land")
    from lakehouse.dev.dagster_dev import run

    env.setdefault("LAKEHOUSE_DAGSTER_STORAGE", str(Path(env.get("LAKEHOUSE_HOME") or ".lakehouse") / "dagster-aws"))
    trino = TrinoBeside(endpoint, env)
    try:
        # the moto endpoint names this start's bucket: a storage of an earlier start describes a bucket now gone
        return run(env, warehouse_id=f"{env['LAKEHOUSE_WAREHOUSE']} on moto {endpoint}", reset_storage=True)
    finally:
        trino.stop()
        server.terminate()
        server.wait(10)


class TrinoBeside:
    """A Trino server on moto's Glue and S3, started in the background (it takes a minute) so a person can query
    the Glue tables as Athena would: LAKEHOUSE_TRINO_URL in `env` points at it. Without Trino (`make trino-deps`)
    or a new enough JDK, one line says why and the rest runs on."""

    def __init__(self, endpoint: str, env: dict[str, str]):

        self.endpoint, self.port = endpoint, free_port()
        env["LAKEHOUSE_TRINO_URL"] = f"http://127.0.0.1:{self.port}"
        self.shell = " ".join(f"{k}={env[k]}" for k in (
            "LAKEHOUSE_TRINO_URL", "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
            "LAKEHOUSE_WAREHOUSE", "LAKEHOUSE_GLUE_PREFIX"))
        self.server, self.stopping = None, threading.Event()
        self.thread = threading.Thread(target=self._start, daemon=True, name="trino")
        self.thread.start()

    def _start(self) -> None:
        from lakehouse.dev.trino_server import TrinoUnavailable, glue_catalogs, start_trino

        try:
            self.server = start_trino(glue_catalogs("us-east-1", self.endpoint, "testing", "testing"), port=self.port,
                                      cancelled=self.stopping.is_set)
        except TrinoUnavailable as exc:
            if not self.stopping.is_set():
                print(f"Trino not started: {str(exc).splitlines()[0]}", flush=True)
            return
        print(f"Trino (the engine of Athena v3) on the Glue tables at {self.server.url}; once tables are "
              f"published, query them with\n  {self.shell} .venv/bin/lakehouse query --engine trino "
              "\"SELECT count(*) FROM silver.orders\"", flush=True)

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=30)  # a start under way stops its server itself
        if self.server is not None:
            self.server.stop()


if __name__ == "__main__":
    sys.exit(main())
