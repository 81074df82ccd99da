"""`lakehouse quality TABLE`: each metric's recent history from ops.partition_metrics, with the band each partition
was (or would be) judged by and the outliers marked, as a line of text per metric."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from fnmatch import fnmatchcase

from lakehouse.config import Settings
from lakehouse.model.spec import TableSpec
from lakehouse.quality import history
from lakehouse.quality.anomaly import judge, level_of

BARS = "▁▂▃▄▅▆▇█"


@dataclass
class Point:
    dt: str
    value: float | None
    low: float | None = None  # the band from the partition's own baseline (None: not enough history)
    high: float | None = None
    outlier: bool = False


@dataclass
class MetricHistory:
    metric: str
    level: str  # off, warn or block
    points: list[Point]  # oldest first, one per partition shown (value None where it was not recorded)

    @property
    def outliers(self) -> list[Point]:
        return [p for p in self.points if p.outlier]

    @property
    def latest(self) -> Point:
        return next(p for p in reversed(self.points) if p.value is not None)


def metric_histories(settings: Settings, spec: TableSpec, days: int = 28, pattern: str | None = None
                     ) -> list[MetricHistory]:
    """The last `days` recorded partitions of each metric (those matching `pattern`), judged metrics first."""
    values = history.current(history.read(settings, history.PARTITION_METRICS, spec.id))
    recent = sorted({dt for dt, _ in values})[-days:]
    names = sorted({m for _, m in values if pattern is None or fnmatchcase(m, pattern)},
                   key=lambda m: (level_of(spec, m) == "off", m))
    out = []
    for metric in names:
        points = []
        for dt in recent:
            if values.get((dt, metric)) is None:
                points.append(Point(dt, None))  # a gap, so every metric's chart lines up by partition
                continue
            judged = judge(_judging_all(spec), {dt: {metric: values[(dt, metric)]}}, values)
            j = judged[0] if judged else None
            points.append(Point(dt, values[(dt, metric)], j.low if j else None, j.high if j else None,
                                bool(j and j.outlier)))
        out.append(MetricHistory(metric, level_of(spec, metric), points))
    return out


def _judging_all(spec: TableSpec) -> TableSpec:
    """The spec with every metric judged (at least warned), to show a band for the ones it leaves off too."""
    from dataclasses import replace

    return replace(spec, anomaly={"*": "warn", **spec.anomaly_levels})


def sparkline(points: list[Point]) -> str:
    """One bar per partition, from zero (or the lowest value, when one is negative) to the highest value shown,
    so that 27 rows against 28 look alike; outliers in red (rich markup)."""
    values = [p.value for p in points if p.value is not None]
    if not values:
        return ""
    low, high = min(min(values), 0.0), max(values)
    bars = []
    for p in points:
        if p.value is None:
            bars.append(" ")
            continue
        bar = BARS[round((p.value - low) / (high - low) * (len(BARS) - 1)) if high > low else len(BARS) // 2]
        bars.append(f"[bold red]{bar}[/bold red]" if p.outlier else bar)
    return "".join(bars)


def shown(spec: TableSpec, metric: str, value: float | None) -> str:
    """A value as a person reads it: min/max of a date or timestamp column back as one."""
    if value is None:
        return "-"
    column = metric.split(".", 1)[1] if metric.startswith(("min.", "max.")) else None
    kind = next((c.type for c in spec.columns if c.name == column), "") if column else ""
    if kind == "date":
        return date.fromordinal(date(1970, 1, 1).toordinal() + int(value)).isoformat()
    if kind == "timestamp":
        return datetime.fromtimestamp(value, timezone.utc).isoformat(timespec="seconds")
    if metric.startswith("null_fraction."):
        return f"{value:.2%}"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
