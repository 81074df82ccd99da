"""The query service over HTTP, against a real uvicorn server on 127.0.0.1: every endpoint, keys and scopes,
paging of one kept result, JSON/CSV/Arrow, limits, the audit log, and test_security's corpus of bad reads
replayed over the wire. Tables are written with delta-rs; no Spark here."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import httpx
import pyarrow as pa
import pytest

from lakehouse.config import Settings
from lakehouse.dev.ports import free_port
from lakehouse.errors import ConfigError, ReadOnlyQueryError
from lakehouse.query import QuerySyntaxError, UnknownTableError
from lakehouse.query.guard import QueryTooComplexError
from lakehouse.query.limits import QueryLimitError
from lakehouse.query.scopes import AccessDeniedError
from lakehouse.service.keys import KeyStore
from service_testing import (DAY, DAYS, REGIONS, add_key, add_key_with_unknown_scope, build_lake, client, one_line_error, put,
                             running)
from test_query import _moto_post
from security_lake import CORPUS, EMAIL_HASH, ORDERS, RAW_EMAIL

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> Settings:
    return build_lake(tmp_path_factory.mktemp("service"))


@pytest.fixture(scope="module")
def keys(lake) -> dict[str, str]:
    fast = 100_000  # requests a minute: these keys are not what the rate limit test is about
    return {"reader": add_key(lake, "reader", rate=fast), "analyst": add_key(lake, "analyst", "pii", rate=fast),
            "engineer": add_key(lake, "engineer", "raw", rate=fast), "admin": add_key(lake, "admin", "raw", "pii", rate=fast)}


@pytest.fixture(scope="module")
def url(lake, keys) -> str:
    # the tests here send many bad keys from 127.0.0.1; the limit on them has its own test and server
    with running(lake.with_(serve_auth_failures=10_000)) as base:
        yield base


def api(url: str, keys: dict[str, str], who: str = "reader", **headers):
    return client(url, keys[who], **headers)


def query(url, keys, sql, who="reader", **body):
    with api(url, keys, who) as http:
        return http.post("/v1/query", json={"sql": sql, **body})


# --- health, keys ------------------------------------------------------------------------------------------

def test_health_and_readiness(url, lake, tmp_path):
    with client(url) as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        ready = http.get("/readyz").json()
        assert ready["status"] == "ready" and ready["checks"]["warehouse"] == "present"
    empty = Settings.from_env({"LAKEHOUSE_HOME": str(tmp_path)})
    with running(empty) as bare, client(bare) as http:
        assert http.get("/healthz").status_code == 200
        body = one_line_error(http.get("/readyz"), 503, "not_ready")
        assert "no API keys yet (add one with lakehouse keys add NAME)" in body["message"]
        add_key(empty, "first")
        assert "the warehouse is not there yet" in one_line_error(http.get("/readyz"), 503)["message"]
        empty.serve_keys_file.write_text("{not json")
        body = one_line_error(http.get("/readyz"), 503, "not_ready")
        assert body["message"] == "not ready: the key file cannot be read (see the service log)"
        shaped = {"Authorization": "Bearer lhk_000000000000_" + "A" * 43}
        assert "cannot read its keys" in one_line_error(http.get("/v1/tables", headers=shaped), 503)["message"]


@pytest.mark.parametrize("header", [None, "Bearer nonsense", "Basic dXNlcjpwYXNz",
                                    "Bearer lhk_000000000000_" + "A" * 43])
def test_no_key_or_a_bad_key_is_401(url, header):
    with client(url, **({"Authorization": header} if header else {})) as http:
        for method, path in (("GET", "/v1/databases"), ("GET", "/v1/tables"), ("POST", "/v1/query")):
            response = http.request(method, path, json={"sql": "SELECT 1"} if method == "POST" else None)
            body = one_line_error(response, 401, "unauthorized")
            assert response.headers["www-authenticate"].startswith("Bearer")
            assert ("no API key" if header is None or header.startswith("Basic") else "not valid") in body["message"]


def test_keys_are_stored_hashed_and_a_revoked_key_is_refused_at_once(url, lake):
    key = add_key(lake, "short-lived")
    text = lake.serve_keys_file.read_text()
    assert key not in text and key.split("_", 2)[2] not in text and oct(lake.serve_keys_file.stat().st_mode)[-3:] == "600"
    with client(url, key) as http:
        assert http.get("/v1/databases").status_code == 200
        assert KeyStore(lake.serve_keys_file).revoke("short-lived")
        one_line_error(http.get("/v1/databases"), 401, "unauthorized")  # no restart


def test_keys_add_prints_the_key_once(tmp_path):
    env = {**os.environ, "LAKEHOUSE_HOME": str(tmp_path), "PYTHONPATH": os.path.join(REPO, "platform")}
    run = subprocess.run([sys.executable, "-m", "lakehouse.cli", "keys", "add", "dashboards", "--scope", "pii",
                          "--rate", "30"], capture_output=True, text=True, env=env, cwd=REPO)
    assert run.returncode == 0, run.stderr
    key = run.stdout.strip()
    assert key.startswith("lhk_") and run.stdout.count("\n") == 1 and key not in run.stderr
    assert "only time it is shown" in run.stderr
    entry = KeyStore(tmp_path / "service" / "keys.json").verify(key)
    assert entry.name == "dashboards" and entry.scopes == ("read", "pii") and entry.rate_per_minute == 30
    listed = subprocess.run([sys.executable, "-m", "lakehouse.cli", "keys", "list"], capture_output=True, text=True,
                            env=env, cwd=REPO)
    assert "dashboards" in listed.stdout and key not in listed.stdout and entry.sha256 not in listed.stdout


# --- catalog ------------------------------------------------------------------------------------------------

def test_databases_and_tables(url, keys):
    with api(url, keys) as http:
        databases = http.get("/v1/databases").json()["databases"]
        assert [d["database"] for d in databases] == ["bronze", "silver", "gold", "quarantine", "ops"]
        tables = {t["table"]: t for t in http.get("/v1/tables").json()["tables"]}
        assert tables["silver.orders"]["partitions"] == 1 and tables["silver.orders"]["readable"]
        assert tables["gold.daily_sales_summary"]["last_partition"] == DAYS[-1]
        assert not tables["bronze.shop_customers"]["readable"] and not tables["quarantine.silver_orders"]["readable"]
        gold = http.get("/v1/tables", params={"database": "gold"}).json()["tables"]
        assert gold and {t["database"] for t in gold} == {"gold"}
        assert "unknown database 'platinum'" in one_line_error(http.get("/v1/tables", params={"database": "platinum"}),
                                                              400, "unknown_table")["message"]
    with api(url, keys, "engineer") as http:
        tables = {t["table"]: t for t in http.get("/v1/tables").json()["tables"]}
        assert tables["bronze.shop_customers"]["readable"] and tables["quarantine.silver_orders"]["readable"]


def test_a_tables_schema_with_pii_flags_and_what_this_key_sees_masked(url, keys):
    with api(url, keys) as http:
        schema = http.get("/v1/tables/silver.customers/schema").json()
        columns = {c["name"]: c for c in schema["columns"]}
        assert schema["partitions"] == [DAY] and schema["has_data"] and schema["delta_version"] == 0
        assert columns["email_hash"] == {"name": "email_hash", "type": "string", "pii": True, "masked": True,
                                         "description": columns["email_hash"]["description"]}
        assert not columns["country"]["pii"] and not columns["country"]["masked"]
        declared = http.get("/v1/tables/gold.customer_analytics/schema").json()
        assert not declared["has_data"] and declared["partitions"] == [] and "(declared)" in declared["columns"][0]["type"]
        missing = one_line_error(http.get("/v1/tables/silver.order/schema"), 404, "unknown_table")
        assert "did you mean silver.orders" in missing["message"]
        for name in ('silver."orders', "b;c"):  # found by schemathesis: an unclosed quote, two statements
            assert "is not a table name" in one_line_error(http.get(f"/v1/tables/{name}/schema"), 404)["message"]
    with api(url, keys, "analyst") as http:
        columns = {c["name"]: c for c in http.get("/v1/tables/silver.customers/schema").json()["columns"]}
        assert columns["email_hash"]["pii"] and not columns["email_hash"]["masked"]


# --- queries and pages --------------------------------------------------------------------------------------

def test_pages_come_from_one_kept_result_through_cursors(url, keys):
    sql = "SELECT order_id, region FROM silver.orders ORDER BY order_id"
    first = query(url, keys, sql, page_size=700)
    assert first.status_code == 200
    page = first.json()
    assert page["total_rows"] == ORDERS and page["offset"] == 0 and len(page["rows"]) == 700
    assert [c["name"] for c in page["columns"]] == ["order_id", "region"] and not page["truncated"]
    assert first.headers["x-next-cursor"] == page["next_cursor"] and "rel=\"next\"" in first.headers["link"]
    rows, cursors = list(page["rows"]), []
    with api(url, keys) as http:
        while page["next_cursor"]:
            cursors.append(page["next_cursor"])
            page = http.get(f"/v1/results/{page['next_cursor']}").json()
            rows += page["rows"]
        assert [r[0] for r in rows] == [f"o-{i:05d}" for i in range(ORDERS)] and page["offset"] == 1400
        assert http.get(f"/v1/results/{cursors[0]}").json()["rows"] == rows[700:1400]  # the same page again
        smaller = http.get(f"/v1/results/{cursors[0]}", params={"page_size": 5}).json()
        assert smaller["rows"] == rows[700:705] and smaller["next_cursor"] != cursors[1]
        assert http.delete(f"/v1/results/{cursors[0]}").status_code == 204
        one_line_error(http.get(f"/v1/results/{cursors[1]}"), 404, "unknown_cursor")


def test_later_pages_do_not_rerun_the_query(url, keys, lake):
    products = lambda tag: pa.table({"product_id": [f"{tag}-{i:02d}" for i in range(30)], "dt": [DAY] * 30})  # noqa: E731
    put(lake, "silver.products", products("before"))
    page = query(url, keys, "SELECT product_id FROM silver.products ORDER BY 1", page_size=10).json()
    put(lake, "silver.products", products("after"))  # a LIMIT/OFFSET re-run would now read these
    with api(url, keys) as http:
        second = http.get(f"/v1/results/{page['next_cursor']}").json()
        third = http.get(f"/v1/results/{second['next_cursor']}").json()
    assert [r[0] for r in page["rows"] + second["rows"] + third["rows"]] == [f"before-{i:02d}" for i in range(30)]
    assert third["next_cursor"] is None
    fresh = query(url, keys, "SELECT product_id FROM silver.products ORDER BY 1", page_size=10).json()
    assert fresh["rows"][0] == ["after-00"]


def test_a_cursor_belongs_to_the_key_that_ran_the_query(url, keys):
    cursor = query(url, keys, "SELECT order_id FROM silver.orders", page_size=10).json()["next_cursor"]
    with api(url, keys, "analyst") as http:
        assert "unknown or expired cursor" in one_line_error(http.get(f"/v1/results/{cursor}"), 404)["message"]
        one_line_error(http.delete(f"/v1/results/{cursor}"), 404, "unknown_cursor")
    with api(url, keys) as http:
        for bogus in ("nope", cursor.split(".")[0] + ".999999", "x" * 22 + ".0", cursor + "x"):
            one_line_error(http.get(f"/v1/results/{bogus}"), 404, "unknown_cursor")
        assert http.get(f"/v1/results/{cursor}").status_code == 200


def test_csv_and_arrow_pages(url, keys):
    sql = "SELECT category, region, revenue_usd, dt FROM gold.daily_sales_summary ORDER BY dt, category, region"
    with api(url, keys, Accept="text/csv") as http:
        csv = http.post("/v1/query", json={"sql": sql, "page_size": 4})
        assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
        lines = csv.text.splitlines()
        assert lines[0] == '"category","region","revenue_usd","dt"' and len(lines) == 5
        assert lines[1] == f'"Books","apac",100.25,"{DAY}"' and csv.headers["x-total-rows"] == "27"
        second = http.get(f"/v1/results/{csv.headers['x-next-cursor']}")
        assert second.text.splitlines()[1] == f'"Electronics","eu",104.25,"{DAY}"'
    arrow_type = "application/vnd.apache.arrow.stream"
    with api(url, keys, Accept=f"text/html;q=0.9, {arrow_type}") as http:
        response = http.post("/v1/query", json={"sql": sql, "page_size": 20})
        assert response.headers["content-type"] == arrow_type
        table = pa.ipc.open_stream(response.content).read_all()
        assert table.num_rows == 20 and table.schema.field("revenue_usd").type == pa.decimal128(18, 2)
        last = http.get(f"/v1/results/{response.headers['x-next-cursor']}")
        assert pa.ipc.open_stream(last.content).read_all().num_rows == 7 and "x-next-cursor" not in last.headers
    with api(url, keys, Accept="application/xml") as http:
        assert "text/csv" in one_line_error(http.post("/v1/query", json={"sql": sql}), 406, "not_acceptable")["message"]


def test_json_values_are_exact_and_valid(url, keys):
    sql = ("SELECT 1 AS a, 2 AS a, CAST('12345678901234.56' AS DECIMAL(18, 2)) AS money, DATE '2024-06-03' AS day, "
           "TIMESTAMP '2024-06-03 10:15:00' AS ts, 'nan'::DOUBLE AS nan, 'inf'::DOUBLE AS inf, [1, 2] AS list, "
           "{'k': 'v'} AS struct, NULL AS nothing, '<script>alert(1)</script>' AS html")
    response = query(url, keys, sql)
    body = json.loads(response.text)  # strict JSON: NaN would not parse in other languages
    assert "NaN" not in response.text.replace('"NaN"', "")
    assert [c["name"] for c in body["columns"]][:2] == ["a", "a"]
    assert body["rows"] == [[1, 2, "12345678901234.56", "2024-06-03", "2024-06-03T10:15:00", "nan", "inf", [1, 2],
                             {"k": "v"}, None, "<script>alert(1)</script>"]]
    assert response.headers["content-type"] == "application/json" and response.headers["cache-control"] == "no-store"


def test_pii_is_masked_by_the_keys_scopes(url, keys):
    sql = "SELECT customer_id, email_hash, email_domain FROM silver.customers ORDER BY customer_id"
    assert query(url, keys, sql).json()["rows"] == [["c1", "***", "example.com"], ["c2", None, None]]
    assert query(url, keys, sql, "analyst").json()["rows"][0] == ["c1", EMAIL_HASH, "example.com"]
    probe = f"SELECT count(*) AS n FROM silver.customers WHERE email_hash = '{EMAIL_HASH}'"
    assert query(url, keys, probe).json()["rows"] == [[0]]
    raw = "SELECT email, customer_id FROM bronze.shop_customers"
    assert query(url, keys, raw, "engineer").json()["rows"] == [["***", "c1"]]
    assert query(url, keys, raw, "admin").json()["rows"] == [[RAW_EMAIL, "c1"]]


def test_filters_with_and_and_or_run(url, keys):
    """The guard took AND/OR for functions off its allow-list (sqlglot 30 models them as functions)."""
    sql = ("SELECT count(*) AS n FROM gold.daily_sales_summary WHERE dt = '2024-06-03' AND (region = 'eu' OR "
           "region = 'us') AND NOT category = 'Books'")
    assert query(url, keys, sql).json()["rows"] == [[4]]
    hidden = one_line_error(query(url, keys, "SELECT 1 WHERE true AND getenv('HOME') = ''"), 400, "refused")
    assert "function getenv('HOME')" in hidden["message"]  # what AND joins is still checked


def test_a_missing_scope_is_403_naming_it(url, keys):
    for sql in ("SELECT * FROM bronze.shop_customers", "SELECT record FROM quarantine.silver_orders"):
        for who in ("reader", "analyst"):
            body = one_line_error(query(url, keys, sql, who), 403, "forbidden")
            assert body["missing_scope"] == "raw" and "needs the raw scope" in body["message"]


def test_limits_rows_and_bytes(url, keys, lake):
    sql = "SELECT order_id FROM silver.orders ORDER BY order_id"
    cut = query(url, keys, sql, max_rows=1500, page_size=1000).json()
    assert cut["truncated"] and cut["total_rows"] == 1500
    assert "at most 100,000 here (LAKEHOUSE_SERVE_MAX_ROWS), not 200,000" in one_line_error(
        query(url, keys, sql, max_rows=200_000), 400, "bad_limit")["message"]
    assert "from 1 to 1,000,000, not 0" in one_line_error(query(url, keys, sql, max_rows=0), 400, "bad_limit")["message"]
    with running(lake.with_(serve_max_result_mb=1)) as small:
        big = "SELECT a.order_id, b.order_id AS other FROM silver.orders a, silver.orders b"
        body = one_line_error(query(small, keys, big, max_rows=100_000), 413, "result_too_large")
        assert "larger than 1 MB" in body["message"]
        assert query(small, keys, sql).status_code == 200


def test_engines_are_local_and_athena(url, keys):
    assert query(url, keys, "SELECT 1 AS one", engine="local").json()["engine"] == "local"
    body = one_line_error(query(url, keys, "SELECT 1", engine="athena"), 400, "query_failed")
    assert "the Athena engine needs the Glue catalog: set LAKEHOUSE_GLUE_PREFIX" in body["message"]


def test_the_athena_engine_over_http(lake, keys, aws_env, s3_bucket):
    """Athena on moto: the query goes to Athena with the Glue names, its typed rows come back paged."""
    columns = [{"Name": "region", "Type": "varchar"}, {"Name": "revenue", "Type": "decimal", "Precision": 18,
                                                         "Scale": 2}]
    rows = [{"Data": [{"VarCharValue": c["Name"]} for c in columns]},
            *({"Data": [{"VarCharValue": r}, {"VarCharValue": f"{i}.50"}]} for i, r in enumerate(REGIONS))]
    _moto_post(aws_env, "/moto-api/static/athena/query-results", {"results": [{"rows": rows, "column_info": columns}]})
    athena = lake.with_(glue_prefix="lh", athena_output=f"s3://{s3_bucket}/athena/", aws_endpoint_url=aws_env,
                        serve_audit=lake.home / "athena-audit.jsonl")
    sql = "SELECT region, sum(revenue_usd) AS revenue FROM gold.daily_sales_summary GROUP BY region"
    with running(athena) as base, client(base, keys["reader"]) as http:
        first = http.post("/v1/query", json={"sql": sql, "engine": "athena", "page_size": 2}).json()
        second = http.get(f"/v1/results/{first['next_cursor']}").json()
    assert first["engine"] == "athena" and first["engine_query_id"] and first["total_rows"] == 3
    assert first["rows"] + second["rows"] == [["apac", "0.50"], ["eu", "1.50"], ["us", "2.50"]]
    assert first["columns"][1] == {"name": "revenue", "type": "decimal128(18, 2)"}
    import boto3

    sent = boto3.client("athena", endpoint_url=aws_env, region_name="us-east-1").get_query_execution(
        QueryExecutionId=first["engine_query_id"])["QueryExecution"]["Query"]
    assert '"lh_gold"."daily_sales_summary"' in sent


def test_rate_limit_is_429_with_retry_after(url, lake):
    key = add_key(lake, "slow-lane", rate=1)
    with client(url, key) as http:
        statuses = [http.get("/v1/results/none").status_code for _ in range(lake.serve_burst)]
        assert set(statuses) == {404}  # the burst goes through
        limited = http.get("/v1/databases")
        body = one_line_error(limited, 429, "rate_limited")
        assert 50 <= int(limited.headers["retry-after"]) <= 60 and "rate of 1 requests a minute" in body["message"]


def test_errors_are_json_with_one_line(url, keys):
    with api(url, keys) as http:
        assert "no such endpoint: GET /v2/x" in one_line_error(http.get("/v2/x"), 404, "not_found")["message"]
        one_line_error(http.put("/v1/query", json={}), 405, "method_not_allowed")
        one_line_error(http.get("/v1/tables/"), 404, "not_found")  # no redirects: one spelling per endpoint
        says = one_line_error(http.get("/v1/tables", params={"databse": "gold"}), 400, "bad_request")["message"]
        assert says == "unknown query parameter 'databse' for /v1/tables; it takes database"
        assert http.get("/", params={"utm_source": "mail"}).status_code == 200
        for body, says in (({}, "body.sql: Field required"), ({"sql": "SELECT 1", "engine": "spark"}, "body.engine"),
                           ({"sql": "SELECT 1", "page_size": 0}, "body.page_size"),
                           ({"sql": "SELECT 1", "rows": 5}, "Extra inputs are not permitted"),
                           ({"sql": "x" * 100_001}, "at most 100000 characters")):
            assert says in one_line_error(http.post("/v1/query", json=body), 400, "bad_request")["message"]
        broken = http.post("/v1/query", content=b'{"sql": ', headers={"Content-Type": "application/json"})
        assert "JSON decode error" in one_line_error(broken, 400, "bad_request")["message"]
        huge = http.post("/v1/query", content=b"x" * (2 << 20), headers={"Content-Type": "application/json"})
        one_line_error(huge, 413, "request_too_large")
        chunked = http.post("/v1/query", content=iter([b"x" * (1 << 19)] * 4), headers={"Content-Type": "application/json"})
        one_line_error(chunked, 413, "request_too_large")
        failed = one_line_error(http.post("/v1/query", json={"sql": "SELECT nope FROM silver.orders"}), 400, "query_failed")
        assert failed["message"].startswith("query failed in DuckDB")


def test_security_headers(url):
    with client(url) as http:
        page = http.get("/")
        assert page.status_code == 200 and "<textarea" in page.text
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert page.headers["x-content-type-options"] == "nosniff"
        assert http.get("/ui/app.js").headers["content-type"].startswith("text/javascript")
        spec = http.get("/openapi.json").json()
        assert {"/v1/databases", "/v1/tables", "/v1/tables/{table}/schema", "/v1/query", "/v1/results/{cursor}",
                "/healthz", "/readyz"} <= set(spec["paths"])
        assert http.get("/docs").status_code == 404  # Swagger UI would load scripts from a CDN


# --- fairness: slots, kept results and failed authentications per key or address ------------------------------

RUNAWAY = "SELECT sum(a.amount * b.amount * c.amount) AS s FROM silver.orders a, silver.orders b, silver.orders c"


def test_one_key_gets_its_share_of_the_slots_and_others_are_not_kept_waiting(lake, keys):
    """The probe's five cross joins from one key held every slot for 60 s; with a share of 1 of 2 slots the key's
    second query is 429 at once and another key's SELECT 1 runs while the first is still going."""
    from concurrent.futures import ThreadPoolExecutor

    hog = add_key(lake, "hog", rate=100_000)
    settings = lake.with_(serve_concurrency=2, serve_key_concurrency=1, query_timeout=3.0)
    with running(settings, warm=True) as base, ThreadPoolExecutor(1) as background:
        with client(base, hog) as http:
            slow = background.submit(http.post, "/v1/query", json={"sql": RUNAWAY})
            time.sleep(0.5)  # the runaway holds the key's one slot by now
            refused = one_line_error(http.post("/v1/query", json={"sql": "SELECT 1"}), 429, "too_many_queries")
            assert "already runs 1 queries, its share of the 2 query slots (LAKEHOUSE_SERVE_KEY_CONCURRENCY)" in \
                refused["message"]
            with client(base, keys["reader"]) as other:
                began = time.monotonic()
                assert other.post("/v1/query", json={"sql": "SELECT 1 AS one"}).json()["rows"] == [[1]]
                assert time.monotonic() - began < 2.5 and not slow.done()
            one_line_error(slow.result(timeout=60), 422, "timeout")
            assert http.post("/v1/query", json={"sql": "SELECT 1"}).status_code == 200  # the share is free again


