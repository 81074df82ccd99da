"""Anomaly checks: each metric of a partition against the same metric on the same weekday of the weeks before.

The baseline is robust on purpose: the median of the same weekday over the trailing WEEKS weeks (a monthly table:
the trailing WEEKS months), and the spread as the median absolute deviation scaled by 1.4826 (a normal
distribution's standard deviation). One bad day in the history, or the outlier a warn check let through last
week, moves neither, where a mean and a standard deviation would follow it. The expected band is
median +/- K x spread, the spread floored at MAD_FLOOR of the median so a flat history (every Monday the same
count) does not make a band of zero width. Comparing a Monday with Mondays keeps a weekly shape (quiet Sundays)
from reading as an anomaly. A metric with fewer than MIN_HISTORY same-weekday points is not judged: a new
table, or a metric a spec just started to record, passes until it has a history.

A spec sets per metric (a name or an fnmatch pattern) off, warn or block (`TableSpec.anomaly`); the defaults
(`TableSpec.anomaly_levels`) judge the row count: block on gold, warn elsewhere.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from fnmatch import fnmatchcase
from statistics import median
from typing import Mapping, Sequence

from lakehouse.model.spec import AnomalyLevel, TableSpec

WEEKS = 8  # same-weekday points looked back at (months, for a monthly table)
MIN_HISTORY = 3  # points needed before a metric is judged
K = 3.0  # band half-width in spreads
MAD_SCALE = 1.4826  # MAD -> standard deviation, for normally distributed values
MAD_FLOOR = 0.05  # the spread is at least this share of the median


BASELINE = (f"median +/- {K:g} MADs of the same weekday over the {WEEKS} weeks before (months, for a monthly "
            f"table); judged from {MIN_HISTORY} points")


def level_of(spec: TableSpec, metric: str) -> AnomalyLevel:
    """The level for `metric`: its own entry, else the last pattern matching it (the spec's come after the
    defaults), else off."""
    levels = spec.anomaly_levels
    if metric in levels:
        return levels[metric]
    matching = [level for pattern, level in levels.items() if fnmatchcase(metric, pattern)]
    return matching[-1] if matching else "off"


def baseline_days(spec: TableSpec, dt: str) -> list[str]:
    """The partitions a partition is compared with: the same weekday of the WEEKS weeks before (a monthly
    table: the WEEKS months before), newest first."""
    day = date.fromisoformat(dt)
    if spec.partitioning == "monthly":
        months = [(day.year * 12 + day.month - 1) - i for i in range(1, WEEKS + 1)]
        return [date(m // 12, m % 12 + 1, 1).isoformat() for m in months]
    return [(day - timedelta(weeks=i)).isoformat() for i in range(1, WEEKS + 1)]


def band(values: Sequence[float]) -> tuple[float, float, float]:
    """(median, low, high) of the expected band around `values`."""
    middle = median(values)
    spread = max(MAD_SCALE * median(abs(v - middle) for v in values), MAD_FLOOR * abs(middle))
    return middle, middle - K * spread, middle + K * spread


@dataclass(frozen=True)
class Judgement:
    table: str
    dt: str
    metric: str
    level: AnomalyLevel
    value: float | None
    history: tuple[tuple[str, float], ...]  # (dt, value) of the baseline, newest first
    median: float | None = None
    low: float | None = None
    high: float | None = None
    baseline: str = ""  # what the history is, in words: "earlier Mondays", "months before"

    @property
    def judged(self) -> bool:
        return self.value is not None and self.low is not None

    @property
    def outlier(self) -> bool:
        return self.judged and not self.low <= self.value <= self.high

    @property
    def blocks(self) -> bool:
        return self.outlier and self.level == "block"

    def metadata(self) -> dict:
        """JSON-able: which metric, its value, the expected band and the history it came from."""
        out: dict = {"dt": self.dt, "metric": self.metric, "level": self.level, "value": self.value,
                     "history": {d: v for d, v in self.history}}
        if self.judged:
            out.update(median=round(self.median, 6), expected_low=round(self.low, 6),
                       expected_high=round(self.high, 6), outlier=self.outlier)
        else:
            out["not_judged"] = f"{len(self.history)} of {MIN_HISTORY} same-weekday points in the history"
        return out

    def summary(self) -> str:
        return (f"{self.table} {self.dt}: {self.metric} = {self.value:g}, expected {self.low:g}..{self.high:g} "
                f"(median {self.median:g} of {len(self.history)} {self.baseline})")




def judged_metrics(spec: TableSpec, metrics: Mapping[str, Mapping[str, float | None]]) -> tuple[list[str], list[str]]:
    """(the baseline days, the metric names) a batch's judgement needs from the history: what to read."""
    names = sorted({m for day in metrics.values() for m in day if level_of(spec, m) != "off"})
    days = sorted({d for dt in metrics for d in baseline_days(spec, dt)}) if names else []
    return days, names


def judge(spec: TableSpec, metrics: Mapping[str, Mapping[str, float | None]],
          history: Mapping[tuple[str, str], float | None]) -> list[Judgement]:
    """Every metric of every partition of a batch whose level is not off, against its baseline in `history`
    ({(dt, metric): value}, the newest value of each)."""
    out = []
    for dt, day in sorted(metrics.items()):
        words = "months before" if spec.partitioning == "monthly" else f"earlier {date.fromisoformat(dt):%A}s"
        for metric, value in sorted(day.items()):
            level = level_of(spec, metric)
            if level == "off":
                continue
            past = tuple((d, float(history[(d, metric)])) for d in baseline_days(spec, dt)
                         if history.get((d, metric)) is not None)
            if value is None or len(past) < MIN_HISTORY:
                out.append(Judgement(spec.id, dt, metric, level, value, past, baseline=words))
                continue
            middle, low, high = band([v for _, v in past])
            out.append(Judgement(spec.id, dt, metric, level, float(value), past, middle, low, high, words))
    return out
