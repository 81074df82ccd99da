"""Partitioning: every table is cut by `dt`; daily tables by day, monthly tables by the month's first day."""
from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache
from typing import Sequence

from dagster import DailyPartitionsDefinition, MonthlyPartitionsDefinition, PartitionsDefinition

from lakehouse.model.spec import TableSpec, Upstream


# The first day any table can hold is a setting (LAKEHOUSE_START_DATE, config.py; unset, a fixed number of days
# before today, UTC): partitions long before the data would only show as "missing" in the UI. Earlier landing files
# are reported and skipped by the sensor.
# end_offset=1 makes today's partition exist, so a file landed this morning can be processed this morning.
@lru_cache(maxsize=None)
def daily(start: str) -> DailyPartitionsDefinition:
    return DailyPartitionsDefinition(start_date=start, end_offset=1)


@lru_cache(maxsize=None)
def monthly(start: str) -> MonthlyPartitionsDefinition:
    """Months from the one `start` falls in (its first day), so the first days' month has a partition."""
    return MonthlyPartitionsDefinition(start_date=start[:8] + "01", end_offset=1)


def partitions_def(spec: TableSpec, start: str) -> PartitionsDefinition:
    return monthly(start) if spec.partitioning == "monthly" else daily(start)


# A partition key is a day, YYYY-MM-DD (a monthly table's: the month's first day). Day arithmetic on keys is done
# here only, so every module counts days, months and windows the same way.

def add_days(day: str, n: int) -> str:
    """The day `n` days after `day` (before it, for a negative `n`)."""
    return (date.fromisoformat(day) + timedelta(days=n)).isoformat()


def month_of(day: str) -> str:
    """The monthly partition key holding `day`: its month's first day."""
    return day[:8] + "01"


def days(start: str, end: str) -> list[str]:
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    return [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def partition_keys(spec: TableSpec, first: str, last: str) -> list[str]:
    """The table's partition keys over the days first..last: those days, or the months they touch."""
    covered = days(first, last)
    return sorted({month_of(d) for d in covered}) if spec.partitioning == "monthly" else covered


def month_days(month_start: str) -> list[str]:
    first = date.fromisoformat(month_start).replace(day=1)
    nxt = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return days(first.isoformat(), (nxt - timedelta(days=1)).isoformat())


def batch_days(spec: TableSpec, partition_keys: Sequence[str]) -> list[str]:
    """The days a batch of partition keys covers (a monthly key covers its whole month)."""
    if spec.partitioning == "monthly":
        return sorted({d for key in partition_keys for d in month_days(key)})
    return sorted(partition_keys)


def upstream_partitions(
    up: Upstream, spec: TableSpec, partition_keys: Sequence[str], present: Sequence[str]
) -> list[str]:
    """Which partitions of an upstream a batch reads, limited to the ones that exist."""
    covered = batch_days(spec, partition_keys)
    first, last = covered[0], covered[-1]
    if up.window == "history":
        wanted = [p for p in present if p <= last]
    elif up.window == "lookback":
        start = add_days(first, -up.lookback_days)
        wanted = [p for p in present if start <= p <= last]
    elif up.window == "month":
        months = {d[:7] for d in covered}
        wanted = [p for p in present if p[:7] in months and p <= last]
    else:
        keep = set(covered)
        wanted = [p for p in present if p in keep]
    return sorted(wanted)
