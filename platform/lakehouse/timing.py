"""Seconds per phase of a step, recorded as `seconds.<phase>` materialization metadata.

They show in the Dagster UI beside each materialization, and `make bench` sums them to say how much of the
platform's time is reading (delta-rs -> Arrow -> Spark), transform + row rules, contract checks, the Spark ->
Arrow transfer, the Delta commit and catalog updates.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator


class Stopwatch:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, phase: str) -> Iterator[None]:
        began = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[phase] = self.seconds.get(phase, 0.0) + time.perf_counter() - began

    def metadata(self) -> dict[str, float]:
        return {f"seconds.{phase}": round(s, 3) for phase, s in self.seconds.items()}
