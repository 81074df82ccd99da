"""The read-only query layer: the guard, DuckDB over real Delta/Parquet files (local and S3 on moto), Athena on
moto, catalog listing and the CLI. No Spark: tables are published from Arrow."""
from __future__ import annotations

import json
import urllib.request
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc
import pytest
import sqlglot

from lakehouse import cli
from lakehouse.config import Settings
from lakehouse.errors import LakehouseError, ReadOnlyQueryError
from lakehouse.pipeline.registry import get_spec
from lakehouse.query import QuerySyntaxError, UnknownTableError, check, describe, execute, list_databases, list_tables
from lakehouse.query import run_query
from lakehouse.query.guard import CheckedQuery
from lakehouse.query.local import LocalQueryError, connect, run_local, scan_tables
from lakehouse.query.result import TRUNCATED_KEY
from lakehouse.resources import LakehouseResource
from lakehouse.storage.filesystem import list_files

DAYS = ["2024-06-03", "2024-06-04"]


def run_query_env(sql: str, **kwargs) -> pa.Table:
    """run_query with the environment's settings, as the command line resolves them."""
    return run_query(sql, settings=Settings.from_env(), **kwargs)


def execute_env(sql: str, **kwargs):
    return execute(sql, settings=Settings.from_env(), **kwargs)


def orders(days=DAYS, per_day=3) -> pa.Table:
    rows = [{"order_id": f"o-{d}-{i}", "region": ["eu", "us", "apac"][i % 3], "quantity": i + 1,
             "amount": Decimal(f"{10 * (i + 1)}.50"), "dt": d} for d in days for i in range(per_day)]
    return pa.Table.from_pylist(rows, schema=pa.schema([
        ("order_id", pa.string()), ("region", pa.string()), ("quantity", pa.int32()),
        ("amount", pa.decimal128(18, 2)), ("dt", pa.string())]))


def publish(spec_id: str, table: pa.Table) -> LakehouseResource:
    lakehouse = LakehouseResource()
    lakehouse.publish(get_spec(spec_id), table, sorted(set(table.column("dt").to_pylist())))
    return lakehouse


# --- guard -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("sql, kind", [
    ("INSERT INTO silver.orders VALUES ('x')", "INSERT"),
    ("UPDATE silver.orders SET region = 'eu'", "UPDATE"),
    ("DELETE FROM silver.orders WHERE dt = '2024-06-03'", "DELETE"),
    ("MERGE INTO silver.orders o USING silver.orders n ON o.order_id = n.order_id WHEN MATCHED THEN DELETE", "MERGE"),
    ("CREATE TABLE x AS SELECT * FROM silver.orders", "CREATE"),
    ("DROP TABLE silver.orders", "DROP"),
    ("ALTER TABLE silver.orders ADD COLUMN y INT", "ALTER"),
    ("COPY silver.orders TO '/tmp/out.csv'", "COPY"),
    ("ATTACH '/tmp/other.duckdb' AS other", "ATTACH"),
    ("PRAGMA database_list", "PRAGMA"),
    ("SET enable_external_access = true", "SET"),
    ("CALL duckdb_settings()", "CALL"),
    ("EXPORT DATABASE '/tmp/dump'", "EXPORT"),
    ("INSTALL httpfs", "INSTALL"),
    ("LOAD httpfs", "LOAD"),
    ("DESCRIBE silver.orders", "DESCRIBE"),
    ("CHECKPOINT", "CHECKPOINT"),
    ("SELECT * INTO copy_of_orders FROM silver.orders", "INTO"),
    ("SELECT 1; DROP TABLE silver.orders", "2 statements"),
])
def test_guard_refuses_anything_but_one_query(lakehouse_env, sql, kind):
    with pytest.raises(ReadOnlyQueryError, match="refused") as err:
        check(sql, lakehouse_env)
    assert kind in str(err.value)


