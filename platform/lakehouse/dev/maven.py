"""Fetching a local server's JARs from Maven Central once, with Maven, into a cache folder.

All or nothing: the files are fetched into a scratch folder beside the target, renamed into place, and only then
marked `.complete`, so an interrupted fetch never looks installed and the next call starts over.
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Callable

COMPLETE = ".complete"


def is_complete(target: Path) -> bool:
    return (target / COMPLETE).is_file()


def fetch_once(target: Path, artifact: str, unavailable: type[Exception], fill: Callable[[Callable, Path, Path], None],
               ) -> Path:
    """`target` once `fill(mvn, work, staging)` has put its files in `staging` (calling `mvn(args, timeout)`
    from the scratch folder `work`); `unavailable` says what is missing, naming `artifact`."""
    if is_complete(target):
        return target
    executable = shutil.which("mvn")
    if not executable:
        raise unavailable(f"Maven (mvn) is needed once to fetch {artifact}: install it (apt-get install maven)")
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}-fetch-", dir=target.parent))  # same disk: atomic rename

    def mvn(args: list[str], timeout: float) -> None:
        done = subprocess.run([executable, "-q", "-B", *args], cwd=work, capture_output=True, text=True,
                              timeout=timeout)
        if done.returncode != 0:
            raise unavailable(f"mvn could not fetch {artifact}: {(done.stdout + done.stderr).strip()[-800:]}")

    try:
        staging = work / "staging"
        fill(mvn, work, staging)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
        (target / COMPLETE).touch()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target
