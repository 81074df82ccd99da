"""`make deps-latest`: the newest versions setup.py allows, against the lock, in a throwaway venv.

It builds build/deps-latest/venv from setup.py's ranges with [dev] (no lock, no lock-holds.txt), prints every
package whose version differs from requirements.lock, then runs one test per integration there and says which
broke. A report for whoever updates the lock (`make lock LOCK_ARGS=--upgrade`): it never touches .venv, and
its exit code is 1 only when a smoke test failed. Runs from a checkout (it needs setup.py and platform_tests).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[3]
WORK = REPO / "build" / "deps-latest"

# One test per integration, each through the real component (the node ids are checked by test_deps_latest.py).
SMOKE = {
    "Spark + Delta through a Dagster run": "test_bronze_e2e.py::test_bronze_two_days_in_one_run_on_local_disk",
    "S3A to moto, Glue entries": "test_bronze_e2e.py::test_bronze_on_s3_registers_glue_tables",
    "delta-rs to moto S3, Glue": "test_glue_catalog.py::test_delta_table_entry",
    "Athena on moto": "test_query.py::test_athena_query_is_transpiled_run_and_typed",
    "DuckDB over the published tables": "test_query.py::test_dt_filter_reads_only_that_partition",
    "Kafka broker and Spark's Kafka source": "test_kafka.py::test_kafka_ingest_exactly_once_with_quarantine_and_late_days",
    "PostgreSQL export": "test_billing.py::test_export_streams_bounded_batches_and_full_mode",
    "the service over HTTP": "test_service.py::test_python_dash_m_lakehouse_service_listens_on_127_0_0_1_at_the_configured_port",
    "the service's Athena engine": "test_service.py::test_the_athena_engine_over_http",
    "schemathesis under pytest-xdist": "test_service_openapi.py::test_every_answer_is_one_the_document_declares",
}

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


def locked_versions(lock_text: str, marker_env: dict[str, str] | None = None) -> dict[str, str]:
    """{normalized name: version} of the lock's pins that apply here (a universal lock may pin one package twice
    under different markers)."""
    out = {}
    for line in lock_text.splitlines():
        match = _PIN.match(line.strip())
        if not match:
            continue
        name, version, marker = match.groups()
        if marker and not Requirement(f"{name}; {marker}").marker.evaluate(marker_env):
            continue
        out[canonicalize_name(name)] = version
    return out


def holds(holds_text: str) -> dict[str, Requirement]:
    """lock-holds.txt's requirements by normalized name (comments and blank lines skipped)."""
    out = {}
    for line in holds_text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            req = Requirement(line)
            out[canonicalize_name(req.name)] = req
    return out


@dataclass(frozen=True)
class Drift:
    moved: list[tuple[str, str, str, str]]  # (name, locked, latest, note)
    added: list[tuple[str, str]]  # (name, latest): not in the lock
    dropped: list[tuple[str, str]]  # (name, locked): no longer installed


def drift(locked: dict[str, str], latest: dict[str, str], held: dict[str, Requirement]) -> Drift:
    moved = []
    for name in sorted(set(locked) & set(latest)):
        if locked[name] != latest[name]:
            req = held.get(name)
            note = f"held back by lock-holds.txt ({req})" if req and latest[name] not in req.specifier else ""
            moved.append((name, locked[name], latest[name], note))
    return Drift(moved=moved,
                 added=[(n, latest[n]) for n in sorted(set(latest) - set(locked))],
                 dropped=[(n, locked[n]) for n in sorted(set(locked) - set(latest))])


def drift_lines(d: Drift) -> list[str]:
    lines = [f"packages that moved against requirements.lock: {len(d.moved)}"]
    lines += [f"  {name}: {old} -> {new}" + (f"   {note}" if note else "") for name, old, new, note in d.moved]
    if d.added:
        lines.append("new, not in the lock: " + ", ".join(f"{n} {v}" for n, v in d.added))
    if d.dropped:
        lines.append("in the lock, no longer needed: " + ", ".join(f"{n} {v}" for n, v in d.dropped))
    return lines