@pytest.mark.parametrize("sql, name", [
    ("SELECT * FROM read_csv('/etc/passwd')", "read_csv"),
    ("SELECT * FROM read_parquet('s3://bucket/x.parquet')", "read_parquet"),
    ("SELECT * FROM read_json('https://example.com/x.json')", "read_json"),
    ("SELECT * FROM glob('/home/*')", "glob"),
    ("SELECT * FROM delta_scan('file:///tmp/t')", "delta_scan"),
    ("SELECT * FROM iceberg_scan('s3://b/t')", "iceberg_scan"),
    ("SELECT o.*, f.* FROM silver.orders o, read_text('/etc/hosts') f", "read_text"),
    ("SELECT * FROM silver.orders, generate_series(1, 3)", "table function"),
    ("SELECT getenv('HOME')", "getenv"),
])
def test_guard_refuses_file_and_url_readers(lakehouse_env, sql, name):
    with pytest.raises(ReadOnlyQueryError, match=name):
        check(sql, lakehouse_env)


def test_guard_refuses_unknown_tables_with_close_matches(lakehouse_env):
    with pytest.raises(UnknownTableError, match="did you mean silver.orders"):
        check("SELECT * FROM silver.order", lakehouse_env)
    with pytest.raises(UnknownTableError, match="known tables: .*gold.daily_sales_summary"):
        check("SELECT * FROM information_schema.tables", lakehouse_env)
    with pytest.raises(UnknownTableError, match="'/etc/passwd'"):
        check("SELECT * FROM '/etc/passwd'", lakehouse_env)


def test_guard_reports_the_parser_message(lakehouse_env):
    with pytest.raises(QuerySyntaxError, match=r"SQL does not parse: .*'WHERE'.*line 1"):
        check("SELECT FROM WHERE", lakehouse_env)


def test_guard_accepts_queries_ctes_unions_and_glue_names(lakehouse_env):
    settings = lakehouse_env.with_(glue_prefix="lh")
    checked = check("WITH recent AS (SELECT * FROM silver.orders WHERE dt >= '2024-06-01') "
                    "SELECT r.region FROM recent r JOIN LH_GOLD.daily_sales_summary g USING (region) "
                    "UNION ALL SELECT record FROM quarantine.silver_orders", settings, frozenset({"read", "raw"}))
    assert sorted(t.id for t in checked.tables) == ["gold.daily_sales_summary", "quarantine.silver_orders",
                                                    "silver.orders"]


# --- local engine: results, pushdown, lockdown, limit -----------------------------------------------------

@pytest.mark.parametrize("fmt", ["delta", "parquet"])
def test_local_query_returns_what_was_published(lakehouse_env, monkeypatch, fmt):
    monkeypatch.setenv("LAKEHOUSE_TABLE_FORMAT", fmt)
    published = orders()
    publish("silver.orders", published)
    got = run_query_env("SELECT * FROM silver.orders ORDER BY order_id")
    assert got.select(published.column_names).to_pylist() == published.sort_by("order_id").to_pylist()
    assert got.schema.field("amount").type == pa.decimal128(18, 2)
    assert got.schema.metadata[TRUNCATED_KEY] == b"false"
    agg = run_query_env("SELECT region, sum(quantity) AS units FROM silver.orders WHERE dt = '2024-06-04' "
                    "GROUP BY region ORDER BY region")
    assert agg.to_pylist() == [{"region": "apac", "units": 3}, {"region": "eu", "units": 1},
                               {"region": "us", "units": 2}]


@pytest.mark.parametrize("fmt", ["delta", "parquet"])
def test_dt_filter_reads_only_that_partition(lakehouse_env, monkeypatch, fmt):
    monkeypatch.setenv("LAKEHOUSE_TABLE_FORMAT", fmt)
    lakehouse = publish("silver.orders", orders())
    # Zero the data pages of every file of the other day (the footer stays readable, so the schema is still
    # known): a query that scanned them would fail.
    uri = lakehouse.uri_of(get_spec("silver.orders"))
    ruined = [f for f in list_files(uri, lakehouse_env) if "dt=2024-06-03" in f.path and f.path.endswith(".parquet")]
    assert ruined
    for f in ruined:
        with open(f.path, "r+b") as fh:
            data = fh.read()
            footer_start = len(data) - 8 - int.from_bytes(data[-8:-4], "little")
            fh.seek(4)
            fh.write(b"\xff" * (footer_start - 4))
    got = run_query_env("SELECT order_id FROM silver.orders WHERE dt = '2024-06-04' ORDER BY 1")
    assert got.column("order_id").to_pylist() == [f"o-2024-06-04-{i}" for i in range(3)]
    with pytest.raises(LocalQueryError, match="query failed in DuckDB"):
        run_query_env("SELECT count(*) FROM silver.orders")


