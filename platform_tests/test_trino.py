"""Trino (the engine of Athena v3) reads the lakehouse through its Glue entries, on the session's moto server.

One publish per module: commerce and startups landed (2 days, a few rows) and materialized through Dagster on S3
with Glue, as Delta; then every silver and gold table published again through the IO manager's write path into a
second warehouse with the Parquet format option (LAKEHOUSE_TABLE_FORMAT=parquet), so Trino reads both kinds of
entry without running every model twice. The copies' rows are already on the driver, so its delta-rs / pyarrow
store writes them (LAKEHOUSE_STORE=delta-rs): no Spark job per table for a few rows. Trino's answers are compared
with DuckDB's (the local engine) over the same files; its types with docs/catalog.md's table.
"""
from __future__ import annotations

import csv
import io
import math
import uuid
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import boto3
import pyarrow as pa
import pytest
import trino as trino_client
from trino_server import *  # noqa: F403  (the session's Trino server)

from lakehouse.catalog.glue import GlueCatalog
from lakehouse.config import Settings
from lakehouse.errors import ReadOnlyQueryError
from lakehouse.pipeline.registry import all_specs
from lakehouse.query import execute
from lakehouse.query.trino import TrinoQueryError, arrow_type
from lakehouse.storage.arrow_store import ArrowStore

pytestmark = pytest.mark.slow

DAYS = ["2024-06-03", "2024-06-04"]
DOMAINS = ("commerce", "startups")
FORMATS = ("delta", "parquet")
DOCS = Path(__file__).resolve().parents[1] / "docs" / "catalog.md"
TABLES = [s for s in all_specs() if s.domain in DOMAINS and s.layer in ("silver", "gold")]
# every type the Glue writer maps, in one table (docs/catalog.md lists what Athena and Trino make of each)
TYPES = pa.schema([
    ("s", pa.string()), ("b", pa.bool_()), ("i", pa.int32()), ("l", pa.int64()), ("f", pa.float64()),
    ("amount", pa.decimal128(18, 2)), ("day", pa.date32()), ("at", pa.timestamp("us", tz="UTC")),
    ("tags", pa.list_(pa.string())), ("who", pa.struct([("id", pa.int64()), ("name", pa.string())])),
    ("attrs", pa.map_(pa.string(), pa.int32())), ("dt", pa.string()),
])
TYPE_ROW = {"s": "x", "b": True, "i": 7, "l": 2**40, "f": 0.5, "amount": Decimal("12.34"), "day": date(2024, 6, 3),
            "at": datetime(2024, 6, 3, 12, 30, 15, 123000, tzinfo=timezone.utc), "tags": ["a", "b"],
            "who": {"id": 1, "name": "Ann"}, "attrs": [("k", 1)], "dt": DAYS[0]}


