"""Pandera contracts on Spark DataFrames, used as blocking gates before a table is published.

A table's contract is built from its spec (`contract_schema`): the columns, their types and nullability
(`required`) and the key (`unique_key`) are the spec's own, declared once; the spec's `contract` adds value
checks per column, named as pandera's `Check` constructors (`{"quantity": dict(gt=0, le=10_000)}`). The
contract is strict: a column the model starts to emit, or stops emitting, fails the gate instead of drifting
into the table; `dt` must look like a day (or a month's first day for monthly tables).

pandera's pyspark backend says WHICH checks failed (missing columns, dtypes, nullability, value checks)
but neither how many rows failed nor which ones. So pandera decides what failed, and this module counts
the failures and fetches a few example rows with Spark: one aggregation for every count, then one small
`limit(sample)` job per failing check. Key uniqueness (the spec's `unique_key`) is checked here
directly, because pandera counts duplicated keys rather than rows and gives no examples (and its pyspark
uniqueness support has a history of silently passing).

Examples go to Dagster's event log and to error messages, so they never carry a PII column (the registry's
`pii` flags of the tables the contract guards): an example row leaves those columns out, a duplicated key
shows them as ***, and pandera's own text about a PII column is not repeated.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any, Callable

import pandera.pyspark as pandera
import pyspark.sql.types as T
from pandera.config import ValidationDepth, config_context
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lakehouse.engine.sql import exact_column
from lakehouse.model.spec import DT, MONTH_DT, TableSpec

MAX_EXAMPLES = 5  # per failure in metadata(): enough to debug, small enough for the Dagster UI
HIDDEN = "***"

# pandera reason codes that describe the schema rather than values: no row counts, an expected/actual note.
_TYPE_REASONS = {"WRONG_DATATYPE", "COLUMN_NOT_IN_DATAFRAME"}


@dataclass
class CheckFailure:
    check: str  # pandera's name for it, e.g. "greater_than(0)", "not_nullable", "unique(order_id)"
    column: str | None  # None for checks over the whole frame
    failed_rows: int | None  # None when the failure is not about rows (dtype, missing column)
    examples: list[dict] = field(default_factory=list)


@dataclass
class ContractResult:
    passed: bool
    rows_checked: int
    failures: list[CheckFailure] = field(default_factory=list)

    def metadata(self) -> dict:
        """JSON-able, for Dagster metadata."""
        return {
            "passed": self.passed,
            "rows_checked": self.rows_checked,
            "failures": [
                {"check": f.check, "column": f.column, "failed_rows": f.failed_rows,
                 "examples": f.examples[:MAX_EXAMPLES]}
                for f in self.failures
            ],
        }

    def summary(self) -> str:
        """One human-readable line per failure."""
        lines = []
        for f in self.failures:
            where = f"{f.column}: " if f.column else ""
            count = f" on {f.failed_rows} rows" if f.failed_rows is not None else ""
            example = f", e.g. {f.examples[0]}" if f.examples else ""
            lines.append(f"{where}{f.check} failed{count}{example}")
        return "\n".join(lines) if lines else "contract passed"


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    return str(value)  # Decimal (kept exact), bytes, anything else


def _passes(check, column: Column) -> Column | None:
    """A Spark predicate for a pandera builtin check, mirroring pandera's pyspark builtins; None if unknown."""
    s = check.statistics or {}
    name = check.name
    if name == "equal_to":
        return column == s["value"]
    if name == "not_equal_to":
        return column != s["value"]
    if name == "greater_than":
        return column > s["min_value"]
    if name == "greater_than_or_equal_to":
        return column >= s["min_value"]
    if name == "less_than":
        return column < s["max_value"]
    if name == "less_than_or_equal_to":
        return column <= s["max_value"]
    if name == "in_range":
        low = column >= s["min_value"] if s.get("include_min", True) else column > s["min_value"]
        high = column <= s["max_value"] if s.get("include_max", True) else column < s["max_value"]
        return low & high
    if name == "isin":
        return column.isin(list(s["allowed_values"]))
    if name == "notin":
        return ~column.isin(list(s["forbidden_values"]))
    if name == "str_matches":
        pattern = getattr(s["pattern"], "pattern", s["pattern"])
        return column.rlike(pattern if pattern.startswith("^") else f"^{pattern}")  # a match at the start
    if name == "str_contains":
        return column.rlike(getattr(s["pattern"], "pattern", s["pattern"]))
    if name == "str_startswith":
        return column.startswith(s["string"])
    if name == "str_endswith":
        return column.endswith(s["string"])
    if name == "str_length":
        length = F.length(column)
        if s.get("exact_value") is not None:
            return length == s["exact_value"]
        cond = F.lit(True)
        if s.get("min_value") is not None:
            cond = cond & (length >= s["min_value"])
        if s.get("max_value") is not None:
            cond = cond & (length <= s["max_value"])
        return cond
    return None


