"""The security suite's small warehouse and its corpus of bad reads, shared by test_security (through the Python
API and the CLI) and the service tests (the same reads over HTTP).

The tables are shaped like the real ones: silver orders, pseudonymized customers, raw customers (bronze) and two
quarantines holding a raw email; each test module writes them with its own writer.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import pyarrow as pa

from lakehouse.errors import LakehouseError, ReadOnlyQueryError
from lakehouse.quality.quarantine import quarantine_table
from lakehouse.query import QuerySyntaxError, UnknownTableError
from lakehouse.query.guard import QueryTooComplexError
from lakehouse.query.limits import QueryLimitError
from lakehouse.query.scopes import AccessDeniedError

DAY = "2024-06-03"
SALT = "test-salt-for-the-security-suite"
RAW_EMAIL, RAW_PHONE = "ann.lee@example.com", "+1 (415) 555-0134"
EMAIL_HASH = hashlib.sha256((SALT + RAW_EMAIL).encode()).hexdigest()
ORDERS = 2000  # enough for a self-join to outrun a short timeout and a small memory limit
REGIONS = ["apac", "eu", "us"]


def security_tables() -> dict[str, pa.Table]:
    """{table id: rows} of the suite's warehouse."""
    return {
        "silver.orders": pa.table({
            "order_id": [f"o-{i:05d}" for i in range(ORDERS)], "customer_id": [f"c{i % 50}" for i in range(ORDERS)],
            "region": [REGIONS[i % 3] for i in range(ORDERS)], "amount": [float(i % 97) for i in range(ORDERS)],
            "dt": [DAY] * ORDERS}),
        "silver.customers": pa.table({
            "customer_id": ["c1", "c2"], "display_name": ["Ann L.", None], "email_hash": [EMAIL_HASH, None],
            "email_masked": ["a***@example.com", None], "email_domain": ["example.com", None],
            "phone_masked": ["***0134", None], "country": ["US", "CA"], "dt": [DAY, DAY]}),
        "bronze.shop_customers": pa.table({
            "customer_id": ["c1"], "first_name": ["Ann"], "last_name": ["Lee"], "email": [RAW_EMAIL],
            "phone": [RAW_PHONE], "dt": [DAY]}),
        "quarantine.bronze_shop_customers": quarantine_table(
            "bronze.shop_customers", DAY, [{"reason": "unparseable", "record": f"c9,Bo,Ray,{RAW_EMAIL}"}]),
        "quarantine.silver_orders": quarantine_table(
            "silver.orders", DAY, [{"reason": "positive_quantity", "record": {"order_id": "o-1"}}]),
    }


# --- the corpus of bad reads ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Bad:
    sql: str
    error: type[LakehouseError]
    says: str  # part of the one-line message
    scopes: tuple[str, ...] = ()
    limit: int = 1000
    env: dict = field(default_factory=dict)


UNKNOWN, REFUSED, DENIED, LIMIT = UnknownTableError, ReadOnlyQueryError, AccessDeniedError, QueryLimitError
SELF_JOIN_3 = "SELECT count(*) FROM silver.orders a, silver.orders b, silver.orders c"


def tenfold(levels: int) -> str:
    """A string of 10^(levels + 1) characters built by nested replace() (repeat() is not on the allow-list)."""
    text = "'xxxxxxxxxx'"
    for _ in range(levels):
        text = f"replace({text}, 'x', 'xxxxxxxxxx')"
    return text