def test_duckdb_is_locked_down_even_without_the_guard(lakehouse_env, tmp_path):
    publish("silver.orders", orders())
    secret = tmp_path / "secret.csv"
    secret.write_text("a,b\n1,2\n")
    checked = check("SELECT * FROM silver.orders", lakehouse_env)
    sql = f"SELECT * FROM read_csv('{secret}')"
    bypass = CheckedQuery(sql, sqlglot.parse_one(sql, read="duckdb"), [])
    with pytest.raises(LocalQueryError, match="disabled by configuration"):
        run_local(bypass, lakehouse_env, 10)
    con = connect(scan_tables(checked, lakehouse_env), lakehouse_env)
    try:
        for statement in ("SET enable_external_access = true", f"ATTACH '{tmp_path}/x.duckdb'",
                          f"COPY (SELECT 1) TO '{tmp_path}/out.csv'"):
            with pytest.raises(Exception, match="locked|disabled by configuration"):
                con.execute(statement)
        assert con.execute("SELECT count(*) FROM silver.orders").fetchone() == (6,)
    finally:
        con.close()
    assert not (tmp_path / "out.csv").exists()


def test_row_limit_is_applied_and_reported(lakehouse_env):
    publish("silver.orders", orders())
    result = execute_env("SELECT * FROM silver.orders ORDER BY order_id", limit=4)
    assert result.table.num_rows == 4 and result.truncated
    assert run_query_env("SELECT * FROM silver.orders", limit=6).schema.metadata[TRUNCATED_KEY] == b"false"
    assert execute_env("SELECT * FROM silver.orders LIMIT 2", limit=4).table.num_rows == 2
    assert not execute_env("SELECT * FROM silver.orders LIMIT 2", limit=4).truncated


def test_quarantine_tables_and_unpublished_tables(lakehouse_env):
    from lakehouse.quality.quarantine import quarantine_table

    spec = get_spec("silver.orders")
    LakehouseResource().write_quarantine(
        spec, quarantine_table("silver.orders", "2024-06-03", [{"reason": "amount < 0", "record": {"id": 1}}]),
        ["2024-06-03"])
    got = run_query_env("SELECT reason, record FROM quarantine.silver_orders", scopes=["raw"])
    assert got.to_pylist() == [{"reason": "amount < 0", "record": '{"id": 1}'}]
    with pytest.raises(LakehouseError, match="gold.business_metrics has no data yet"):
        run_query_env("SELECT * FROM gold.business_metrics")


def test_local_engine_on_s3_with_glue_names(s3_lakehouse_env):
    published = orders()
    publish("silver.orders", published)
    prefix = s3_lakehouse_env.glue_prefix
    got = run_query_env(f"SELECT o.order_id, o.amount FROM {prefix}_silver.orders o WHERE o.dt = '2024-06-03' "
                    "ORDER BY 1")
    assert got.to_pylist() == published.filter(pc.equal(published.column("dt"), "2024-06-03")).select(
        ["order_id", "amount"]).to_pylist()
    assert run_query_env("SELECT count(*) AS n FROM silver.orders").to_pylist() == [{"n": 6}]


# --- hard limits: a worker process per query ---------------------------------------------------------------

def tenfold(levels: int) -> str:
    text = "'xxxxxxxxxx'"
    for _ in range(levels):
        text = f"replace({text}, 'x', 'xxxxxxxxxx')"
    return text


@pytest.fixture
def pool():
    from lakehouse.query.pool import WorkerPool

    workers = WorkerPool(1).warm(wait=True)
    yield workers
    workers.close()