def smoke_results(junit_xml: Path) -> dict[str, tuple[str, str]]:
    """{file::test: (outcome, first line of the reason)} from pytest's JUnit XML (parametrized ids folded, the
    worst outcome kept)."""
    out: dict[str, tuple[str, str]] = {}
    for case in ET.parse(junit_xml).iter("testcase"):
        node = case.get("classname", "").rsplit(".", 1)[-1] + ".py::" + case.get("name", "").split("[", 1)[0]
        problem = next((c for c in case if c.tag in ("failure", "error", "skipped")), None)
        if problem is None:
            out.setdefault(node, ("passed", ""))
            continue
        outcome = {"failure": "FAILED", "error": "ERROR", "skipped": "SKIPPED"}[problem.tag]
        reason = (problem.get("message") or problem.text or "").strip().splitlines()
        out[node] = (outcome, reason[0][:300] if reason else "")
    return out


def _session_error(log: str) -> str:
    """Why pytest ran nothing (a collection error, a refused session), from its output."""
    lines = [line.strip("! ") for line in log.splitlines() if line.startswith(("! ", "ERROR ", "E   "))]
    return lines[0][:300] if lines else "no result: see the log"


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    print("$", " ".join(str(a) for a in args), flush=True)
    return subprocess.run(args, check=True, **kwargs)


def build_venv() -> Path:
    """A new venv with the newest versions setup.py's ranges allow (this checkout installed editable)."""
    venv = WORK / "venv"
    shutil.rmtree(venv, ignore_errors=True)
    uv = [sys.executable, "-m", "uv"]
    _run([*uv, "venv", "--quiet", "--python", sys.executable, str(venv)])
    python = venv / "bin" / "python"
    _run([*uv, "pip", "install", "--quiet", "--python", str(python), "--resolution", "highest",
          "-e", f"{REPO}[dev]"])
    _run([str(python), "-m", "lakehouse.engine.jars"], cwd=REPO)  # the JARs of its pyspark, if that moved
    return python


def main() -> int:
    if not (REPO / "setup.py").is_file() or not (REPO / "platform_tests").is_dir():
        print(f"error: deps-latest runs from a checkout; no setup.py and platform_tests under {REPO}", file=sys.stderr)
        return 2
    WORK.mkdir(parents=True, exist_ok=True)
    python = build_venv()
    listed = subprocess.run([sys.executable, "-m", "uv", "pip", "list", "--python", str(python), "--format", "json"],
                            check=True, capture_output=True, text=True).stdout
    latest = {canonicalize_name(p["name"]): p["version"] for p in json.loads(listed) if p["name"] != "lakehouse"}
    report = drift(locked_versions((REPO / "requirements.lock").read_text()), latest,
                   holds((REPO / "lock-holds.txt").read_text()))

    junit = WORK / "smoke.xml"
    junit.unlink(missing_ok=True)
    nodes = [f"platform_tests/{node}" for node in SMOKE.values()]
    env = {**os.environ, "SERVICE_FUZZ_EXAMPLES": "5"}  # a few cases per operation are enough to smoke it
    smoke = subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2", "--dist", "loadfile",
                            f"--junitxml={junit}", *nodes], cwd=REPO, env=env, capture_output=True, text=True)
    (WORK / "smoke.log").write_text(smoke.stdout + smoke.stderr)
    results = smoke_results(junit) if junit.is_file() else {}

    print("\n== deps-latest: setup.py's newest allowed versions, against requirements.lock ==")
    print("\n".join(drift_lines(report)))
    print(f"\nsmoke test, one per integration, in {python.parent.parent.relative_to(REPO)}:")
    broken = []
    for integration, node in SMOKE.items():
        outcome, reason = results.get(node, ("NOT RUN", _session_error(smoke.stdout + smoke.stderr)))
        if outcome != "passed":
            broken.append(integration)
        print(f"  {outcome:7} {integration}: {node}" + (f"\n          {reason}" if reason else ""))
    print(f"\nlog: {(WORK / 'smoke.log').relative_to(REPO)}")
    if broken:
        print(f"deps-latest: {len(report.moved)} packages moved; broke: {', '.join(broken)}")
        return 1
    print(f"deps-latest: {len(report.moved)} packages moved; every smoke test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