# the probe's cases that DuckDB's own limits did not stop (2.4-14.4 GB and 54 s under 1 GB / 10 s): here with a
# 256 MB limit or a 2 s timeout, so the suite stays light
PROBE_MEMORY = {"LAKEHOUSE_QUERY_MEMORY_MB": "256"}
CORPUS = {
    # system views behind a CTE of the same name, in every scope
    "cte-pg_settings": Bad("WITH pg_settings AS (SELECT * FROM pg_settings) SELECT name, setting FROM pg_settings",
                           UNKNOWN, "unknown table 'pg_settings'"),
    "cte-derived-duckdb_databases": Bad("SELECT database_name, path FROM (WITH duckdb_databases AS (SELECT 1) "
                                        "SELECT 1) a, duckdb_databases", UNKNOWN, "unknown table 'duckdb_databases'"),
    "cte-sqlite_master": Bad("WITH sqlite_master AS (SELECT * FROM sqlite_master) SELECT * FROM sqlite_master",
                             UNKNOWN, "unknown table 'sqlite_master'"),
    "cte-nested-duckdb_settings": Bad("SELECT * FROM silver.orders WHERE region IN (WITH duckdb_settings AS "
                                      "(SELECT name FROM duckdb_settings) SELECT name FROM duckdb_settings)",
                                      UNKNOWN, "unknown table 'duckdb_settings'"),
    "cte-forward-reference": Bad("WITH a AS (SELECT * FROM b), b AS (SELECT 1 AS x) SELECT * FROM a",
                                 UNKNOWN, "unknown table 'b'"),
    "cte-sibling-union": Bad("(WITH duckdb_views AS (SELECT 1) SELECT * FROM duckdb_views) UNION ALL "
                             "(SELECT 1 FROM duckdb_views)", UNKNOWN, "unknown table 'duckdb_views'"),
    # WITH RECURSIVE: the body's own name is the catalog's view unless it is in the recursive term of a UNION
    "recursive-pg_settings": Bad("WITH RECURSIVE pg_settings AS (SELECT * FROM pg_settings) SELECT name, setting "
                                 "FROM pg_settings", UNKNOWN, "unknown table 'pg_settings'"),
    **{f"recursive-{view}": Bad(f"WITH RECURSIVE {view} AS (SELECT * FROM {view}) SELECT * FROM {view}", UNKNOWN,
                                f"unknown table '{view}'")
       for view in ("duckdb_views", "duckdb_databases", "duckdb_columns", "sqlite_master")},
    "recursive-first-branch": Bad("WITH RECURSIVE duckdb_views AS (SELECT sql FROM duckdb_views UNION ALL SELECT "
                                  "'x') SELECT * FROM duckdb_views", UNKNOWN, "unknown table 'duckdb_views'"),
    # a CTE name with a look-alike letter (U+212A KELVIN SIGN for k): DuckDB reads its catalog's duckdb_views
    "kelvin-sign-cte": Bad("WITH duc\u212adb_views AS (SELECT 1 AS sql) SELECT sql FROM duckdb_views", REFUSED,
                           "differ only in look-alike characters"),
    # engine catalogs and files by name
    "pg_catalog": Bad("SELECT * FROM pg_catalog.pg_settings", UNKNOWN, "unknown table 'pg_catalog.pg_settings'"),
    "information_schema": Bad("SELECT * FROM information_schema.tables", UNKNOWN, "information_schema.tables"),
    "system-catalog": Bad("SELECT * FROM system.main.duckdb_settings", UNKNOWN, "system.main.duckdb_settings"),
    "from-first-view": Bad("FROM duckdb_secrets", UNKNOWN, "unknown table 'duckdb_secrets'"),
    "file-as-table": Bad("SELECT * FROM '/etc/passwd'", UNKNOWN, "'/etc/passwd'"),
    "old-hidden-name": Bad("SELECT * FROM __lh_silver__orders", UNKNOWN, "__lh_silver__orders"),
    # table functions and functions off the allow-list
    "lateral-range": Bad("SELECT count(*) FROM silver.orders, LATERAL range(3)", REFUSED, "table function range("),
    "generate_series-table": Bad("SELECT * FROM generate_series(1, 3)", REFUSED, "table function generate_series("),
    "test_all_types": Bad("SELECT * FROM test_all_types()", REFUSED, "table function test_all_types()"),
    "repeat_row": Bad("SELECT * FROM repeat_row(1, num_rows=3)", REFUSED, "table function repeat_row("),
    "checkpoint-call": Bad("SELECT checkpoint()", REFUSED, "function checkpoint() is not on the allow-list"),
    "duckdb_settings-fn": Bad("SELECT * FROM duckdb_settings()", REFUSED, "table function duckdb_settings()"),
    "pragma-fn": Bad("SELECT * FROM pragma_version()", REFUSED, "table function pragma_version()"),
    "read_csv": Bad("SELECT * FROM read_csv('/etc/passwd')", REFUSED, "read_csv('/etc/passwd')"),
    "read_parquet-join": Bad("SELECT * FROM silver.orders, read_parquet('s3://b/x.parquet')", REFUSED,
                             "read_parquet("),
    "query-fn": Bad("SELECT * FROM query('SELECT * FROM pg_settings')", REFUSED, "table function query("),
    "getenv": Bad("SELECT getenv('HOME')", REFUSED, "function getenv('HOME')"),
    "current_setting": Bad("SELECT current_setting('memory_limit')", REFUSED, "current_setting"),
    "method-call-reader": Bad("SELECT '/etc/hosts'.read_text()", REFUSED, "read_text()"),
    "repeat-amplifier": Bad("SELECT repeat('x', 1000000000)", REFUSED, "function repeat("),
    "range-scalar": Bad("SELECT range(1000000000)", REFUSED, "is not on the allow-list"),
    # statements that are not one read-only query
    "drop": Bad("DROP TABLE silver.orders", REFUSED, "refused: DROP statement"),
    "two-statements": Bad("SELECT 1; SELECT * FROM pg_settings", REFUSED, "2 statements given"),
    "attach": Bad("ATTACH '/tmp/other.duckdb' AS other", REFUSED, "ATTACH"),
    "set": Bad("SET enable_external_access = true", REFUSED, "SET"),
    "copy-out": Bad("COPY silver.orders TO '/tmp/out.csv'", REFUSED, "COPY"),
    "install": Bad("INSTALL httpfs", REFUSED, "INSTALL"),
    "pivot": Bad("PIVOT silver.orders ON region USING sum(amount)", REFUSED, "PIVOT statement"),
    "summarize": Bad("SUMMARIZE silver.orders", REFUSED, "SUMMARIZE statement"),
    "select-into": Bad("SELECT * INTO stolen FROM silver.orders", REFUSED, "SELECT ... INTO"),
    # raw data needs the raw scope; a scope must exist
    "bronze-without-raw": Bad("SELECT email FROM bronze.shop_customers", DENIED,
                              "bronze.shop_customers holds raw data (rows as received)"),
    "bronze-glue-name": Bad("SELECT * FROM lh_bronze.shop_customers", DENIED, "needs the raw scope"),
    "bronze-in-cte": Bad("WITH c AS (SELECT * FROM bronze.shop_customers) SELECT count(*) FROM c", DENIED,
                         "needs the raw scope"),
    "quarantine-without-raw": Bad("SELECT record FROM quarantine.silver_orders", DENIED,
                                  "quarantine.silver_orders holds raw data", scopes=("pii",)),
    "unknown-scope": Bad("SELECT 1", DENIED, "unknown scope 'admin'", scopes=("admin",)),
    # limits: rows, time, memory
    "absurd-limit": Bad("SELECT * FROM silver.orders", LIMIT, "from 1 to 1,000,000, not 100000000000000000000000",
                        limit=10**23),
    "zero-limit": Bad("SELECT * FROM silver.orders", LIMIT, "from 1 to 1,000,000, not 0", limit=0),
    "runaway-self-join": Bad(SELF_JOIN_3, LIMIT, "stopped after 0.5 s, the statement timeout",
                             env={"LAKEHOUSE_QUERY_TIMEOUT": "0.5"}),
    "memory-hog": Bad("SELECT count(DISTINCT a.order_id || b.order_id) FROM silver.orders a, silver.orders b",
                      LIMIT, "needs more than 16 MB of memory", env={"LAKEHOUSE_QUERY_MEMORY_MB": "16"}),
    "probe-replace-1e9": Bad(f"SELECT length({tenfold(8)}) AS n", LIMIT, "stopped after 2 s, the statement timeout",
                             env={"LAKEHOUSE_QUERY_TIMEOUT": "2"}),  # one call DuckDB cannot interrupt: killed
    "probe-list-transform-square": Bad(f"WITH a AS (SELECT string_split({tenfold(3)}, '') AS l) "
                                       "SELECT len(flatten(list_transform(l, x -> l))) AS n FROM a", LIMIT,
                                       "needs more than 256 MB of memory", env=PROBE_MEMORY),
    "probe-unnest-string-split": Bad(f"SELECT count(*) AS n FROM (SELECT unnest(string_split({tenfold(7)}, '')))",
                                     LIMIT, "needs more than 256 MB of memory", env=PROBE_MEMORY),
    # nesting and parsing
    "deep-parentheses": Bad("SELECT " + "(" * 42 + "1" + ")" * 42, QueryTooComplexError, "nests too deeply"),
    "deep-not": Bad("SELECT " + "NOT " * 500 + "true", QueryTooComplexError, "nests too deeply"),
    "empty": Bad("   ", QuerySyntaxError, "no SQL given"),
}