def test_a_keys_results_push_out_only_its_own(lake, keys):
    """Results kept for paging: 2 MB in all, 1 MB per key. A key running large results loses its own oldest
    cursor, never another key's (the probe's large results evicted a neighbour's cursor)."""
    hog = add_key(lake, "hog-results", rate=100_000)
    big = ("SELECT a.order_id || b.order_id AS pair FROM silver.orders a, "
           "(SELECT order_id FROM silver.orders LIMIT 20) b")  # 40,000 rows, about 0.7 MB
    with running(lake.with_(serve_cache_mb=2, serve_key_cache_mb=1)) as base:
        reader = query(base, keys, "SELECT order_id FROM silver.orders", page_size=10).json()["next_cursor"]
        with client(base, hog) as http:
            cursors = [http.post("/v1/query", json={"sql": big, "page_size": 10}).json()["next_cursor"]
                       for _ in range(3)]
            one_line_error(http.get(f"/v1/results/{cursors[0]}"), 404, "unknown_cursor")
            assert http.get(f"/v1/results/{cursors[2]}").status_code == 200
        with api(base, keys) as http:
            assert http.get(f"/v1/results/{reader}").json()["offset"] == 10


def test_the_result_store_never_evicts_another_owners_result():
    from lakehouse.service.results import Result, ResultStore

    def result(owner: str, rows: int) -> Result:
        return Result(owner, pa.table({"x": pa.array(range(rows), pa.int64())}), 10, False, "local")

    store = ResultStore(max_bytes=8 * 1000, ttl=60, per_owner_bytes=8 * 600)  # bytes: 8 a row
    mine, theirs = result("a", 500), result("b", 500)
    assert store.keep(mine) and store.keep(theirs)
    assert store.keep(result("a", 400))  # over a's share: a's first result goes
    with pytest.raises(LookupError):
        store.find(mine.cursor(0), "a")
    assert store.find(theirs.cursor(0), "b")[1] == 0
    assert not store.keep(result("a", 700))  # larger than a share
    crowded = ResultStore(max_bytes=8 * 1000, ttl=60, per_owner_bytes=8 * 600)
    assert crowded.keep(result("b", 550)) and crowded.keep(result("c", 440))
    assert not crowded.keep(result("a", 100))  # the rest of the memory holds others' results: not theirs to evict