def test_a_query_past_the_memory_cap_is_stopped_and_its_worker_stays_under_it(lakehouse_env, pool):
    """10^4 characters split into a list, the list crossed with itself: 10^8 strings, gigabytes (the probe's
    list_transform squaring reached 2.5 GB under a 1 GB limit). With a 256 MB limit the worker's address space
    is capped at its size when ready + 256 MB + MARGIN_MB, and its resident peak stays below that."""
    from lakehouse.query.limits import QueryMemoryError
    from lakehouse.query.worker import MARGIN_MB

    ready_mb = pool._idle[0].ready["vm_mb"]
    sql = (f"WITH a AS (SELECT string_split({tenfold(3)}, '') AS l) "
           "SELECT len(flatten(list_transform(l, x -> l))) AS n FROM a")
    with pytest.raises(QueryMemoryError, match="needs more than 256 MB of memory, the limit") as err:
        execute(sql, settings=lakehouse_env.with_(query_memory_mb=256), pool=pool)
    assert 0 < err.value.peak_memory_mb < ready_mb + 256 + MARGIN_MB
    assert execute("SELECT 1 AS one", settings=lakehouse_env, pool=pool).table.to_pylist() == [{"one": 1}]


def test_a_query_that_ignores_the_interrupt_is_killed_at_the_timeout(lakehouse_env, pool):
    """One replace() call building 10^9 characters never checks DuckDB's interrupt (the probe's ran on past its
    timeout): the pool kills the worker GRACE seconds after the timeout and starts another."""
    import os
    import time

    from lakehouse.query.limits import QueryTimeoutError
    from lakehouse.query.pool import GRACE

    [before] = pool.pids
    began = time.monotonic()
    with pytest.raises(QueryTimeoutError, match="stopped after 1 s, the statement timeout"):
        execute(f"SELECT length({tenfold(8)}) AS n", settings=lakehouse_env.with_(query_timeout=1.0), pool=pool)
    assert 1.0 <= time.monotonic() - began < 1.0 + GRACE + 2
    with pytest.raises(ProcessLookupError):
        os.kill(before, 0)  # killed and reaped
    assert pool.pids != [before]
    assert execute("SELECT 2 AS two", settings=lakehouse_env, pool=pool).table.to_pylist() == [{"two": 2}]


def test_a_worker_that_ended_while_idle_is_replaced_without_failing_the_query(lakehouse_env, pool):
    import os
    import signal

    [idle] = pool.pids
    os.kill(idle, signal.SIGKILL)  # the OOM killer, an operator
    assert execute("SELECT 3 AS three", settings=lakehouse_env, pool=pool).table.to_pylist() == [{"three": 3}]
    assert pool.pids and idle not in pool.pids


def test_results_come_back_from_the_worker_masked_and_typed(lakehouse_env, pool):
    from lakehouse.storage.arrow_store import ArrowStore

    store = ArrowStore(lakehouse_env)  # delta-rs: no Spark for this one
    for table_id, table in (("silver.customers", pa.table({"customer_id": ["c1"], "email_hash": ["h1"],
                                                           "dt": ["2024-06-03"]})), ("silver.orders", orders())):
        store.write(table_id, store.uri(*table_id.split(".")), "delta", table, DAYS)
    sql = "SELECT o.order_id, o.amount, c.email_hash FROM silver.orders o, silver.customers c ORDER BY 1 LIMIT 2"
    result = execute(sql, settings=lakehouse_env, pool=pool)
    assert result.table.schema.field("amount").type == pa.decimal128(18, 2)
    assert result.table.column("email_hash").to_pylist() == ["***", "***"] and result.peak_memory_mb > 0
    assert execute(sql, settings=lakehouse_env, pool=pool, scopes=["pii"]).table.column("email_hash")[0].as_py() == "h1"


# --- catalog listing --------------------------------------------------------------------------------------

