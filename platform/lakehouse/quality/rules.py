"""Row rules in the manner of Delta Live Tables expectations: flag every row once, count once, split.

Each rule is a Spark SQL boolean over one row. A NULL result counts as a violation (`not coalesce(expr,
false)`), so a rule over a missing value never passes silently. Severity decides what a violation does:
warn keeps and counts the row, drop sends it to quarantine (naming every drop rule it broke), fail counts
it in `failed_rules` so the caller can refuse the whole batch.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Literal, Sequence

from pyspark.errors import PySparkException
from pyspark.sql import Column, DataFrame, Observation
from pyspark.sql import functions as F
from pyspark.sql.types import BooleanType

from lakehouse.engine.sql import exact_column
from lakehouse.model.spec import RowRule

_FLAG = "__dq_rule_{}"  # one boolean "violated" column per rule; the prefix keeps clear of real columns
_DROPPED = "__dq_dropped"  # array<string>: the drop rules a row broke
_DAY = "__dq_day"  # the row's day's position in the batch (1-based), for the per-day counts
# Per-day counts observed in the batch's pass cost (days x counts) expressions, each evaluated on every row, where
# a group-by-day aggregation evaluates each once: silver.orders' check_rows over 7 days x 3000 rows took 22.3 s
# with its ~280 observed (counts and metrics), 19.4 s with the ~120 counts alone, 11.1 s by group-by with all of
# them; over one day (~40) 2.7 s observed, 2.5 s by group-by (2 cores, under load). A batch needing more than
# MAX_OBSERVED_EXPRESSIONS, or of more than MAX_OBSERVED_DAYS days, is counted by one group-by-day aggregation
# instead (a job of its own, over the cache).
MAX_OBSERVED_DAYS = 62
MAX_OBSERVED_EXPRESSIONS = 160


@dataclass(frozen=True)
class DayStat:
    """An aggregate over each day's published rows (those no drop rule sends to quarantine), taken in the same
    pass as the counts: `count` counts the rows where `expr` holds; `min`, `max`, `sum` aggregate its value."""

    name: str
    how: Literal["count", "min", "max", "sum"]
    expr: Column


def _stat(stat: DayStat, where: Column) -> Column:
    if stat.how == "count":
        return F.count_if(where & stat.expr)
    return {"min": F.min, "max": F.max, "sum": F.sum}[stat.how](F.when(where, stat.expr))


def _number(value: Any) -> float | None:
    return None if value is None else float(value)  # Decimal sums, epoch days and seconds alike


def is_published(column: str) -> bool:
    """`__name` columns are helpers a model computes for its rules (e.g. a duplicate rank): never published."""
    return not column.startswith("__")


@dataclass
class RuleOutcome:
    """What the rules did to a batch.

    `valid` and `quarantine` are both read from one persisted, flagged frame so that writing them does not
    evaluate the input again. Call `release()` once both have been written to free that cache.
    """

    valid: DataFrame
    quarantine: DataFrame
    rows_in: int
    rows_published: int
    rows_quarantined: int
    violations: dict[str, int]  # every rule -> rows that violated it
    failed_rules: dict[str, int]  # only severity=fail rules that were violated
    # dt -> that day's rows_in / rows_published / rows_quarantined, violations.<rule>, null_rate.<column>
    by_day: dict[str, dict] = field(default_factory=dict)
    # dt -> {DayStat.name: value} of the caller's `published_stats` over that day's published rows
    stats_by_day: dict[str, dict[str, float | None]] = field(default_factory=dict)
    # the caller's `published_checks`: rows of `valid` failing any (None: none given)
    published_violations: int | None = None
    first_result: Any = None  # what the caller's `first_pass` returned
    _cached: DataFrame | None = field(default=None, repr=False, compare=False)

    def metadata(self) -> dict:
        """Flat and JSON-able, for Dagster metadata: one `violations.<rule>` entry per rule."""
        meta: dict = {
            "rows_in": self.rows_in,
            "rows_published": self.rows_published,
            "rows_quarantined": self.rows_quarantined,
        }
        meta.update({f"violations.{name}": n for name, n in self.violations.items()})
        if self.failed_rules:
            meta["failed_rules"] = ", ".join(sorted(self.failed_rules))
        return meta

    def release(self) -> None:
        """Unpersist the flagged frame behind `valid` and `quarantine` (safe to call more than once)."""
        if self._cached is not None:
            self._cached.unpersist()
            self._cached = None


def _violated(rule: RowRule, df: DataFrame) -> Column:
    """The rule's "violated" flag, after checking the expression parses, resolves and is boolean.

    Analysis is forced through `.schema` (no Spark job) so a bad rule fails here, by name, rather than deep
    inside the aggregation. Selecting it next to `*` also rejects aggregate expressions.
    """
    try:
        condition = F.expr(rule.expr)
        data_type = df.select("*", condition.alias("__dq_probe")).schema["__dq_probe"].dataType
    except PySparkException as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"row rule {rule.name!r}: cannot evaluate expression {rule.expr!r}: {first_line}") from exc
    if not isinstance(data_type, BooleanType):
        raise ValueError(
            f"row rule {rule.name!r}: expression {rule.expr!r} is {data_type.simpleString()}, not boolean"
        )
    return ~F.coalesce(condition, F.lit(False))


def _all_violated(rules: Sequence[RowRule], df: DataFrame) -> list[Column]:
    """Every rule's flag, with ONE analysis of the frame when all rules are sound (on Spark Connect each
    analysis is a round trip that plans the whole model again); any problem falls back to rule by rule,
    which names the rule at fault."""
    try:
        conditions = [F.expr(r.expr) for r in rules]
        probed = df.select("*", *[c.alias(f"__dq_probe_{i}") for i, c in enumerate(conditions)]).schema
        sound = all(isinstance(probed[f"__dq_probe_{i}"].dataType, BooleanType) for i in range(len(rules)))
    except PySparkException:
        sound = False
    if not sound:
        return [_violated(r, df) for r in rules]
    return [~F.coalesce(c, F.lit(False)) for c in conditions]


def apply_rules(df: DataFrame, rules: Sequence[RowRule], source_table: str,
                required: Sequence[str] = (), published_checks: Sequence[Column] | None = None,
                days: Sequence[str] | None = None, first_pass: Callable[[DataFrame], Any] | None = None,
                published_stats: Sequence[DayStat] = ()) -> RuleOutcome:
    """Flag each row against every rule, count everything in the batch's one pass, and split valid/quarantine.

    The counts are taken per `dt` (`by_day`), with the null rate of each `required` column among the rows that
    came in, so a backfill of many days still reports each day on its own. The flagged frame is persisted: one
    pass over the input feeds the counts, `valid` and `quarantine`; the caller frees it with
    `RuleOutcome.release()` once the results are written.

    With the batch's `days` known (the model step's partition keys), the counts are a Spark `Observation` on
    the flagged frame, collected by the pass that fills the cache: `first_pass(valid)`, the caller's first
    question to the rows that stay (the model step checks the key there), else a no-op write. No aggregation
    job of their own. Without `days` (or beyond MAX_OBSERVED_DAYS) they are one group-by-day aggregation.

    A gate that comes after the rules (the contract) may have its own row checks counted in the same pass:
    `published_checks` (true where a row fails), over the rows that stay. So may `published_stats`, each day's
    aggregates over the rows that stay (`stats_by_day`: the partition's metrics, quality.metrics).
    """
    names = [r.name for r in rules]
    if len(set(names)) != len(names):
        raise ValueError(f"{source_table}: duplicate row rule names in {names}")
    columns = df.columns
    drop_rules = [(i, r) for i, r in enumerate(rules) if r.severity == "drop"]
    if drop_rules and "dt" not in columns:
        raise ValueError(f"{source_table}: drop rules need a `dt` column to place quarantined rows")

    flags = [flag.alias(_FLAG.format(i)) for i, flag in enumerate(_all_violated(rules, df))] if rules else []
    dropped = (
        F.array_compact(F.array(*[F.when(F.col(_FLAG.format(i)), F.lit(r.name)) for i, r in drop_rules]))
        if drop_rules
        else F.array().cast("array<string>")
    )
    flagged = df.select("*", *flags).withColumn(_DROPPED, dropped)

    is_quarantined = F.size(_DROPPED) > 0
    measured = [c for c in required if c in columns]
    # every count as (name, "this row counts"): one count_if each, per day
    counted = [("rows_in", F.lit(True)), ("rows_quarantined", is_quarantined),
               *[(_FLAG.format(i), F.col(_FLAG.format(i))) for i in range(len(rules))],
               *[(f"__dq_null_{i}", exact_column(c).isNull()) for i, c in enumerate(measured)]]
    if published_checks:
        counted.append(("__dq_gate", ~is_quarantined & F.greatest(*published_checks, F.lit(False))))
    stats = list(published_stats)
    observed = "dt" not in columns or (days is not None and 0 < len(days) <= MAX_OBSERVED_DAYS
                                       and len(days) * (len(counted) + len(stats)) <= MAX_OBSERVED_EXPRESSIONS)
    first_result = None
    if observed:
        day_names = list(days or []) if "dt" in columns else [None]
        observation = Observation(f"dq_{uuid.uuid4().hex}")
        if "dt" in columns:  # the day's position in the batch, once per row; the counts compare integers
            flagged = flagged.withColumn(_DAY, F.array_position(F.array(*[F.lit(d) for d in day_names]),
                                                                  exact_column("dt").cast("string")))
        on_day = (lambda j: F.col(_DAY) == j + 1) if "dt" in columns else (lambda j: F.lit(True))
        elsewhere = [F.count_if(F.col(_DAY).isNull() | (F.col(_DAY) == 0)).alias("__dq_elsewhere")] \
            if "dt" in columns else []
        flagged = flagged.observe(observation, *elsewhere, *[
            F.count_if(cond & on_day(j)).alias(f"{name}@{j}") for j in range(len(day_names))
            for name, cond in counted], *[
            _stat(stat, ~is_quarantined & on_day(j)).alias(f"__dq_stat_{i}@{j}") for j in range(len(day_names))
            for i, stat in enumerate(stats)]).persist()
        valid = flagged.where(~is_quarantined).select(*[exact_column(c) for c in columns if is_published(c)])
        try:
            if first_pass is not None:
                first_result = first_pass(valid)
            else:
                flagged.write.format("noop").mode("overwrite").save()
            seen = observation.get
        except Exception:
            flagged.unpersist()
            raise
        tallies = [{"__dq_dt": d, **{name: seen[f"{name}@{j}"] for name, _ in counted},
                    **{f"__dq_stat_{i}": seen[f"__dq_stat_{i}@{j}"] for i in range(len(stats))}}
                   for j, d in enumerate(day_names)]
        if "dt" in columns and seen["__dq_elsewhere"]:  # counted nowhere: refuse rather than under-report
            flagged.unpersist()
            raise ValueError(f"{source_table}: {seen['__dq_elsewhere']} rows have a dt outside the batch's days "
                             f"{day_names[0]}..{day_names[-1]}")
    else:
        flagged = flagged.persist()
        valid = flagged.where(~is_quarantined).select(*[exact_column(c) for c in columns if is_published(c)])
        tallies = flagged.groupBy(exact_column("dt").cast("string").alias("__dq_dt")).agg(
            *[F.count_if(cond).alias(name) for name, cond in counted],
            *[_stat(stat, ~is_quarantined).alias(f"__dq_stat_{i}") for i, stat in enumerate(stats)]).collect()
        if first_pass is not None:
            first_result = first_pass(valid)
    by_day: dict[str, dict] = {}
    stats_by_day: dict[str, dict[str, float | None]] = {}
    for day in tallies:
        n = int(day["rows_in"])
        if n == 0 and observed:
            continue  # a day of the batch with no rows reports nothing, as the group-by gives no group for it
        metrics = {"rows_in": n, "rows_published": n - int(day["rows_quarantined"]),
                   "rows_quarantined": int(day["rows_quarantined"])}
        metrics.update({f"violations.{r.name}": int(day[_FLAG.format(i)]) for i, r in enumerate(rules)})
        metrics.update({f"null_rate.{c}": round(int(day[f"__dq_null_{i}"]) / n, 4) if n else 0.0
                        for i, c in enumerate(measured)})
        if "dt" in columns:
            by_day[day["__dq_dt"]] = metrics
            stats_by_day[day["__dq_dt"]] = {s.name: _number(day[f"__dq_stat_{i}"]) for i, s in enumerate(stats)}
    rows_in = sum(int(d["rows_in"]) for d in tallies)
    rows_quarantined = sum(int(d["rows_quarantined"]) for d in tallies)
    violations = {r.name: sum(int(d[_FLAG.format(i)]) for d in tallies) for i, r in enumerate(rules)}
    failed = {r.name: violations[r.name] for r in rules if r.severity == "fail" and violations[r.name] > 0}
    gate = None  # no checks given: nothing counted; an empty list of checks: none can fail
    if published_checks is not None:
        gate = sum(int(d["__dq_gate"]) for d in tallies) if published_checks else 0

    def optional(name: str, spark_type: str) -> Column:
        return (exact_column(name) if name in columns else F.lit(None)).cast(spark_type)

    # One timestamp for the whole batch: current_timestamp() would differ between re-evaluations.
    at = datetime.now(timezone.utc)
    quarantine = flagged.where(is_quarantined).select(
        F.lit(source_table).alias("source_table"),
        F.concat(F.lit("broke rules: "), F.array_join(_DROPPED, ", ")).alias("reason"),
        F.col(_DROPPED).alias("rules"),
        optional("_source_file", "string").alias("source_file"),
        optional("_line_number", "bigint").alias("line_number"),
        F.to_json(F.struct(*[exact_column(c) for c in columns])).alias("record"),
        F.lit(at).cast("timestamp").alias("quarantined_at"),
        optional("dt", "string").alias("dt"),
    )
    return RuleOutcome(
        valid=valid,
        quarantine=quarantine,
        rows_in=rows_in,
        rows_published=rows_in - rows_quarantined,
        rows_quarantined=rows_quarantined,
        violations=violations,
        failed_rules=failed,
        by_day=by_day,
        stats_by_day=stats_by_day,
        published_violations=gate,
        first_result=first_result,
        _cached=flagged,
    )
