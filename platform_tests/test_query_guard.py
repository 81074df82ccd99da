"""The query guard on its own (no engine, no data): CTE names resolved by scope, the function allow-list, and
nesting. The corpus of refused reads with their messages, run end to end, is in test_security.py."""
from __future__ import annotations

import pytest
import sqlglot
from sqlglot import exp

from lakehouse.errors import ReadOnlyQueryError
from lakehouse.query import UnknownTableError, check
from lakehouse.query.functions import allowed, call_text, is_allowed
from lakehouse.query.guard import MAX_NESTING, QueryTooComplexError, _nesting

RAW = frozenset({"read", "raw"})


@pytest.mark.parametrize("sql, tables", [
    ("WITH recent AS (SELECT * FROM silver.orders) SELECT * FROM recent", ["silver.orders"]),
    # a CTE may borrow a system view's name: it is the CTE that is read, never the view
    ("WITH pg_settings AS (SELECT region FROM silver.orders) SELECT * FROM pg_settings", ["silver.orders"]),
    ("WITH a AS (SELECT 1 AS x), b AS (SELECT * FROM a) SELECT * FROM b", []),
    ("WITH a AS (SELECT 1 AS x) SELECT * FROM a UNION ALL SELECT * FROM a", []),
    ("WITH a AS (SELECT 1 AS x) SELECT * FROM (SELECT * FROM a) s JOIN a USING (x)", []),
    ("WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 3) SELECT * FROM t", []),
    # the recursive term (the last branch of the body's UNION) reads the CTE itself, at any depth
    ("WITH RECURSIVE t(n) AS (SELECT 1 UNION SELECT n + 1 FROM (SELECT * FROM t) s WHERE n < 3) SELECT * FROM t", []),
    ("WITH RECURSIVE pg_settings(n) AS ((SELECT 1 UNION ALL SELECT 2) UNION ALL SELECT n + 1 FROM pg_settings "
     "WHERE n < 3) SELECT * FROM pg_settings", []),
    ('WITH "PG_SETTINGS" AS (SELECT region FROM silver.orders) SELECT * FROM pg_settings', ["silver.orders"]),
    ("SELECT * FROM (WITH a AS (SELECT region FROM silver.orders) SELECT * FROM a) s", ["silver.orders"]),
])
def test_cte_names_are_resolved_where_they_are_visible(lakehouse_env, sql, tables):
    assert sorted(t.id for t in check(sql, lakehouse_env).tables) == tables


@pytest.mark.parametrize("sql, name", [
    ("WITH pg_settings AS (SELECT * FROM pg_settings) SELECT name, setting FROM pg_settings", "pg_settings"),
    ("SELECT database_name, path FROM (WITH duckdb_databases AS (SELECT 1) SELECT 1) a, duckdb_databases",
     "duckdb_databases"),
    ("WITH sqlite_master AS (SELECT * FROM sqlite_master) SELECT * FROM sqlite_master", "sqlite_master"),
    # a CTE sees only the CTEs before it
    ("WITH a AS (SELECT * FROM b), b AS (SELECT * FROM pg_settings) SELECT * FROM a", "'b'"),
    # a CTE of an inner query is not visible outside it, nor in a sibling branch
    ("SELECT * FROM (WITH duckdb_tables AS (SELECT 1) SELECT * FROM duckdb_tables) t, duckdb_tables",
     "duckdb_tables"),
    ("(WITH pg_roles AS (SELECT 1) SELECT * FROM pg_roles) UNION ALL (SELECT * FROM pg_roles)", "pg_roles"),
    ("WITH x AS (SELECT 1) SELECT * FROM (WITH duckdb_views AS (SELECT * FROM duckdb_views) "
     "SELECT * FROM duckdb_views)", "duckdb_views"),
    # WITH RECURSIVE: DuckDB binds a CTE's own name to the CTE only in the recursive term of a UNION body
    *((f"WITH RECURSIVE {view} AS (SELECT * FROM {view}) SELECT * FROM {view}", view)
      for view in ("pg_settings", "duckdb_views", "duckdb_databases", "duckdb_columns", "sqlite_master")),
    ("WITH RECURSIVE pg_settings AS (SELECT count(*) AS x FROM pg_settings UNION ALL SELECT 1) "
     "SELECT * FROM pg_settings", "pg_settings"),  # the first branch
    ("WITH RECURSIVE pg_settings AS ((SELECT count(*) AS x FROM pg_settings UNION ALL SELECT 2) UNION ALL "
     "SELECT 3) SELECT * FROM pg_settings", "pg_settings"),  # a branch of the first branch
    ("WITH RECURSIVE pg_settings AS (SELECT 167 AS x INTERSECT SELECT count(*) FROM pg_settings) "
     "SELECT * FROM pg_settings", "pg_settings"),  # INTERSECT and EXCEPT do not recurse
    ("WITH RECURSIVE pg_settings AS (SELECT * FROM (SELECT 1 AS x UNION SELECT count(*) FROM pg_settings)) "
     "SELECT * FROM pg_settings", "pg_settings"),  # a UNION inside a subquery does not either
    ("WITH RECURSIVE a AS (SELECT 1 AS x), duckdb_views AS (SELECT count(*) FROM duckdb_views) "
     "SELECT * FROM duckdb_views", "duckdb_views"),
])
def test_a_cte_never_unlocks_the_view_it_is_named_after(lakehouse_env, sql, name):
    with pytest.raises(UnknownTableError, match=f"unknown table .*{name}"):
        check(sql, lakehouse_env)


