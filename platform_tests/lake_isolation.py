"""The suite's own lake: everything a test could write by default goes under one temporary folder.

`make` exports LAKEHOUSE_HOME=./.lakehouse, DAGSTER_HOME=. and LAKEHOUSE_DAGSTER_STORAGE for `make dev`; a test
that falls back to the defaults (a run on the persistent Dagster instance, `lakehouse keys add`, sample files)
would write into the checkout's own lake and run history. conftest.py calls `isolate()` when pytest imports it,
before any test or fixture runs; tests that want a home of their own still monkeypatch theirs.
"""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import MutableMapping
from pathlib import Path

# Locations that default to a place under LAKEHOUSE_HOME: unset, they follow the temporary home (and a test
# that sets its own LAKEHOUSE_HOME gets its own key file, as a user's would).
DERIVED_FROM_HOME = ("LAKEHOUSE_WAREHOUSE", "LAKEHOUSE_LANDING", "LAKEHOUSE_GLUE_PREFIX",
                     "LAKEHOUSE_SERVE_KEYS", "LAKEHOUSE_SERVE_AUDIT")


def isolate(env: MutableMapping[str, str] = os.environ) -> Path:
    """Point the lake's and Dagster's homes at a new temporary folder (removed at exit) and return it."""
    root = Path(tempfile.mkdtemp(prefix="lakehouse-tests-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    dagster_home = root / "dagster_home"
    dagster_home.mkdir()
    # A Dagster home with telemetry off: without DAGSTER_HOME, Dagster leaves .telemetry/ in the working directory.
    (dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env["LAKEHOUSE_HOME"] = str(root / "lakehouse")
    env["DAGSTER_HOME"] = str(dagster_home)
    env["LAKEHOUSE_DAGSTER_STORAGE"] = str(root / "lakehouse" / "dagster")
    for var in DERIVED_FROM_HOME:
        env.pop(var, None)
    return root
