"""Row rules on real (tiny) Spark DataFrames: exact splits, counts, quarantine shape and bad expressions."""
from __future__ import annotations

import json

import pyarrow as pa
import pytest

from lakehouse.model.spec import RowRule
from lakehouse.quality.quarantine import QUARANTINE_SCHEMA
from lakehouse.quality.rules import apply_rules

ORDERS = [
    # order_id, quantity, currency, _source_file, _line_number, dt
    ("o1", 2, "USD", "f.csv", 1, "2024-01-01"),  # clean
    ("o2", -1, "USD", "f.csv", 2, "2024-01-01"),  # bad quantity
    ("o3", 0, "XXX", "f.csv", 3, "2024-01-01"),  # bad quantity and bad currency
    ("o4", None, "EUR", "f.csv", 4, "2024-01-02"),  # NULL quantity: a violation, not a pass
    ("o5", 5, "GBP", "f.csv", 5, "2024-01-02"),  # warn only
]
SCHEMA = "order_id string, quantity int, currency string, _source_file string, _line_number int, dt string"

RULES = [
    RowRule("positive_quantity", "quantity > 0", "drop"),
    RowRule("known_currency", "currency IN ('USD', 'EUR', 'GBP')", "drop"),
    RowRule("not_gbp", "currency <> 'GBP'", "warn"),
]


@pytest.fixture
def orders(spark):
    return spark.createDataFrame(ORDERS, SCHEMA)


def test_rules_split_rows_exactly_with_counts(orders):
    out = apply_rules(orders, RULES, "silver.orders")
    try:
        assert (out.rows_in, out.rows_published, out.rows_quarantined) == (5, 2, 3)
        assert out.violations == {"positive_quantity": 3, "known_currency": 1, "not_gbp": 1}
        assert out.failed_rules == {}
        assert sorted(r.order_id for r in out.valid.collect()) == ["o1", "o5"]  # warn keeps the row
        assert out.valid.columns == orders.columns

        q = {r.record and json.loads(r.record)["order_id"]: r for r in out.quarantine.collect()}
        assert sorted(q) == ["o2", "o3", "o4"]
        assert q["o3"].rules == ["positive_quantity", "known_currency"]  # every drop rule it broke
        assert q["o3"].reason == "broke rules: positive_quantity, known_currency"
        assert q["o4"].rules == ["positive_quantity"]  # NULL quantity counts as a violation
        assert (q["o3"].source_file, q["o3"].line_number, q["o3"].dt) == ("f.csv", 3, "2024-01-01")
        assert json.loads(q["o4"].record) == {
            "order_id": "o4", "currency": "EUR", "_source_file": "f.csv", "_line_number": 4, "dt": "2024-01-02",
        }  # to_json leaves out NULL fields
        assert out.metadata() == {
            "rows_in": 5, "rows_published": 2, "rows_quarantined": 3,
            "violations.positive_quantity": 3, "violations.known_currency": 1, "violations.not_gbp": 1,
        }
    finally:
        out.release()


def test_quarantine_matches_the_shared_schema(orders):
    out = apply_rules(orders, RULES, "silver.orders")
    try:
        assert out.quarantine.columns == QUARANTINE_SCHEMA.names
        rows = out.quarantine.collect()
        assert {r.source_table for r in rows} == {"silver.orders"}
        # The rows fit QUARANTINE_SCHEMA as-is (what the quarantine writer casts to).
        table = pa.Table.from_pylist([r.asDict() for r in rows], schema=QUARANTINE_SCHEMA)
        assert table.num_rows == 3
    finally:
        out.release()


def test_source_file_and_line_number_are_null_without_lineage_columns(spark):
    df = spark.createDataFrame([("a", -1, "2024-01-01")], "id string, quantity int, dt string")
    out = apply_rules(df, [RowRule("positive_quantity", "quantity > 0")], "silver.t")
    row = out.quarantine.first()
    out.release()
    assert (row.source_file, row.line_number, row.dt) == (None, None, "2024-01-01")
    assert json.loads(row.record) == {"id": "a", "quantity": -1, "dt": "2024-01-01"}


def test_fail_rules_are_reported_and_rows_are_kept(orders):
    rules = [*RULES, RowRule("small_quantity", "quantity < 5", "fail")]
    out = apply_rules(orders, rules, "silver.orders")
    out.release()
    # o5 (5) breaks it and o4 (NULL) breaks it; o4 is also quarantined by a drop rule.
    assert out.failed_rules == {"small_quantity": 2}
    assert out.violations["small_quantity"] == 2
    assert out.rows_in == out.rows_published + out.rows_quarantined == 5


def test_no_rules_passes_everything(orders):
    out = apply_rules(orders, [], "silver.orders")
    out.release()
    assert (out.rows_in, out.rows_published, out.rows_quarantined) == (5, 5, 0)
    assert out.quarantine.count() == 0
    assert out.violations == {} and out.failed_rules == {}


def test_accounting_holds_on_an_empty_frame(spark):
    df = spark.createDataFrame([], SCHEMA)
    out = apply_rules(df, RULES, "silver.orders")
    out.release()
    assert (out.rows_in, out.rows_published, out.rows_quarantined) == (0, 0, 0)
    assert out.violations == {"positive_quantity": 0, "known_currency": 0, "not_gbp": 0}


@pytest.mark.parametrize(
    "expr",
    [
        "quantity >",  # does not parse
        "no_such_column > 0",  # does not resolve
        "sum(quantity) > 0",  # an aggregate is not a row rule
        "quantity + 1",  # not boolean
    ],
)
def test_bad_expression_names_the_rule(orders, expr):
    with pytest.raises(ValueError) as err:
        apply_rules(orders, [RowRule("ok", "quantity > 0"), RowRule("broken_rule", expr)], "silver.orders")
    assert "broken_rule" in str(err.value) and expr in str(err.value)


def test_counts_and_null_rates_per_day(orders):
    out = apply_rules(orders, RULES, "silver.orders", required=("quantity", "order_id", "not_a_column"))
    try:
        first, second = out.by_day["2024-01-01"], out.by_day["2024-01-02"]
        assert (first["rows_in"], first["rows_published"], first["rows_quarantined"]) == (3, 1, 2)
        assert (second["rows_in"], second["rows_published"], second["rows_quarantined"]) == (2, 1, 1)
        assert (first["violations.positive_quantity"], second["violations.positive_quantity"]) == (2, 1)
        assert (second["violations.not_gbp"], first["violations.known_currency"]) == (1, 1)
        assert (first["null_rate.quantity"], second["null_rate.quantity"]) == (0.0, 0.5)
        assert second["null_rate.order_id"] == 0.0 and "null_rate.not_a_column" not in second
        assert sum(d["rows_in"] for d in out.by_day.values()) == out.rows_in
    finally:
        out.release()
