"""What a re-run changes in partitions that already held data, before it replaces them.

The batch about to be published (cached by the rules' pass) is joined with the partitions it replaces, full
outer on the table's key, in one Spark job: rows added (a key only in the batch), removed (only in the table)
and changed (in both, some published column different), and the change of each measure's sum. Lineage columns
(`_...`) are not compared: the same row from a re-landed file is the same row. A table without a key gets its
row counts and sums only. A first publish of a day has nothing to compare and costs nothing.
"""
from __future__ import annotations

from typing import Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lakehouse.engine.sql import exact_column

_NEW, _OLD = "__new_", "__old_"


def _side(df: DataFrame, prefix: str, columns: Sequence[str]) -> DataFrame:
    return df.select(*[exact_column(c).alias(prefix + c) for c in columns], F.lit(True).alias(prefix + "_present"))


def _sums(measures: Sequence[str]) -> list[Column]:
    return [agg for m in measures for agg in (F.sum(F.col(_NEW + m)).alias(f"{_NEW}sum_{m}"),
                                               F.sum(F.col(_OLD + m)).alias(f"{_OLD}sum_{m}"))]


def partition_diff(new: DataFrame, old: DataFrame, key: Sequence[str], measures: Sequence[str],
                   days: Sequence[str]) -> dict[str, dict[str, float]]:
    """{dt: rows_before, rows_after, rows_added, rows_removed, rows_changed, change.sum.<measure>, changed_share}
    for each of `days` (the re-run's partitions that held data), comparing `new` (the batch) with `old` (the
    partitions as published). Without a `key`, only rows_before, rows_after and the sums."""
    new, old = new.where(F.col("dt").isin(list(days))), old.where(F.col("dt").isin(list(days)))
    shared = [c for c in new.columns if c in set(old.columns)]
    measures = [m for m in measures if m in shared]
    key = list(dict.fromkeys(["dt", *key])) if key else []
    present_new, present_old = F.col(_NEW + "_present").isNotNull(), F.col(_OLD + "_present").isNotNull()
    if key and set(key) <= set(shared):
        compared = [c for c in shared if c not in key and not c.startswith("_")]
        joined = _side(new, _NEW, shared).join(
            _side(old, _OLD, shared), on=[F.col(_NEW + k).eqNullSafe(F.col(_OLD + k)) for k in key], how="full_outer")
        same = F.lit(True)
        for c in compared:
            same = same & F.col(_NEW + c).eqNullSafe(F.col(_OLD + c))
        counts = [F.count_if(present_new & ~present_old).alias("rows_added"),
                  F.count_if(present_old & ~present_new).alias("rows_removed"),
                  F.count_if(present_new & present_old & ~same).alias("rows_changed")]
        day = F.coalesce(F.col(_NEW + "dt"), F.col(_OLD + "dt"))
    else:  # no key to match rows by: both sides side by side, each row on its own
        joined = _side(new, _NEW, shared).unionByName(_side(old, _OLD, shared), allowMissingColumns=True)
        counts = []
        day = F.coalesce(F.col(_NEW + "dt"), F.col(_OLD + "dt"))
    totals = joined.groupBy(day.alias("dt")).agg(
        F.count_if(present_old).alias("rows_before"), F.count_if(present_new).alias("rows_after"),
        *counts, *_sums(measures)).collect()
    out: dict[str, dict[str, float]] = {}
    for row in totals:
        diff = {name: int(row[name]) for name in ("rows_before", "rows_after", "rows_added", "rows_removed",
                                                   "rows_changed") if name in row.asDict()}
        shares = [_share(diff.get("rows_added", 0) + diff.get("rows_removed", 0) + diff.get("rows_changed", 0)
                         if key else abs(diff["rows_after"] - diff["rows_before"]), diff["rows_before"])]
        for m in measures:
            after, before = float(row[f"{_NEW}sum_{m}"] or 0), float(row[f"{_OLD}sum_{m}"] or 0)
            diff[f"change.sum.{m}"] = round(after - before, 6)
            shares.append(_share(abs(after - before), abs(before)))
        diff["changed_share"] = round(max(shares), 6)
        out[row["dt"]] = diff
    return out


def _share(changed: float, of: float) -> float:
    """`changed` as a share of `of`; anything at all changed in nothing is a whole (1.0)."""
    if of:
        return changed / of
    return 1.0 if changed else 0.0