_SIMPLE_TYPES = {"string": T.StringType, "int": T.IntegerType, "bigint": T.LongType, "double": T.DoubleType,
                 "boolean": T.BooleanType, "date": T.DateType, "timestamp": T.TimestampType}


def spark_type(name: str) -> T.DataType:
    """The Spark type of a spec column's type name ("bigint", "decimal(18,2)", ...), without a Spark session
    (pyspark parses DDL in the JVM)."""
    text = name.replace(" ", "").lower()
    if text in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[text]()
    if text.startswith("decimal(") and text.endswith(")"):
        precision, _, scale = text[8:-1].partition(",")
        return T.DecimalType(int(precision), int(scale or 0))
    raise ValueError(f"column type {name!r}: use one of {', '.join(_SIMPLE_TYPES)} or decimal(p,s)")


def contract_schema(spec: TableSpec) -> pandera.DataFrameSchema | None:
    """The pandera schema guarding `spec`'s table, or None for a table without a contract (bronze)."""
    if spec.contract is None:
        return None
    declared = {c.name for c in spec.columns}
    unknown = sorted(set(spec.contract) - declared)
    if unknown:
        raise ValueError(f"{spec.id}: the contract checks columns the table does not declare: {', '.join(unknown)}")
    dt_pattern = MONTH_DT if spec.partitioning == "monthly" else DT
    columns = {}
    for col in spec.columns:
        checks = dict(spec.contract.get(col.name, {}))
        if col.name == "dt":
            checks.setdefault("str_matches", dt_pattern)
        columns[col.name] = pandera.Column(
            spark_type(col.type), nullable=not col.required, description=col.description or None,
            checks=[getattr(pandera.Check, name)(list(value) if isinstance(value, (tuple, set)) else value)
                    for name, value in checks.items()])
    return pandera.DataFrameSchema(columns, strict=True, unique=list(spec.unique_key) or None, name=spec.id)


def _pandera_errors(df: DataFrame, schema) -> list[tuple[str, dict]]:
    """(reason code, error entry) for everything pandera found, at full depth whatever the environment says.

    PANDERA_VALIDATION_ENABLED=False or PANDERA_VALIDATION_DEPTH=SCHEMA_ONLY would otherwise turn the gate
    into a no-op (or skip value checks); config_context overrides both for this call only.
    """
    with config_context(validation_enabled=True, validation_depth=ValidationDepth.SCHEMA_AND_DATA):
        validated = schema.validate(df, lazy=True)
    errors = validated.pandera.errors or {}
    return [(reason, entry) for by_reason in errors.values() for reason, entries in by_reason.items()
            for entry in entries]


@dataclass
class ScreenCounts:
    """What the caller counted with `contract_screen`'s predicates over exactly the rows it will publish."""
    rows: int
    violations: int  # rows failing any of them


def contract_screen(spec: TableSpec, frame: T.StructType) -> list[Column] | None:
    """The contract's nullability and value checks as "this row fails" predicates for the caller's own pass
    over the rows it will publish (`check_rows` counts them in the row rules' aggregation, so a clean batch
    costs the gate no Spark job of its own), or None when a frame of this schema cannot be screened (no
    contract, wrong types, missing or extra columns, checks it cannot mirror): `evaluate_contract` decides.
    The key is left to its own job: counting distinct keys in the rules' aggregation made its partial
    aggregation keep one group per row (a 30-day run took 10% longer)."""
    schema = contract_schema(spec)
    return None if schema is None else _screen_predicates(frame, schema)