def test_failed_authentications_are_limited_per_address_with_one_audit_line(lake, keys, tmp_path):
    audit = tmp_path / "audit.jsonl"
    with running(lake.with_(serve_auth_failures=3, serve_audit=audit)) as base:
        with client(base, "lhk_000000000000_" + "C" * 43) as http:
            statuses = [http.get("/v1/databases").status_code for _ in range(3)]
            limited = [http.get("/v1/databases") for _ in range(20)]
        with client(base) as http:  # no key at all counts as well
            limited.append(http.get("/v1/tables"))
        with api(base, keys) as http:  # a valid key from the same address still gets in
            assert http.get("/v1/databases").status_code == 200
    assert statuses == [401, 401, 401]
    body = one_line_error(limited[0], 429, "rate_limited")
    assert "without a valid API key from this address (at most 3 a minute, LAKEHOUSE_SERVE_AUTH_FAILURES)" in \
        body["message"] and 1 <= int(limited[0].headers["retry-after"]) <= 60
    assert {r.status_code for r in limited} == {429}
    events = [json.loads(line)["event"] for line in audit.read_text().splitlines()]
    assert events.count("denied") == 3 and events.count("auth_limited") == 1 and len(events) == 5


# --- the audit log ------------------------------------------------------------------------------------------

def test_the_audit_log_says_who_ran_what_never_data_or_keys(keys, lake, tmp_path):
    audit = tmp_path / "audit.jsonl"
    with running(lake.with_(serve_audit=audit)) as url:
        query(url, keys, "SELECT customer_id, email_hash FROM silver.customers", "analyst")
        query(url, keys, "SELECT CAST(email_masked AS INTEGER) FROM silver.customers", "analyst")  # quotes a value
        query(url, keys, "SELECT * FROM bronze.shop_customers", "reader")
        with client(url, "lhk_000000000000_" + "B" * 43) as http:
            http.get("/v1/tables")
    text = audit.read_text()
    records = [json.loads(line) for line in text.splitlines()]
    assert all(key not in text for key in keys.values()) and "B" * 43 not in text
    assert EMAIL_HASH not in text and "a***@example.com" not in text  # result values, or a value quoted by DuckDB
    ok = next(r for r in records if r.get("sql") == "SELECT customer_id, email_hash FROM silver.customers")
    assert ok["key"] == "analyst" and ok["status"] == 200 and ok["rows"] == 2 and ok["duration_ms"] > 0
    assert ok["scopes"] == ["read", "pii"] and ok["engine"] == "local" and ok["client"] == "127.0.0.1"
    failed = next(r for r in records if r.get("sql", "").startswith("SELECT CAST(email_masked"))
    assert failed["error"] == "query_failed" and "message" not in failed
    denied = next(r for r in records if r.get("sql") == "SELECT * FROM bronze.shop_customers")
    assert denied["status"] == 403 and "needs the raw scope" in denied["message"]
    assert any(r["event"] == "denied" and r.get("key_id") == "000000000000" for r in records)


