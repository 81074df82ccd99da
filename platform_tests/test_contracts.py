"""pandera contracts as gates on real (tiny) Spark DataFrames: what failed, on how many rows, with examples."""
from __future__ import annotations

import dataclasses
import json

import pandera.pyspark as pa
import pytest
from pandera.config import ValidationDepth, config_context

from lakehouse.model.spec import Column, RowRule, TableSpec
from lakehouse.quality.contracts import contract_schema, evaluate_contract

SCHEMA = "order_id string, line int, amount_usd double, currency string, dt string"
GOOD = [
    ("o1", 1, 10.0, "USD", "2024-01-01"),
    ("o1", 2, 5.5, "EUR", "2024-01-01"),
    ("o2", 1, 7.0, None, "2024-01-02"),  # currency is nullable
]


# Columns, types, nullability and key come from the spec; the contract adds value checks per column.
Orders = TableSpec(
    "silver", "test", "orders", "Test orders.",
    columns=(Column("order_id", "string", "order id", True), Column("line", "int", required=True),
             Column("amount_usd", "double", required=True), Column("currency", "string"),
             Column("dt", "string", required=True)),
    contract={"order_id": dict(str_startswith="o"), "line": dict(ge=1), "amount_usd": dict(gt=0),
              "currency": dict(isin=("USD", "EUR"))},
    unique_key=("order_id", "line"),
)


def by_check(result):
    return {(f.column, f.check): f for f in result.failures}


def test_a_passing_frame(spark):
    result = evaluate_contract(spark.createDataFrame(GOOD, SCHEMA), Orders)
    assert result.passed and result.failures == []
    assert result.rows_checked == 3
    assert json.loads(json.dumps(result.metadata())) == {"passed": True, "rows_checked": 3, "failures": []}


def test_no_contract_passes(spark):
    bronze = TableSpec("bronze", "test", "orders", "As received.", columns=Orders.columns)
    result = evaluate_contract(spark.createDataFrame(GOOD, SCHEMA), bronze)
    assert result.passed and result.failures == []


def test_null_in_non_nullable_column_is_counted_with_examples(spark):
    rows = [*GOOD, ("o3", 1, None, "USD", "2024-01-02"), ("o4", 1, None, "EUR", "2024-01-02")]
    result = evaluate_contract(spark.createDataFrame(rows, SCHEMA), Orders)
    assert not result.passed
    failure = by_check(result)[("amount_usd", "not_nullable")]
    assert failure.failed_rows == 2
    assert sorted(e["order_id"] for e in failure.examples) == ["o3", "o4"]
    # NULL is the nullability check's failure, not also greater_than's.
    assert ("amount_usd", "greater_than(0)") not in by_check(result)


def test_range_check_failing_gives_the_exact_count(spark):
    rows = [*GOOD, ("o3", 1, -1.0, "USD", "2024-01-02"), ("o4", 1, 0.0, "USD", "2024-01-02"),
            ("o5", 1, -3.0, "USD", "2024-01-02")]
    result = evaluate_contract(spark.createDataFrame(rows, SCHEMA), Orders, sample=2)
    assert [(f.column, f.check, f.failed_rows) for f in result.failures] == [("amount_usd", "greater_than(0)", 3)]
    assert len(result.failures[0].examples) == 2  # capped by `sample`
    assert result.rows_checked == 6
    assert result.summary().startswith("amount_usd: greater_than(0) failed on 3 rows, e.g. {")


def test_isin_failure(spark):
    rows = [*GOOD, ("o3", 1, 1.0, "GBP", "2024-01-02")]
    result = evaluate_contract(spark.createDataFrame(rows, SCHEMA), Orders)
    failure = by_check(result)[("currency", "isin(['USD', 'EUR'])")]
    assert failure.failed_rows == 1
    assert failure.examples == [
        {"order_id": "o3", "line": 1, "amount_usd": 1.0, "currency": "GBP", "dt": "2024-01-02"}
    ]


def test_string_checks(spark):
    rows = [*GOOD, ("x9", 1, 1.0, "USD", "2024-1-2")]
    failures = by_check(evaluate_contract(spark.createDataFrame(rows, SCHEMA), Orders))
    assert failures[("order_id", "str_startswith('o')")].failed_rows == 1
    assert failures[("dt", r"str_matches('^\d{4}-\d{2}-\d{2}$')")].failed_rows == 1