@pytest.fixture(scope="module")
def lake(moto_server, trino_starting, tmp_path_factory):
    """{"delta": Settings, "parquet": Settings} of two warehouses on moto, both catalogued in Glue."""
    from dagster import DagsterInstance

    from lakehouse.definitions import build_definitions
    from lakehouse.dev.generate.commerce import land_commerce
    from lakehouse.dev.generate.startups import land_startups
    from lakehouse.resources import LakehouseResource
    from lakehouse.runs import materialize_range

    endpoint = moto_server[1]
    bucket = f"lh-trino-{uuid.uuid4().hex[:8]}"
    with pytest.MonkeyPatch.context() as env:
        for name, value in {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
                            "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
                            "AWS_DEFAULT_REGION": "us-east-1", "LAKEHOUSE_PII_SALT": "trino-test-" + "s" * 20,
                            "LAKEHOUSE_HOME": str(tmp_path_factory.mktemp("trino-lh")),
                            "LAKEHOUSE_LANDING": f"s3://{bucket}/landing", "LAKEHOUSE_START_DATE": DAYS[0],
                            "LAKEHOUSE_TRINO_URL": trino_starting.url}.items():
            env.setenv(name, value)
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
        lakes = {}
        for fmt in FORMATS:
            env.setenv("LAKEHOUSE_WAREHOUSE", f"s3://{bucket}/{fmt}")
            env.setenv("LAKEHOUSE_TABLE_FORMAT", fmt)
            env.setenv("LAKEHOUSE_GLUE_PREFIX", f"trino_{fmt}")
            lakes[fmt] = Settings.from_env()
        env.setenv("LAKEHOUSE_WAREHOUSE", lakes["delta"].warehouse)
        env.setenv("LAKEHOUSE_TABLE_FORMAT", "delta")
        env.setenv("LAKEHOUSE_GLUE_PREFIX", lakes["delta"].glue_prefix)
        start = date.fromisoformat(DAYS[0])
        land_commerce(lakes["delta"], start, len(DAYS), 20, 5)
        land_startups(lakes["delta"], start, len(DAYS), 8, 5)
        defs = build_definitions()
        for domain in DOMAINS:
            run = materialize_range(defs, DAYS[0], DAYS[-1], instance=DagsterInstance.ephemeral(), domain=domain,
                                    log_level="WARNING")
            assert run.success, run.failures()
        # the Parquet format option: the same rows through the IO manager's write path (store + Glue entry)
        delta_store = ArrowStore(lakes["delta"])
        env.setenv("LAKEHOUSE_WAREHOUSE", lakes["parquet"].warehouse)
        env.setenv("LAKEHOUSE_TABLE_FORMAT", "parquet")
        env.setenv("LAKEHOUSE_GLUE_PREFIX", lakes["parquet"].glue_prefix)
        env.setenv("LAKEHOUSE_STORE", "delta-rs")
        parquet = LakehouseResource()
        for spec in TABLES:
            rows = delta_store.read(delta_store.uri(spec.layer, spec.name), "delta")
            parquet.publish(spec, rows, sorted(set(rows.column("dt").to_pylist())))
        for fmt, settings in lakes.items():  # every type the Glue writer maps, in a table of its own
            uri = f"{settings.warehouse}/types"
            result = ArrowStore(settings).write("silver.types", uri, fmt,
                                                pa.Table.from_pylist([TYPE_ROW], schema=TYPES), [DAYS[0]])
            GlueCatalog(settings).register(layer="silver", name="types", description="every type", fmt=fmt,
                                           schema=result.schema, location=result.uri)
        yield lakes


def _cursor(server):
    return trino_client.dbapi.connect(host="127.0.0.1", port=server.port, user="test", catalog="hive").cursor()


def _rows(server, sql: str) -> list[list]:
    cursor = _cursor(server)
    cursor.execute(sql)
    return cursor.fetchall()


def _db(settings: Settings, layer: str) -> str:
    return settings.glue_database(layer).lower()


# --- the catalog as Trino sees it -----------------------------------------------------------------------------

def test_trino_lists_the_glue_databases_and_tables(lake, trino):
    for fmt, settings in lake.items():
        schemas = {r[0] for r in _rows(trino, "SHOW SCHEMAS FROM hive")}
        assert {_db(settings, "silver"), _db(settings, "gold")} <= schemas
        for layer in ("silver", "gold"):
            listed = {r[0] for r in _rows(trino, f'SHOW TABLES FROM hive."{_db(settings, layer)}"')}
            assert {s.name for s in TABLES if s.layer == layer} <= listed, (fmt, layer)
    delta_silver = {r[0] for r in _rows(trino, f'SHOW TABLES FROM delta_lake."{_db(lake["delta"], "silver")}"')}
    assert {s.name for s in TABLES if s.layer == "silver"} <= delta_silver


def _numeric(schema: pa.Schema) -> list[str]:
    return [f.name for f in schema if f.name != "dt" and (
        pa.types.is_integer(f.type) or pa.types.is_floating(f.type) or pa.types.is_decimal(f.type))]


def _same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
    return a == b


# A Parquet table's days are projected from LAKEHOUSE_START_DATE to today: a query without a dt filter makes Trino
# (and Athena) look under each day's prefix, ~900 S3 listings on moto, so the Parquet reads name their days (from
# the month's first day: a monthly table's dt is the month's first day). Delta tables are read whole.
WINDOW = f" WHERE dt BETWEEN '{DAYS[0][:8]}01' AND '{DAYS[-1]}'"


@pytest.mark.parametrize("fmt", FORMATS)
def test_trino_reads_every_silver_and_gold_table_like_duckdb(lake, trino, fmt):
    settings = lake[fmt]
    store = ArrowStore(settings)
    days_seen = set()
    for spec in TABLES:
        schema = store.schema(store.uri(spec.layer, spec.name), fmt)
        assert schema is not None, spec.id
        sums = "".join(f', sum("{c}") AS "sum_{c}"' for c in _numeric(schema))
        where = WINDOW if fmt == "parquet" else ""
        sql = f"SELECT dt, count(*) AS n{sums} FROM {spec.id}{where} GROUP BY dt ORDER BY dt"
        local = execute(sql, engine="local", settings=settings, scopes=["pii"]).table.to_pylist()
        remote = execute(sql, engine="trino", settings=settings, scopes=["pii"]).table.to_pylist()
        assert local and len(local) == len(remote), (spec.id, local, remote)
        for mine, theirs in zip(local, remote):
            assert set(mine) == set(theirs) and all(_same(mine[k], theirs[k]) for k in mine), (spec.id, mine, theirs)
        days_seen |= {r["dt"] for r in local}
    assert days_seen >= set(DAYS)