def test_an_audit_line_is_one_line_whatever_the_sql_holds(keys, lake, tmp_path):
    audit = tmp_path / "audit.jsonl"
    sql = "SELECT 'a\u2028b\u2029c\u0085d' AS x"
    with running(lake.with_(serve_audit=audit)) as url:
        assert query(url, keys, sql).json()["rows"] == [["a\u2028b\u2029c\u0085d"]]
    text = audit.read_text(encoding="utf-8")
    assert not any(c in text for c in "\u2028\u2029\u0085") and "\\u2028" in text
    [record] = [json.loads(line) for line in text.splitlines()]  # str.splitlines breaks at all three
    assert record["sql"] == sql


def test_an_audit_log_that_cannot_be_written_means_not_ready_and_503(keys, lake, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")  # the log's folder would have to be a file: even root cannot write there
    with running(lake.with_(serve_audit=blocker / "audit.jsonl")) as url:
        with client(url) as http:
            body = one_line_error(http.get("/readyz"), 503, "not_ready")
            assert body["message"] == "not ready: the audit log cannot be written (see the service log)"
        with api(url, keys) as http:
            body = one_line_error(http.get("/v1/databases"), 503, "not_ready")
            assert "cannot write its audit log" in body["message"] and str(tmp_path) not in body["message"]


def test_error_bodies_never_show_a_server_path(url, keys, lake):
    body = one_line_error(query(url, keys, "SELECT * FROM gold.customer_analytics"), 400, "query_failed")
    assert "gold.customer_analytics has no data yet" in body["message"]
    assert str(lake.home) not in body["message"] and "file://" not in body["message"]
    from lakehouse.errors import LakehouseError
    from lakehouse.service.errors import service_error

    engine = LakehouseError(f"query failed in DuckDB: IO Error: No files found at {lake.warehouse}/silver/orders "
                            f"and {lake.home}/warehouse/silver/orders/part-0.parquet")
    assert service_error(engine).message == ("query failed in DuckDB: IO Error: No files found at <path> and "
                                             "<path>")
    quoted = LakehouseError("query failed in DuckDB: Conversion Error: Could not convert '10/06/2024' to DATE")
    assert service_error(quoted).message == str(quoted)  # not a path


# --- the corpus of bad reads, over HTTP ---------------------------------------------------------------------

EXPECTED = {UnknownTableError: (400, "unknown_table"), ReadOnlyQueryError: (400, "refused"),
            AccessDeniedError: (403, "forbidden"), QueryTooComplexError: (400, "too_complex"),
            QuerySyntaxError: (400, "syntax_error")}


def _expected(bad) -> tuple[int, str]:
    if bad.error is QueryLimitError:
        if "LAKEHOUSE_QUERY_TIMEOUT" in bad.env:
            return 422, "timeout"
        return (422, "memory_limit") if "LAKEHOUSE_QUERY_MEMORY_MB" in bad.env else (400, "bad_limit")
    return EXPECTED[bad.error]


@pytest.fixture(scope="module")
def corpus_servers(lake, keys):
    """One server per environment the corpus asks for (the Glue prefix lh: a case names lh_bronze.*)."""
    keys_by_scopes = {(): keys["reader"], ("pii",): keys["analyst"],
                      ("admin",): add_key_with_unknown_scope(lake, "corpus-admin", "admin")}
    servers, stack = {}, []

    def server(env: dict) -> tuple[str, dict]:
        name = json.dumps(env, sort_keys=True)
        if name not in servers:
            settings = Settings.from_env({"LAKEHOUSE_HOME": str(lake.home), "LAKEHOUSE_GLUE_PREFIX": "lh",
                                          "LAKEHOUSE_SERVE_CONCURRENCY": "1", **env})  # one worker process each
            context = running(settings)
            servers[name] = context.__enter__()
            stack.append(context)
        return servers[name], keys_by_scopes

    yield server
    for context in reversed(stack):
        context.__exit__(None, None, None)


@pytest.mark.parametrize("bad", CORPUS.values(), ids=CORPUS.keys())
def test_bad_access_over_http_is_refused_with_one_clear_line(corpus_servers, bad):
    base, keys_by_scopes = corpus_servers(bad.env)
    with client(base, keys_by_scopes[tuple(bad.scopes)]) as http:
        response = http.post("/v1/query", json={"sql": bad.sql, "max_rows": bad.limit})
    status, code = _expected(bad)
    body = one_line_error(response, status, code)
    assert bad.says in body["message"]


# --- settings and the entry point ---------------------------------------------------------------------------

@pytest.mark.parametrize("variable, value, says", [
    ("LAKEHOUSE_SERVE_PORT", "80800", "a TCP port, from 1 to 65535"),
    ("LAKEHOUSE_SERVE_PORT", "http", "a TCP port"),
    ("LAKEHOUSE_SERVE_RATE", "0", "at least 1"),
    ("LAKEHOUSE_SERVE_MAX_ROWS", "2000000", "from 1 to 1000000"),
    ("LAKEHOUSE_SERVE_RESULT_TTL", "soon", "a number of seconds"),
    ("LAKEHOUSE_SERVE_CONCURRENCY", "-1", "at least 1"),
    ("LAKEHOUSE_SERVE_KEY_CONCURRENCY", "5", "from 1 to 4 (LAKEHOUSE_SERVE_CONCURRENCY, the service's whole)"),
    ("LAKEHOUSE_SERVE_KEY_CACHE_MB", "300", "from 1 to 256 (LAKEHOUSE_SERVE_CACHE_MB"),
    ("LAKEHOUSE_SERVE_AUTH_FAILURES", "0", "from 1 to 10000"),
    ("LAKEHOUSE_QUERY_TIMEOUT", "1e12", "a number of seconds, from 0.1 to 3600"),
    ("LAKEHOUSE_QUERY_MEMORY_MB", "99999999", "(at most this machine's memory), from 16 to"),
])
def test_service_settings_are_checked_when_they_load(variable, value, says, tmp_path):
    with pytest.raises(ConfigError) as err:
        Settings.from_env({variable: value})
    assert str(err.value).startswith(f"{variable}={value!r} is not valid") and says in str(err.value)
    with pytest.raises(ConfigError, match="not a folder"):
        Settings.from_env({"LAKEHOUSE_SERVE_KEYS": str(tmp_path)})
    settings = Settings.from_env({"LAKEHOUSE_HOME": str(tmp_path), "LAKEHOUSE_SERVE_PORT": "9090"})
    assert settings.serve_port == 9090 and settings.serve_keys_file == tmp_path / "service" / "keys.json"
    assert (settings.serve_key_concurrency, settings.serve_key_cache_mb, settings.serve_auth_failures) == (2, 64, 10)
    assert Settings.from_env({"LAKEHOUSE_SERVE_CONCURRENCY": "1"}).serve_key_concurrency == 1


def test_python_dash_m_lakehouse_service_listens_on_127_0_0_1_at_the_configured_port(lake, keys):
    """The real entry point: it listens where configured, starts its query workers (and ends them with it), and
    its access log keeps the path of a request but not its query string (a key sent as ?key= is not logged)."""
    import psutil

    port = free_port()
    env = {**os.environ, "LAKEHOUSE_HOME": str(lake.home), "LAKEHOUSE_SERVE_PORT": str(port),
           "LAKEHOUSE_SERVE_CONCURRENCY": "1", "PYTHONPATH": os.path.join(REPO, "platform")}
    process = subprocess.Popen([sys.executable, "-m", "lakehouse.service"], cwd=REPO, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline, answer = time.monotonic() + 60, None
        while answer is None or answer.status_code == 503:  # 503 while its worker starts
            assert process.poll() is None and time.monotonic() < deadline, process.stdout.read()
            time.sleep(0.2)
            try:
                with client(f"http://127.0.0.1:{port}") as http:
                    answer = http.get("/readyz")
            except httpx.TransportError:
                pass
        assert answer.json()["status"] == "ready" and answer.json()["checks"]["workers"] == "1 of 1 ready"
        with client(f"http://127.0.0.1:{port}") as http:
            assert http.get("/v1/tables", params={"key": keys["reader"]}).status_code == 400  # not a parameter
        with client(f"http://127.0.0.1:{port}", keys["reader"]) as http:
            assert http.post("/v1/query", json={"sql": "SELECT 1 AS one"}).json()["rows"] == [[1]]
        workers = psutil.Process(process.pid).children()
        assert workers and all("lakehouse.query.worker" in " ".join(w.cmdline()) for w in workers)
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=20)
    assert f"Uvicorn running on http://127.0.0.1:{port}" in output
    assert '"GET /v1/tables HTTP/1.1" 400' in output and keys["reader"].split("_", 2)[2] not in output
    assert '"POST /v1/query HTTP/1.1" 200' in output
    psutil.wait_procs(workers, timeout=10)
    assert not any(w.is_running() for w in workers)