def key_check(spec: TableSpec, sample: int = 5) -> "Callable[[DataFrame], list[CheckFailure]] | None":
    """The contract's key uniqueness as a question for the batch's first pass (`apply_rules(first_pass=)`), or
    None when the contract has no key: its answer goes back to `evaluate_contract(..., duplicates=)`."""
    schema = contract_schema(spec)
    if schema is None or not getattr(schema, "unique", None):
        return None
    return lambda df: _duplicate_keys(df, schema, sample, frozenset(spec.pii))


def evaluate_contract(df: DataFrame, spec: TableSpec, *, sample: int = 5,
                      counted: ScreenCounts | None = None,
                      duplicates: list[CheckFailure] | None = None) -> ContractResult:
    """Validate `df` against the contract of `spec`'s table; count and sample every failure.

    A table without a contract passes, with rows_checked 0 (no Spark job is run). `counted`, when the caller
    counted `contract_screen`'s predicates over exactly `df`'s rows, settles a clean batch's checks without a
    job, leaving only the key; `duplicates`, when the caller already asked `key_check` over exactly `df`'s rows,
    settles the key too. Anything found goes the full way. Examples never show the table's PII columns.
    """
    schema = contract_schema(spec)
    if schema is None:
        return ContractResult(passed=True, rows_checked=0)
    pii = frozenset(spec.pii)
    if counted is not None and counted.violations == 0:  # only the key is left to look at
        if duplicates is None:
            duplicates = _duplicate_keys(df, schema, sample, pii)
        return ContractResult(passed=not duplicates, rows_checked=counted.rows, failures=duplicates)
    already_cached = df.storageLevel.useMemory or df.storageLevel.useDisk
    if not already_cached:
        df = df.persist()  # pandera runs one job per check; the counts and examples below read it again
    try:
        rows = _screen(df, schema)
        if rows is not None:  # nothing pandera checks can fail: only the keys are left to look at
            duplicates = _duplicate_keys(df, schema, sample, pii)
            return ContractResult(passed=not duplicates, rows_checked=rows, failures=duplicates)
        return _evaluate(df, schema, sample, pii)
    finally:
        if not already_cached:
            df.unpersist()


def _screen(df: DataFrame, schema) -> int | None:
    """The row count when the frame certainly passes every pandera check, else None.

    pandera's pyspark backend runs one Spark job per check (even its schema-only depth runs one per
    nullability check). Here the schema is checked from the frame's schema (no Spark job) and every
    nullability and builtin value check in ONE aggregation (`_screen_predicates`). Only a clean result is
    trusted: anything found sends the frame to the full pandera validation in `_evaluate`, which decides and
    reports.
    """
    violations = _screen_predicates(df.schema, schema)
    if violations is None:
        return None
    totals = df.agg(F.count(F.lit(1)).alias("rows"),
                    *[F.count_if(v).alias(f"v{i}") for i, v in enumerate(violations)]).first()
    if any(totals[f"v{i}"] for i in range(len(violations))):
        return None
    return int(totals["rows"])


def _screen_predicates(frame: T.StructType, schema) -> list[Column] | None:
    """One "this row fails" predicate per nullability and builtin value check of the contract, after checking
    the frame's schema with pandera's own dtype objects; None for anything this cannot mirror (custom or
    frame-wide checks, regex columns, column-level uniqueness, coercion, ordered columns, a wrong type, a
    missing, duplicate or undeclared column): pandera decides those."""
    from pandera.engines.pyspark_engine import Engine

    if getattr(schema, "checks", None) or getattr(schema, "coerce", False) or getattr(schema, "ordered", False):
        return None
    actual = {f.name: f.dataType for f in frame.fields}
    if len(actual) != len(frame.fields) or (getattr(schema, "strict", False) and set(actual) - set(schema.columns)):
        return None  # duplicate or undeclared columns: pandera says how it judges them
    violations: list[Column] = []
    for name, column in schema.columns.items():
        if getattr(column, "regex", False) or getattr(column, "unique", False) or getattr(column, "coerce", False):
            return None
        if name not in actual:  # missing (required or optional): pandera decides
            return None
        if column.dtype is not None and not column.dtype.check(Engine.dtype(actual[name])):
            return None
        if not column.nullable:
            violations.append(exact_column(name).isNull())
        for check in column.checks:
            passes = _passes(check, exact_column(name))
            if passes is None:
                return None
            violations.append(F.coalesce(~passes, F.lit(False)))  # NULL passes a value check, as in pandera
    return violations