def test_databases_tables_and_describe_locally(lakehouse_env):
    publish("silver.customers", pa.table({"customer_id": ["c1"], "email_hash": ["h1"], "dt": ["2024-06-03"]}))
    publish("silver.customers", pa.table({"customer_id": ["c2"], "email_hash": ["h2"], "dt": ["2024-06-04"]}))
    dbs = list_databases(lakehouse_env).to_pylist()
    assert [d["database"] for d in dbs] == ["bronze", "silver", "gold", "quarantine", "ops"]
    tables = {t["table"]: t for t in list_tables(lakehouse_env, layer="silver").to_pylist()}
    assert tables["silver.customers"]["partitions"] == 2
    assert tables["silver.customers"]["last_partition"] == "2024-06-04"
    assert tables["silver.orders"]["partitions"] == 0
    assert tables["silver.customers"]["location"].endswith("/silver/customers")
    d = describe("silver.customers", lakehouse_env)
    cols = {c["column"]: c for c in d.columns.to_pylist()}
    assert cols["email_hash"]["pii"] and not cols["customer_id"]["pii"]
    assert cols["customer_id"]["type"] == "string" and "dt" in cols
    assert d.partitions == ["2024-06-03", "2024-06-04"] and d.delta_version == 1
    declared = describe("gold.business_metrics", lakehouse_env)
    assert not declared.has_data and "(declared)" in declared.columns.column("type")[0].as_py()
    with pytest.raises(UnknownTableError, match="did you mean silver.orders"):
        describe("silver.ordrs", lakehouse_env)
    with pytest.raises(UnknownTableError, match="unknown database"):
        list_tables(lakehouse_env, layer="platinum")


def test_catalog_listing_with_glue(s3_lakehouse_env):
    publish("silver.orders", orders())
    prefix = s3_lakehouse_env.glue_prefix
    silver = {d["database"]: d for d in list_databases(s3_lakehouse_env).to_pylist()}["silver"]
    assert silver["glue_database"] == f"{prefix}_silver" and silver["registered"] == 1
    tables = {t["table"]: t for t in list_tables(s3_lakehouse_env, layer="silver").to_pylist()}
    assert tables["silver.orders"]["glue_table"] == f"{prefix}_silver.orders"
    assert tables["silver.customers"]["glue_table"] is None
    assert describe(f"{prefix}_silver.orders", s3_lakehouse_env).glue_table == f"{prefix}_silver.orders"


# --- CLI --------------------------------------------------------------------------------------------------

def test_cli_csv_and_json_output(lakehouse_env, capsys):
    publish("silver.orders", orders())
    sql = "SELECT order_id, amount FROM silver.orders WHERE dt = '2024-06-03' ORDER BY order_id"
    assert cli.main(["query", sql, "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == ['"order_id","amount"', '"o-2024-06-03-0",10.50', '"o-2024-06-03-1",20.50',
                                '"o-2024-06-03-2",30.50']
    assert cli.main(["query", sql, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)[0] == {"order_id": "o-2024-06-03-0", "amount": "10.50"}
    assert cli.main(["query", sql, "--format", "jsonl", "--limit", "2"]) == 0
    captured = capsys.readouterr()
    assert [json.loads(line)["order_id"] for line in captured.out.splitlines()] == ["o-2024-06-03-0",
                                                                                    "o-2024-06-03-1"]
    assert "row limit (2 rows)" in captured.err
    assert cli.main(["query", sql]) == 0
    assert "o-2024-06-03-2" in capsys.readouterr().out  # the rich table
    assert cli.main(["catalog-tables", "--database", "silver", "--format", "csv"]) == 0
    assert "silver.orders" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["query", "DROP TABLE silver.orders"], "refused: DROP statement"),
    (["query", "SELECT * FROM silver.nope"], "unknown table 'silver.nope'"),
    (["query", "SELECT FROM WHERE"], "SQL does not parse"),
    (["query", "SELECT 1", "--engine", "athena"], "LAKEHOUSE_GLUE_PREFIX"),
    (["describe", "gold.nope"], "unknown table 'gold.nope'"),
])
def test_cli_errors_are_one_line_with_exit_code_2(lakehouse_env, capsys, args, message):
    assert cli.main(args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: ") and message in captured.err
    assert len(captured.err.strip().splitlines()) == 1 and "Traceback" not in captured.err


@pytest.mark.parametrize("args", [["status"], ["health"], ["catalog-tables"], ["describe", "silver.orders"],
                                  ["query", "SELECT * FROM silver.orders"]])
def test_an_unreachable_warehouse_is_one_line_naming_it(lakehouse_env, monkeypatch, capsys, args):
    from lakehouse.dev.ports import free_port

    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.setenv("LAKEHOUSE_WAREHOUSE", "s3://dead-bucket/warehouse")
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    assert cli.main(args) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"error: the warehouse s3://dead-bucket/warehouse cannot be read: nothing answers at "
                          f"{endpoint} (AWS_ENDPOINT_URL)")


