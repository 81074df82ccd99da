"""A Trino server for the tests: lakehouse.dev.trino_server started once per session on 127.0.0.1, its
`delta_lake` and `hive` catalogs on the session's moto server (Glue metastore and S3, path-style).

`make test` fetches Trino first (`make trino-deps`); a test run without it fetches it here, so a fresh machine
with Maven runs these tests instead of skipping them. Test modules take the fixture with
`from trino_server import *`.
"""
from __future__ import annotations

import pytest

__all__ = ["trino", "trino_starting"]

from lakehouse.dev.trino_server import fetch, glue_catalogs, start_trino


@pytest.fixture(scope="session")
def trino_starting(moto_server):
    """The server, its JVM started but maybe not taking queries yet: a fixture that publishes tables takes this
    one, so Trino's minute of start overlaps the publish."""
    fetch()
    server = start_trino(glue_catalogs("us-east-1", moto_server[1], "testing", "testing"), wait=False)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def trino(trino_starting):
    """The server, taking queries."""
    return trino_starting.wait_ready()