@pytest.mark.parametrize("fmt", FORMATS)
def test_trino_prunes_dt_partitions(lake, trino, fmt):
    """A dt filter reads that day's files only: Trino's scan takes one day's splits and exactly its rows."""
    table = f'hive."{_db(lake[fmt], "silver")}"."orders"'
    per_day = dict(_rows(trino, f"SELECT dt, count(*) FROM {table}{WINDOW} GROUP BY dt"))
    assert sorted(per_day) == DAYS and all(per_day.values())
    cursor = _cursor(trino)
    cursor.execute(f"SELECT order_id, quantity FROM {table}{WINDOW}")
    assert len(cursor.fetchall()) == sum(per_day.values())
    both = cursor.stats
    cursor.execute(f"SELECT order_id, quantity FROM {table} WHERE dt = '{DAYS[1]}'")
    assert len(cursor.fetchall()) == per_day[DAYS[1]]
    one = cursor.stats
    assert one["processedRows"] == per_day[DAYS[1]] and both["processedRows"] == sum(per_day.values())
    assert one["totalSplits"] < both["totalSplits"]
    plan = "\n".join(r[0] for r in _rows(trino, f"EXPLAIN SELECT order_id FROM {table} WHERE dt = '{DAYS[1]}'"))
    assert f"[[{DAYS[1]}]]" in plan  # the scan's constraint on the partition column


@pytest.mark.parametrize("fmt", FORMATS)
def test_trino_describe_shows_the_specs_column_descriptions(lake, trino, fmt):
    settings = lake[fmt]
    described = 0
    for spec in TABLES:
        comments = {r[0]: r[3] for r in _rows(trino, f'DESCRIBE hive."{_db(settings, spec.layer)}"."{spec.name}"')}
        for column in spec.columns:
            if column.description and column.name in comments:
                # Glue keeps 255 characters of a column comment; the Delta log keeps all of it
                expected = column.description if fmt == "delta" else column.description[:255]
                assert comments[column.name] == expected, (spec.id, column.name)
                described += 1
    assert described > 20


def _documented_types() -> dict[str, dict[str, str]]:
    """docs/catalog.md's type table: {arrow type: {"glue": ..., "delta": ..., "parquet": ...}}."""
    out = {}
    for line in DOCS.read_text().splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("pa."):
            out[cells[0]] = {"glue": cells[1], "delta": cells[2], "parquet": cells[3]}
    return out


ARROW_NAMES = {"s": "pa.string()", "b": "pa.bool_()", "i": "pa.int32()", "l": "pa.int64()", "f": "pa.float64()",
               "amount": "pa.decimal128(p, s)", "day": "pa.date32()", "at": "pa.timestamp(unit, tz)",
               "tags": "pa.list_(t)", "who": "pa.struct(...)", "attrs": "pa.map_(k, v)"}
CONCRETE = {  # the docs' generic names -> this table's own, in Trino's spelling and Glue's
    "amount": {"(p,s)": "(18,2)"}, "tags": {"(t)": "(varchar)", "<t>": "<string>"},
    "who": {"(...)": "(id bigint, name varchar)", "<...>": "<id:bigint,name:string>"},
    "attrs": {"(k, v)": "(varchar, integer)", "<k,v>": "<string,int>"},
}


def _concrete(column: str, documented: str) -> str:
    for generic, own in CONCRETE.get(column, {}).items():
        documented = documented.replace(generic, own)
    return documented


@pytest.mark.parametrize("fmt", FORMATS)
def test_trino_types_are_the_documented_ones(lake, trino, fmt):
    documented = _documented_types()
    settings = lake[fmt]
    glue = {c["Name"]: c["Type"]
            for c in GlueCatalog(settings).get_table("silver", "types")["StorageDescriptor"]["Columns"]}
    described = {r[0]: r[1] for r in _rows(trino, f'DESCRIBE hive."{_db(settings, "silver")}"."types"')}
    for column, arrow in ARROW_NAMES.items():
        assert described[column] == _concrete(column, documented[arrow][fmt]), (fmt, column)
        assert glue[column] == _concrete(column, documented[arrow]["glue"]), (fmt, column)
    table = f'hive."{_db(settings, "silver")}"."types"'
    row = dict(zip(described, _rows(trino, f"SELECT * FROM {table} WHERE dt = '{DAYS[0]}'")[0]))
    assert row["amount"] == Decimal("12.34") and row["day"] == date(2024, 6, 3) and row["tags"] == ["a", "b"]
    assert row["at"].replace(tzinfo=timezone.utc) == TYPE_ROW["at"] and row["attrs"] == {"k": 1}
    assert (row["who"].id, row["who"].name) == (1, "Ann") and row["l"] == 2**40 and row["b"] is True