@pytest.mark.parametrize("variable, value, says", [
    ("LAKEHOUSE_QUERY_TIMEOUT", "1e12", "expected a number of seconds, from 0.1 to 3600"),
    ("LAKEHOUSE_QUERY_TIMEOUT", "inf", "expected a number of seconds, from 0.1 to 3600"),
    ("LAKEHOUSE_QUERY_MEMORY_MB", str(10**9), "(at most this machine's memory), from 16 to "),
])
def test_query_limits_out_of_bounds_are_one_line_naming_the_variable(lakehouse_env, monkeypatch, capsys, variable,
                                                                     value, says):
    monkeypatch.setenv(variable, value)
    assert cli.main(["query", "SELECT 1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {variable}={value!r} is not valid: ") and says in err and err.count("\n") == 1


# --- Athena on moto ---------------------------------------------------------------------------------------

def _moto_post(endpoint: str, path: str, body: dict) -> None:
    request = urllib.request.Request(f"{endpoint}{path}", data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status in (200, 201)


@pytest.fixture
def athena_env(s3_lakehouse_env, s3_bucket, monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_ATHENA_OUTPUT", f"s3://{s3_bucket}/athena-results/")
    return s3_lakehouse_env.with_(athena_output=f"s3://{s3_bucket}/athena-results/")


def _athena_client(endpoint):
    import boto3

    return boto3.client("athena", endpoint_url=endpoint, region_name="us-east-1")


def test_athena_query_is_transpiled_run_and_typed(athena_env, aws_env):
    columns = [{"Name": "region", "Type": "varchar"}, {"Name": "units", "Type": "bigint"},
               {"Name": "revenue", "Type": "decimal", "Precision": 18, "Scale": 2},
               {"Name": "day", "Type": "date"}, {"Name": "last_ts", "Type": "timestamp"},
               {"Name": "share", "Type": "double"}, {"Name": "tags", "Type": "array"}]
    header = {"Data": [{"VarCharValue": c["Name"]} for c in columns]}
    rows = [{"Data": [{"VarCharValue": v} for v in ("eu", "3", "61.50", "2024-06-03", "2024-06-03 10:15:00.000",
                                                    "0.25", "[a, b]")]},
            {"Data": [{"VarCharValue": "us"}, {"VarCharValue": "5"}, {}, {"VarCharValue": "2024-06-04"}, {},
                      {"VarCharValue": "0.75"}, {}]}]
    _moto_post(aws_env, "/moto-api/static/athena/query-results",
               {"results": [{"rows": [header, *rows], "column_info": columns}]})

    prefix = athena_env.glue_prefix
    result = execute("SELECT region, sum(quantity) AS units FROM silver.orders o "
                     "JOIN gold.daily_sales_summary g USING (region) WHERE o.dt = '2024-06-03' GROUP BY region",
                     engine="athena", settings=athena_env, poll=0.01)
    assert result.engine == "athena" and not result.truncated
    assert result.table.schema.types == [pa.string(), pa.int64(), pa.decimal128(18, 2), pa.date32(),
                                         pa.timestamp("us"), pa.float64(), pa.string()]
    first, second = result.table.to_pylist()
    assert first["region"] == "eu" and first["units"] == 3 and first["revenue"] == Decimal("61.50")
    assert str(first["day"]) == "2024-06-03" and first["last_ts"].isoformat() == "2024-06-03T10:15:00"
    assert first["tags"] == "[a, b]"
    assert second["revenue"] is None and second["last_ts"] is None and second["share"] == 0.75

    # What Athena was asked: the Glue names, Athena's dialect, the limit, the result location.
    execution = _athena_client(aws_env).get_query_execution(QueryExecutionId=result.query_id)["QueryExecution"]
    received = execution["Query"]
    assert f'"{prefix}_silver"."orders" AS o' in received
    assert f'"{prefix}_gold"."daily_sales_summary"' in received
    assert received.rstrip().endswith("LIMIT 1001") and received == result.sql
    assert execution["ResultConfiguration"]["OutputLocation"].startswith(athena_env.athena_output)


def test_athena_limit_drops_extra_rows(athena_env, aws_env):
    columns = [{"Name": "n", "Type": "integer"}]
    rows = [{"Data": [{"VarCharValue": "n"}]}] + [{"Data": [{"VarCharValue": str(i)}]} for i in range(4)]
    _moto_post(aws_env, "/moto-api/static/athena/query-results", {"results": [{"rows": rows, "column_info": columns}]})
    result = execute("SELECT quantity AS n FROM silver.orders", engine="athena", settings=athena_env, limit=3,
                     poll=0.01)
    assert result.table.column("n").to_pylist() == [0, 1, 2] and result.truncated
    assert result.sql.endswith("LIMIT 4")


def test_athena_needs_an_output_location(s3_lakehouse_env):
    with pytest.raises(LakehouseError, match="LAKEHOUSE_ATHENA_OUTPUT"):
        execute("SELECT * FROM silver.orders", engine="athena", settings=s3_lakehouse_env.with_(athena_output=None))


def test_athena_query_that_never_finishes_is_stopped(athena_env, aws_env):
    transition = {"model_name": "athena::execution", "transition": {"progression": "manual", "times": 1000}}
    _moto_post(aws_env, "/moto-api/state-manager/set-transition", transition)
    try:
        with pytest.raises(LakehouseError, match="did not finish within 0.3s .*stopped") as err:
            execute("SELECT * FROM silver.orders", engine="athena", settings=athena_env, timeout=0.3, poll=0.05)
    finally:
        _moto_post(aws_env, "/moto-api/state-manager/unset-transition", {"model_name": "athena::execution"})
    query_id = str(err.value).split()[2]
    status = _athena_client(aws_env).get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]
    assert status["State"] == "CANCELLED"


def test_athena_failure_carries_athenas_reason(athena_env, aws_env):
    # moto's executions always succeed, so the FAILED answer is stubbed on a real client
    from botocore.stub import Stubber

    client = _athena_client(aws_env)
    with Stubber(client) as stub:
        stub.add_response("start_query_execution", {"QueryExecutionId": "q-1"})
        stub.add_response("get_query_execution", {"QueryExecution": {"QueryExecutionId": "q-1", "Status": {
            "State": "FAILED", "StateChangeReason": "COLUMN_NOT_FOUND: line 1:8: Column 'nope' cannot be resolved"}}})
        with pytest.raises(LakehouseError, match="q-1 FAILED: COLUMN_NOT_FOUND: .*'nope'"):
            execute("SELECT nope FROM silver.orders", engine="athena", settings=athena_env, client=client)


def test_athena_results_are_paged_until_the_limit(athena_env, aws_env):
    from botocore.stub import Stubber

    def page(values, token=None):
        answer = {"ResultSet": {"Rows": [{"Data": [{"VarCharValue": v}]} for v in values],
                                "ResultSetMetadata": {"ColumnInfo": [{"Name": "n", "Type": "bigint"}]}}}
        return {**answer, "NextToken": token} if token else answer

    client = _athena_client(aws_env)
    with Stubber(client) as stub:
        stub.add_response("start_query_execution", {"QueryExecutionId": "q-2"})
        stub.add_response("get_query_execution", {"QueryExecution": {"Status": {"State": "SUCCEEDED"}}})
        stub.add_response("get_query_results", page(["n", "1", "2"], token="t1"),
                          {"QueryExecutionId": "q-2", "MaxResults": 1000})
        stub.add_response("get_query_results", page(["3", "4"], token="t2"),
                          {"QueryExecutionId": "q-2", "MaxResults": 1000, "NextToken": "t1"})
        # no third page is asked for: four rows already show that a limit of 3 cut the result
        result = execute("SELECT quantity AS n FROM silver.orders", engine="athena", settings=athena_env,
                         client=client, limit=3)
        stub.assert_no_pending_responses()
    assert result.table.column("n").to_pylist() == [1, 2, 3] and result.truncated
