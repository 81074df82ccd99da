"""Run a few long-lived processes as one: a signal to the supervisor stops them all, and so does any exit.

Why a supervisor: `make dev` started in the background (`make dev &`) inherits SIGINT as *ignored*, and an
ignored signal stays ignored across exec, so `dagster dev` and the webserver/daemon it starts could not be
interrupted and needed SIGKILL. The supervisor handles SIGINT/SIGTERM/SIGHUP itself (children then start
with the default action again) and stops each child in its own way.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from typing import Callable

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@dataclass
class Child:
    name: str
    process: subprocess.Popen
    stop: Callable[[], None]


def stop_group(process: subprocess.Popen, first: int = signal.SIGINT, timeout: float = 30) -> None:
    """`first` to the child's process group (as Ctrl-C would), SIGTERM then SIGKILL if it lingers."""
    for sig, wait in ((first, timeout), (signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        if process.poll() is not None:
            return
        try:
            os.killpg(process.pid, sig)  # a group this supervisor created (process_group=0)
        except ProcessLookupError:
            return
        try:
            process.wait(wait)
        except subprocess.TimeoutExpired:
            continue


@dataclass
class Supervisor:
    children: list[Child] = field(default_factory=list)
    stopping: int | None = None  # the signal that asked to stop

    def __post_init__(self) -> None:
        for sig in STOP_SIGNALS:  # installed before any child starts: children get the default action
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum, frame) -> None:
        self.stopping = signum

    def start(self, name: str, command: list[str], env: dict[str, str]) -> Child:
        """Start `command` in a process group of its own, so a terminal's Ctrl-C reaches it once, through here."""
        process = subprocess.Popen(command, env=env, process_group=0)
        child = Child(name, process, lambda: stop_group(process))
        self.children.append(child)
        return child

    def adopt(self, name: str, process: subprocess.Popen, stop: Callable[[], None]) -> None:
        self.children.append(Child(name, process, stop))

    def wait(self) -> int:
        """Until a signal comes or a child exits; then stop every child, the last started first."""
        code = 0
        try:
            while self.stopping is None:
                ended = next((c for c in self.children if c.process.poll() is not None), None)
                if ended is not None:
                    code = ended.process.returncode
                    print(f"{ended.name} exited with code {code}; stopping the rest", flush=True)
                    break
                time.sleep(0.5)
        finally:
            self.stop_all()
        return code

    def stop_all(self) -> None:
        for child in reversed(self.children):
            child.stop()