def test_trino_reads_only_delta_features_athena_reads(lake):
    """Every published Delta table asks no more of a reader than Athena's Delta reader has (docs/catalog.md)."""
    from deltalake import DeltaTable

    from lakehouse.storage.filesystem import delta_storage_options

    settings = lake["delta"]
    for spec in TABLES:
        uri = ArrowStore(settings).uri(spec.layer, spec.name)
        protocol = DeltaTable(uri, storage_options=delta_storage_options(settings, uri)).protocol()
        assert protocol.min_reader_version <= 3, spec.id
        assert set(protocol.reader_features or ()) <= {"columnMapping", "deletionVectors", "timestampNtz"}, spec.id


# --- the trino engine of the query layer ------------------------------------------------------------------------

def test_trino_engine_masks_pii_limits_and_guards_like_the_local_engine(lake):
    settings = lake["delta"]
    sql = "SELECT customer_id, email_hash FROM silver.customers ORDER BY customer_id"
    masked = execute(sql, engine="trino", settings=settings)
    assert masked.engine == "trino" and masked.query_id
    assert masked.table.to_pylist() == execute(sql, engine="local", settings=settings).table.to_pylist()
    assert {r["email_hash"] for r in masked.table.to_pylist()} == {"***"}
    assert {r["email_hash"] for r in execute(sql, engine="trino", settings=settings, scopes=["pii"]).table.to_pylist()
            } != {"***"}
    cut = execute("SELECT order_id FROM silver.orders", engine="trino", settings=settings, limit=3)
    assert cut.truncated and cut.table.num_rows == 3
    with pytest.raises(ReadOnlyQueryError):
        execute("DROP TABLE silver.orders", engine="trino", settings=settings)
    with pytest.raises(TrinoQueryError, match="query failed in Trino: .*nope"):
        execute("SELECT nope FROM silver.orders", engine="trino", settings=settings)
    with pytest.raises(TrinoQueryError, match="LAKEHOUSE_TRINO_URL"):
        execute("SELECT 1 AS x FROM silver.orders", engine="trino", settings=settings.with_(trino_url=None))


def test_trino_engine_through_the_service_and_cli(lake, capsys, monkeypatch):
    from service_testing import add_key, client, running

    from lakehouse import cli

    settings = lake["delta"].with_(query_engine="trino")
    key = add_key(settings, "analyst")
    with running(settings) as url, client(url, key) as http:
        answer = http.post("/v1/query", json={"sql": "SELECT count(*) AS n FROM gold.daily_sales_summary",
                                              "page_size": 1})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["engine"] == "trino" and body["engine_query_id"] and body["rows"][0][0] > 0
    for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, {"AWS_ENDPOINT_URL": settings.aws_endpoint_url}.get(name, "testing"))
    monkeypatch.setenv("LAKEHOUSE_WAREHOUSE", settings.warehouse)
    monkeypatch.setenv("LAKEHOUSE_GLUE_PREFIX", settings.glue_prefix)
    monkeypatch.setenv("LAKEHOUSE_TRINO_URL", settings.trino_url)
    assert cli.main(["query", "SELECT count(*) AS n FROM silver.orders", "--engine", "trino", "--format", "csv"]) == 0
    header, row = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert header == ["n"] and int(row[0]) > 0


@pytest.mark.parametrize("name, arrow", [
    ("decimal(18,2)", pa.decimal128(18, 2)), ("timestamp(3) with time zone", pa.timestamp("ms", tz="UTC")),
    ("timestamp(6)", pa.timestamp("us")), ("array(varchar)", pa.list_(pa.string())),
    ("row(id bigint, name varchar)", pa.struct([("id", pa.int64()), ("name", pa.string())])),
    ("map(varchar, array(integer))", pa.map_(pa.string(), pa.list_(pa.int32()))), ("varchar(12)", pa.string()),
    ("time(3)", pa.string()),
])
def test_trino_result_types_become_arrow_types(name, arrow):
    assert arrow_type(name) == arrow