def test_duplicate_keys_from_config_unique(spark):
    rows = [*GOOD, ("o1", 1, 3.0, "USD", "2024-01-01"), ("o1", 1, 4.0, "USD", "2024-01-01"),
            ("o2", 1, 7.0, "USD", "2024-01-02")]
    result = evaluate_contract(spark.createDataFrame(rows, SCHEMA), Orders)
    assert [(f.column, f.check) for f in result.failures] == [(None, "unique(order_id, line)")]
    failure = result.failures[0]
    assert failure.failed_rows == 5  # three rows share (o1, 1), two share (o2, 1)
    assert failure.examples == [{"order_id": "o1", "line": 1, "rows": 3}, {"order_id": "o2", "line": 1, "rows": 2}]


def test_wrong_dtype_and_missing_column_are_reported_without_counts(spark):
    df = spark.createDataFrame([("o1", "1", 10.0, "USD")], "order_id string, line string, amount_usd double, currency string")
    result = evaluate_contract(df, Orders)
    failures = by_check(result)
    assert failures[("line", "dtype('IntegerType()')")].failed_rows is None
    assert failures[("line", "dtype('IntegerType()')")].examples == [{"expected": "int", "actual": "string"}]
    assert failures[("dt", "column_in_dataframe")].examples == [{"expected": "string", "actual": "missing"}]
    # The ge(1) check cannot run on a string column; that is noise next to the dtype failure.
    assert all(f.check != "greater_than_or_equal_to(1)" for f in result.failures)
    json.dumps(result.metadata())


def test_validation_runs_at_full_depth_even_when_disabled_by_config(spark):
    rows = [*GOOD, ("o3", 1, -1.0, "USD", "2024-01-02")]
    df = spark.createDataFrame(rows, SCHEMA)
    with config_context(validation_enabled=False):
        assert not evaluate_contract(df, Orders).passed
    with config_context(validation_depth=ValidationDepth.SCHEMA_ONLY):
        assert by_check(evaluate_contract(df, Orders))[("amount_usd", "greater_than(0)")].failed_rows == 1


def test_examples_are_json_able(spark):
    events = TableSpec("silver", "test", "events", "Test events.",
                       columns=(Column("day", "date"), Column("price", "decimal(10,2)", required=True)),
                       contract={"price": dict(gt=0)})

    df = spark.sql("SELECT DATE'2024-01-01' AS day, CAST(-1.50 AS DECIMAL(10,2)) AS price")
    result = evaluate_contract(df, events)
    assert result.failures[0].examples == [{"day": "2024-01-01", "price": "-1.50"}]
    json.dumps(result.metadata())


def test_the_contract_is_the_specs_columns_with_their_checks():
    schema = contract_schema(Orders)
    assert [(n, c.dtype.type.simpleString(), c.nullable, c.description) for n, c in schema.columns.items()] == [
        ("order_id", "string", False, "order id"),
        ("line", "int", False, None),
        ("amount_usd", "double", False, None),
        ("currency", "string", True, None),
        ("dt", "string", False, None),
    ]
    assert schema.strict and schema.unique == ["order_id", "line"]
    assert [c.name for c in schema.columns["dt"].checks] == ["str_matches"]  # a day, added for every table
    monthly = TableSpec("gold", "test", "m", "Monthly.", columns=(Column("dt", "string", required=True),),
                        contract={}, partitioning="monthly")
    assert contract_schema(monthly).columns["dt"].checks[0].statistics["pattern"].endswith("-01$")


def test_a_check_on_an_undeclared_column_is_refused():
    typo = TableSpec("silver", "test", "t", "Typo.", columns=Orders.columns, contract={"amount": dict(gt=0)})
    with pytest.raises(ValueError, match="silver.t: the contract checks columns the table does not declare: amount"):
        contract_schema(typo)


def test_every_registry_contract_builds():
    from lakehouse.pipeline.registry import all_specs

    built = [s.id for s in all_specs() if contract_schema(s) is not None]
    assert built == [s.id for s in all_specs() if s.layer != "bronze"]


@pytest.mark.parametrize("sample", [0])
def test_sample_zero_counts_without_examples(spark, sample):
    rows = [*GOOD, ("o3", 1, -1.0, "USD", "2024-01-02")]
    result = evaluate_contract(spark.createDataFrame(rows, SCHEMA), Orders, sample=sample)
    assert result.failures[0].failed_rows == 1 and result.failures[0].examples == []


# --- the one-pass screen: a clean frame skips pandera's job-per-check run, and only a clean one ------------

SCREEN_CASES = {
    "clean": GOOD,
    "null in a nullable column with a value check": [*GOOD, ("o5", 1, 2.0, None, "2024-01-02")],
    "null in a non-nullable column": [*GOOD, ("o3", 1, None, "USD", "2024-01-02")],
    "out of range": [*GOOD, ("o3", 1, -1.0, "USD", "2024-01-02")],
    "boundary of ge=1": [*GOOD, ("o3", 0, 1.0, "USD", "2024-01-02")],
    "not in the allowed set": [*GOOD, ("o3", 1, 1.0, "GBP", "2024-01-02")],
    "wrong prefix": [*GOOD, ("x3", 1, 1.0, "USD", "2024-01-02")],
    "pattern matched only in the middle": [*GOOD, ("o3", 1, 1.0, "USD", "x2024-01-02")],
}