KELVIN = "\u212a"  # K, which Python lower-cases to k and DuckDB does not


@pytest.mark.parametrize("cte, reference", [
    (f"duc{KELVIN}db_views", "duckdb_views"), (f'"duc{KELVIN}db_views"', "duckdb_views"),
    ("duckdb_views", f"duc{KELVIN}db_views"), ('"ＤＵＣＫＤＢ_VIEWS"', "duckdb_views"),  # fullwidth letters
    ('"pg_ſettings"', "pg_settings"), ("Äb", "äb"),  # long s; a non-ASCII capital
])
def test_names_that_only_look_alike_are_refused(lakehouse_env, cte, reference):
    with pytest.raises(ReadOnlyQueryError, match="differ only in look-alike characters"):
        check(f"WITH {cte} AS (SELECT 1 AS x) SELECT * FROM {reference}", lakehouse_env)


@pytest.mark.parametrize("cte, reference, a_cte", [
    ("DUCKDB_VIEWS", "duckdb_views", True), ('"Duckdb_Views"', "duckdb_views", True),
    (f"duc{KELVIN}db_views", "duckdb_views", False), ("Äb", "äb", False), ('"e\u0301"', '"\u00e9"', False),
    ('"ﬁ"', "fi", False),
])
def test_the_guard_takes_a_name_for_a_cte_only_when_duckdb_does(lakehouse_env, cte, reference, a_cte):
    """Against DuckDB itself: when the guard lets a name through as a CTE, DuckDB reads the CTE too."""
    import duckdb

    sql = f"WITH {cte} AS (SELECT 42 AS x) SELECT * FROM {reference}"
    try:
        guard_says_cte = check(sql, lakehouse_env).tables == []
    except (ReadOnlyQueryError, UnknownTableError):
        guard_says_cte = False
    try:
        duckdb_reads_cte = duckdb.connect().sql(sql).fetchall() == [(42,)]
    except duckdb.Error:  # no such table
        duckdb_reads_cte = False
    assert guard_says_cte == a_cte and duckdb_reads_cte == a_cte


@pytest.mark.parametrize("expression", [
    "count(*)", "count(DISTINCT region)", "sum(amount)", "avg(quantity)", "min(dt)", "max(order_ts)",
    "median(amount)", "quantile_cont(amount, 0.9)", "approx_count_distinct(customer_id)", "stddev(amount)",
    "string_agg(region, ',')", "list(region)", "array_agg(region)", "arg_max(region, amount)", "any_value(region)",
    "count_if(amount > 10)", "bool_or(amount > 10)",
    "row_number() OVER (PARTITION BY region ORDER BY amount)", "lag(amount) OVER (ORDER BY dt)",
    "rank() OVER (ORDER BY amount DESC)", "sum(amount) OVER (PARTITION BY dt)",
    "lower(region)", "upper(trim(region))", "length(region)", "substr(region, 1, 2)", "concat(region, '-', dt)",
    "replace(region, 'e', 'a')", "regexp_extract(region, '[a-z]+')", "split_part(region, '_', 1)",
    "coalesce(region, 'none')", "nullif(region, '')", "greatest(amount, 0)", "round(amount, 2)", "abs(amount)",
    "date_trunc('month', order_ts)", "strftime(order_ts, '%Y-%m')", "extract(year FROM order_ts)",
    "date_diff('day', order_date, current_date)", "order_date + INTERVAL 1 DAY", "CAST(amount AS DOUBLE)",
    "TRY_CAST(dt AS DATE)", "amount::VARCHAR", "CASE WHEN amount > 10 THEN 'big' ELSE 'small' END",
    "if(amount > 10, 'big', 'small')", "md5(region)", "sha256(region)", "[1, 2][1]", "{'a': 1}.a",
    "json_extract_string('{\"a\": 1}', '$.a')", "list_sort([3, 1])", "unnest([1, 2])", "epoch(order_ts)",
])
def test_everyday_functions_are_on_the_allow_list(lakehouse_env, expression):
    check(f"SELECT {expression} FROM silver.orders GROUP BY ALL", lakehouse_env)


