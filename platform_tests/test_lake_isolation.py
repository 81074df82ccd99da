"""The suite leaves the checkout's own lake alone, whatever `make` exports (lake_isolation.py, called by conftest)."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# A test as the suite's Dagster-using tests write by default: a run on the instance DAGSTER_HOME names (as
# instance_for_runs gives the command line), sample files under the lakehouse home, an API key.
PROBE = '''
import uuid

from lakehouse import cli
from lakehouse.config import Settings
from lakehouse.runs import instance_for_runs


def test_writes_where_the_environment_says():
    from dagster import job, op

    @op
    def noop():
        return 1

    @job
    def probe():
        noop()

    instance = instance_for_runs(Settings.from_env())
    assert probe.execute_in_process(instance=instance).success
    assert instance.get_runs_count() >= 1, "the run was not recorded: the probe would prove nothing"
    assert cli.main(["land", "--domain", "commerce", "--days", "1", "--rows", "5"]) == 0
    assert cli.main(["keys", "add", f"probe-{uuid.uuid4().hex[:8]}"]) == 0
'''


def _tree_digest(root: Path) -> dict[str, str]:
    """{relative path: sha256 of its bytes ('dir' for a folder)} of everything under root."""
    return {str(p.relative_to(root)): "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*"))}


def _pytest_as_make_test(checkout: Path, probe_dir: Path, *plugins: str) -> subprocess.CompletedProcess:
    lake = checkout / ".lakehouse"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "LAKEHOUSE_", "DAGSTER_"))}
    env.update({  # what the Makefile exports, and service files a user may have pointed into the lake
        "LAKEHOUSE_HOME": str(lake), "DAGSTER_HOME": str(checkout), "LAKEHOUSE_DAGSTER_STORAGE": str(lake / "dagster"),
        "LAKEHOUSE_SERVE_KEYS": str(lake / "service" / "keys.json"),
        "LAKEHOUSE_SERVE_AUDIT": str(lake / "service" / "audit.jsonl"),
        "PYTHONPATH": os.pathsep.join([str(REPO / "platform"), str(REPO / "platform_tests")])})
    plugin_args = [arg for name in plugins for arg in ("-p", name)]
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *plugin_args,
                           "-c", str(probe_dir / "pytest.ini"), str(probe_dir / "test_probe.py")],
                          cwd=checkout, env=env, capture_output=True, text=True, timeout=300)


def test_a_session_under_makes_environment_leaves_the_checkouts_lake_byte_identical(tmp_path):
    """Control first: without the suite's conftest, the probe writes into the checkout's .lakehouse (so this
    test would fail if the isolation were gone). Then the same session with the conftest loaded, as `make test`
    loads it: the lake, now holding Dagster's storage, a run, landed files and a key, is byte for byte the same."""
    checkout, probe_dir = tmp_path / "checkout", tmp_path / "probe"
    checkout.mkdir()
    probe_dir.mkdir()
    shutil.copy(REPO / "dagster.yaml", checkout / "dagster.yaml")  # DAGSTER_HOME=$(CURDIR) reads the repo's
    (checkout / ".lakehouse" / "landing").mkdir(parents=True)
    (probe_dir / "pytest.ini").write_text("[pytest]\n")
    (probe_dir / "test_probe.py").write_text(PROBE)
    prepared = _tree_digest(checkout)

    control = _pytest_as_make_test(checkout, probe_dir)
    assert control.returncode == 0, control.stdout[-3000:] + control.stderr[-3000:]
    written = _tree_digest(checkout)
    assert written != prepared
    lake = checkout / ".lakehouse"
    assert (lake / "dagster").is_dir() and (lake / "service" / "keys.json").is_file()
    assert any(p.is_file() for p in (lake / "landing").rglob("*"))

    isolated = _pytest_as_make_test(checkout, probe_dir, "conftest")
    assert isolated.returncode == 0, isolated.stdout[-3000:] + isolated.stderr[-3000:]
    assert "1 passed" in isolated.stdout
    assert _tree_digest(checkout) == written