def _evaluate(df: DataFrame, schema, sample: int, pii: frozenset[str] = frozenset()) -> ContractResult:
    actual_types = {f.name: f.dataType.simpleString() for f in df.schema.fields}
    failures: list[CheckFailure] = []
    row_failures: list[tuple[CheckFailure, Column]] = []  # failures still to count, with their predicate
    entries = _pandera_errors(df, schema)
    broken_columns = {e.get("column") for reason, e in entries if reason in _TYPE_REASONS}

    for reason, entry in entries:
        column, check = entry.get("column"), str(entry.get("check"))
        component = schema.columns.get(column) if column else None
        if reason in _TYPE_REASONS:
            expected = component.dtype.type.simpleString() if component is not None else None
            failures.append(CheckFailure(check, column, None, [
                {"expected": expected, "actual": actual_types.get(column, "missing")}]))
        elif reason == "DUPLICATES":
            continue  # counted below from the schema's `unique` keys
        elif reason == "CHECK_ERROR" and column in broken_columns:
            continue  # a check that could not run on a wrong-typed column: the dtype failure says it all
        elif reason == "SERIES_CONTAINS_NULLS" and column in actual_types:
            failure = CheckFailure(check, column, None)
            failures.append(failure)
            row_failures.append((failure, exact_column(column).isNull()))
        elif reason == "DATAFRAME_CHECK" and component is not None and column in actual_types:
            found = [c for c in component.checks if check in (c.error, c.name)]
            passes = _passes(found[0], exact_column(column)) if found else None
            failure = CheckFailure(check, column, None)
            failures.append(failure)
            if passes is not None:
                # NULLs are the nullability check's business; pandera's builtins skip them too.
                row_failures.append((failure, F.coalesce(~passes, F.lit(False))))
        else:  # custom or frame-level checks, check errors, strictness, ordering: reported as pandera says
            frame_level = column is None or column == schema.name
            error = f"(not shown: {column} is a PII column)" if column in pii else str(entry.get("error"))
            failures.append(CheckFailure(check, None if frame_level else column, None, [{"error": error}]))

    # Every count in one pass over the frame.
    totals = df.agg(
        F.count(F.lit(1)).alias("rows"),
        *[F.count_if(pred).alias(f"f{i}") for i, (_, pred) in enumerate(row_failures)],
    ).first()
    for i, (failure, pred) in enumerate(row_failures):
        failure.failed_rows = int(totals[f"f{i}"])
        if failure.failed_rows and sample > 0:
            shown = df.where(pred).select(*[exact_column(c) for c in df.columns if c not in pii])
            failure.examples = [_jsonable(r.asDict(recursive=True)) for r in shown.limit(sample).collect()]

    failures.extend(_duplicate_keys(df, schema, sample, pii))
    return ContractResult(passed=not failures, rows_checked=int(totals["rows"]), failures=failures)


def _duplicate_keys(df: DataFrame, schema, sample: int, pii: frozenset[str] = frozenset()) -> list[CheckFailure]:
    """Key uniqueness from the schema's `unique` (the spec's `unique_key`).

    failed_rows counts every row that shares its key with another row; the examples are the duplicated
    keys with how many rows carry each.
    """
    unique = getattr(schema, "unique", None)
    if not unique:
        return []
    key = [unique] if isinstance(unique, str) else list(unique)
    check = f"unique({', '.join(key)})"
    missing = [k for k in key if k not in df.columns]
    if missing:
        return [CheckFailure(check, None, None, [{"missing_key_columns": missing}])]
    groups = df.groupBy(*[exact_column(k) for k in key]).agg(F.count(F.lit(1)).alias("__dq_rows"))
    duplicated = groups.where(F.col("__dq_rows") > 1)
    rows = duplicated.agg(F.sum("__dq_rows").alias("rows")).first()["rows"]
    if not rows:
        return []
    examples = [
        _jsonable({**{k: HIDDEN if k in pii else r[k] for k in key}, "rows": r["__dq_rows"]})
        for r in duplicated.orderBy(F.desc("__dq_rows"), *[exact_column(k) for k in key]).limit(sample).collect()
    ] if sample > 0 else []
    return [CheckFailure(check, None, int(rows), examples)]