@pytest.mark.parametrize("where", [
    "region = 'EU' AND amount > 10", "region = 'EU' OR amount > 10",
    "NOT (region = 'EU' AND amount > 10) OR dt = '2024-06-03'",
])
def test_boolean_connectives_are_syntax_not_functions(lakehouse_env, where):
    check(f"SELECT count(*) FROM silver.orders WHERE {where}", lakehouse_env)


def test_what_a_connective_joins_is_still_checked(lakehouse_env):
    with pytest.raises(Exception, match="current_setting"):
        check("SELECT 1 FROM silver.orders WHERE amount > 1 AND current_setting('threads') = '1'", lakehouse_env)


@pytest.mark.parametrize("sql, message", [
    ("SELECT count(*) FROM silver.fx_rates, LATERAL range(3)", "table function range(0, 3)"),
    ("SELECT * FROM silver.orders, generate_series(1, 3)", "table function generate_series(1, 3)"),
    ("SELECT * FROM test_all_types()", "table function test_all_types()"),
    ("SELECT * FROM repeat_row(1, num_rows=3)", "table function repeat_row(1, num_rows = 3)"),
    ("SELECT checkpoint()", "function checkpoint() is not on the allow-list"),
    ("SELECT range(5)", "function range(0, 5) is not on the allow-list"),
    ("SELECT 'x'.read_text()", "function read_text() is not on the allow-list"),
    ("SELECT upper(version())", "function version() is not on the allow-list"),
    ("SELECT * FROM silver.orders WHERE region IN (SELECT current_setting('threads'))", "current_setting"),
])
def test_anything_off_the_allow_list_is_refused(lakehouse_env, sql, message):
    with pytest.raises(ReadOnlyQueryError, match="refused: ") as err:
        check(sql, lakehouse_env)
    assert message in str(err.value)


def test_no_table_function_or_engine_function_is_allowed():
    names, types = allowed()
    for name in ("range", "generate_series", "read_csv", "read_parquet", "glob", "getenv", "query", "query_table",
                 "current_setting", "repeat", "repeat_row", "checkpoint", "test_all_types", "lpad", "printf",
                 "duckdb_settings", "pragma_version", "sniff_csv", "delta_scan", "load_aws_credentials"):
        assert name not in names
        node = sqlglot.parse_one(f"SELECT {name}('x', 1)", read="duckdb").expressions[0]
        assert not is_allowed(node), name
    assert exp.GenerateSeries not in types and exp.ReadCSV not in types


def test_a_refused_call_is_shown_short_and_as_written():
    node = sqlglot.parse_one("SELECT read_csv('" + "x" * 200 + "')", read="duckdb").expressions[0]
    assert call_text(node).startswith("read_csv('xxx") and len(call_text(node)) == 60


@pytest.mark.parametrize("sql", [
    "SELECT " + "(" * 60 + "1" + ")" * 60,
    "SELECT * FROM " + "(SELECT * FROM " * 40 + "silver.orders" + ")" * 40,
    "SELECT " + "NOT " * 400 + "true",
    "SELECT " + "CASE WHEN true THEN " * 80 + "1" + " END" * 80,
])
def test_deep_nesting_is_one_clear_refusal(lakehouse_env, sql):
    with pytest.raises(QueryTooComplexError, match="refused: the query nests too deeply"):
        check(sql, lakehouse_env)


def test_nesting_ignores_parentheses_in_strings_and_comments(lakehouse_env):
    assert _nesting("SELECT '((((' AS a, \"(((\" -- ((((\n FROM t") == 0
    check("SELECT '" + "(" * (MAX_NESTING + 5) + "' AS x FROM silver.orders", lakehouse_env)
    check("SELECT " + "(" * MAX_NESTING + "1" + ")" * MAX_NESTING + " AS x FROM silver.orders", lakehouse_env)


def test_raw_tables_need_the_raw_scope_at_the_guard(lakehouse_env):
    assert [t.id for t in check("SELECT * FROM bronze.shop_orders", lakehouse_env, RAW).tables] == ["bronze.shop_orders"]