@pytest.mark.parametrize("case", sorted(SCREEN_CASES))
def test_the_screen_passes_exactly_what_pandera_passes(spark, case):
    from lakehouse.quality.contracts import _evaluate, _screen

    df = spark.createDataFrame(SCREEN_CASES[case], SCHEMA)
    schema = contract_schema(Orders)
    full = _evaluate(df, schema, sample=0)  # pandera's own validation, one job per check
    screened = _screen(df, schema)
    assert (screened is not None) == full.passed, (case, full.summary())
    if screened is not None:
        assert screened == len(SCREEN_CASES[case])


def test_a_custom_check_always_goes_to_pandera(spark):
    from lakehouse.quality.contracts import _evaluate, _screen

    def below_a_million(frame):  # a custom check (pandera's pyspark backend hands it the frame)
        return frame.filter("amount_usd >= 1000000").limit(1).count() == 0

    with_custom = contract_schema(Orders)
    with_custom.columns["amount_usd"].checks.append(pa.Check(below_a_million, name="below_a_million"))
    df = spark.createDataFrame(GOOD, SCHEMA)
    assert _screen(df, with_custom) is None
    assert _evaluate(df, with_custom, sample=5).passed
    bad = spark.createDataFrame([*GOOD, ("o9", 1, 2e6, "USD", "2024-01-02")], SCHEMA)
    result = _evaluate(bad, with_custom, sample=5)
    assert not result.passed and any("below_a_million" in f.check for f in result.failures), result.summary()


@pytest.mark.parametrize("ddl,row", [
    ("order_id string, line string, amount_usd double, currency string, dt string", ("o1", "1", 1.0, "USD", "2024-01-01")),
    ("order_id string, amount_usd double, currency string, dt string", ("o1", 1.0, "USD", "2024-01-01")),
    ("order_id string, line int, amount_usd decimal(10,2), currency string, dt string", ("o1", 1, None, "USD", "2024-01-01")),
])
def test_the_screen_leaves_wrong_types_and_missing_columns_to_pandera(spark, ddl, row):
    from lakehouse.quality.contracts import _screen

    df = spark.createDataFrame([row], ddl)
    assert _screen(df, contract_schema(Orders)) is None
    assert not evaluate_contract(df, Orders).passed


# --- the screen counted with the row rules: the gate settles a clean batch from those counts ------------------

def _counted(spark, rows, spec):
    from lakehouse.pipeline.model_step import check_rows, contract_counts

    outcome = check_rows(spec, spark.createDataFrame(rows, SCHEMA))
    try:
        counted = contract_counts(outcome)
        return counted, evaluate_contract(outcome.valid, spec, counted=counted), evaluate_contract(outcome.valid, spec)
    finally:
        outcome.release()


WithDropRule = dataclasses.replace(Orders, rules=(RowRule("not_a_test_order", "order_id <> 'test'", "drop"),))


@pytest.mark.parametrize("case", sorted(SCREEN_CASES))
def test_the_screen_counted_with_the_rules_decides_as_the_full_gate(spark, case):
    counted, fast, full = _counted(spark, SCREEN_CASES[case], WithDropRule)
    assert counted is not None and counted.rows == len(SCREEN_CASES[case])
    assert (counted.violations == 0) == full.passed
    assert fast.passed == full.passed and fast.rows_checked == full.rows_checked
    assert [(f.check, f.column, f.failed_rows) for f in fast.failures] == [(f.check, f.column, f.failed_rows) for f in full.failures]


def test_quarantined_rows_are_not_the_gates_business_and_keys_still_are(spark):
    # quarantined rows that break the range check and repeat a key are not counted ...
    counted, fast, full = _counted(spark, [*GOOD, ("test", 1, -1.0, "USD", "2024-01-01"),
                                           ("test", 1, -1.0, "USD", "2024-01-01")], WithDropRule)
    assert (counted.rows, counted.violations) == (3, 0) and fast.passed and full.passed
    # ... a clean screen still leaves the key to its own check
    counted, fast, full = _counted(spark, [*GOOD, ("o2", 1, 8.0, "USD", "2024-01-03")], WithDropRule)
    assert counted.violations == 0
    assert not fast.passed and [(f.check, f.failed_rows) for f in fast.failures] == [("unique(order_id, line)", 2)]
    assert [(f.check, f.failed_rows) for f in full.failures] == [("unique(order_id, line)", 2)]
