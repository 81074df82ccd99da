"""Glue entries read back through boto3 from a real moto server."""
from __future__ import annotations

import boto3
import pyarrow as pa
import pytest

from lakehouse.catalog.glue import GlueCatalog, catalog_for
from lakehouse.catalog.types import hive_type

SCHEMA = pa.schema([
    ("order_id", pa.string()), ("amount", pa.decimal128(18, 2)), ("ordered_at", pa.timestamp("us", tz="UTC")),
    ("order_date", pa.date32()), ("tags", pa.list_(pa.string())),
    ("customer", pa.struct([("id", pa.int64()), ("name", pa.string())])),
    ("attrs", pa.map_(pa.string(), pa.string())), ("paid", pa.bool_()), ("qty", pa.int32()),
    ("n", pa.int64()), ("rate", pa.float64()), ("dt", pa.string()),
])


@pytest.mark.parametrize("arrow_type, expected", [
    (pa.string(), "string"), (pa.large_string(), "string"), (pa.int8(), "tinyint"), (pa.int16(), "smallint"),
    (pa.int32(), "int"), (pa.int64(), "bigint"), (pa.uint32(), "bigint"), (pa.float32(), "float"),
    (pa.float64(), "double"), (pa.decimal128(38, 6), "decimal(38,6)"), (pa.date32(), "date"),
    (pa.timestamp("ns"), "timestamp"), (pa.bool_(), "boolean"), (pa.binary(), "binary"),
    (pa.list_(pa.int64()), "array<bigint>"), (pa.struct([("a", pa.int64()), ("b", pa.string())]), "struct<a:bigint,b:string>"),
    (pa.map_(pa.string(), pa.float64()), "map<string,double>"), (pa.null(), "string"),
    (pa.dictionary(pa.int32(), pa.string()), "string"),
])
def test_hive_types(arrow_type, expected):
    assert hive_type(arrow_type) == expected


def test_unknown_type_is_a_clear_error():
    with pytest.raises(ValueError, match="no Athena type"):
        hive_type(pa.duration("s"))


def _glue(settings):
    return boto3.client("glue", endpoint_url=settings.aws_endpoint_url, region_name="us-east-1")


def test_delta_table_entry(s3_lakehouse_env):
    catalog = GlueCatalog(s3_lakehouse_env)
    location = f"{s3_lakehouse_env.warehouse}/silver/orders"
    assert catalog.register(layer="silver", name="orders", description="orders", schema=SCHEMA,
                            location=location, fmt="delta") == f"{s3_lakehouse_env.glue_prefix}_silver.orders"
    table = _glue(s3_lakehouse_env).get_table(DatabaseName=s3_lakehouse_env.glue_database("silver"), Name="orders")["Table"]
    assert table["Parameters"]["table_type"] == "DELTA"
    assert "projection.enabled" not in table["Parameters"]
    assert table["StorageDescriptor"]["Location"] == location
    types = {c["Name"]: c["Type"] for c in table["StorageDescriptor"]["Columns"]}
    assert types["amount"] == "decimal(18,2)" and types["ordered_at"] == "timestamp"
    assert types["customer"] == "struct<id:bigint,name:string>" and types["attrs"] == "map<string,string>"
    assert types["tags"] == "array<string>" and types["order_date"] == "date"


def test_parquet_table_has_dt_partition_projection(s3_lakehouse_env):
    catalog = GlueCatalog(s3_lakehouse_env)
    location = f"{s3_lakehouse_env.warehouse}/gold/metrics"
    catalog.register(layer="gold", name="metrics", description="m", schema=SCHEMA, location=location,
                     fmt="parquet", partitioning="monthly")
    table = _glue(s3_lakehouse_env).get_table(DatabaseName=s3_lakehouse_env.glue_database("gold"), Name="metrics")["Table"]
    params = table["Parameters"]
    assert table["PartitionKeys"] == [{"Name": "dt", "Type": "string"}]
    assert "dt" not in {c["Name"] for c in table["StorageDescriptor"]["Columns"]}
    assert params["projection.enabled"] == "true" and params["projection.dt.type"] == "date"
    assert params["projection.dt.interval.unit"] == "MONTHS"
    assert params["storage.location.template"] == f"{location}/dt=${{dt}}"
    assert table["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"].endswith("ParquetHiveSerDe")


def test_schema_growth_updates_the_table_and_never_drops_columns(s3_lakehouse_env):
    catalog = GlueCatalog(s3_lakehouse_env)
    location = f"{s3_lakehouse_env.warehouse}/bronze/t"
    small = pa.schema([("a", pa.string()), ("b", pa.int64()), ("dt", pa.string())])
    catalog.register(layer="bronze", name="t", description="t", schema=small, location=location, fmt="delta")
    catalog.register(layer="bronze", name="t", description="t", schema=small, location=location, fmt="delta")
    grown = pa.schema([("a", pa.string()), ("c", pa.float64()), ("dt", pa.string())])
    catalog.register(layer="bronze", name="t", description="t", schema=grown, location=location, fmt="delta")
    tables = _glue(s3_lakehouse_env).get_tables(DatabaseName=s3_lakehouse_env.glue_database("bronze"))["TableList"]
    assert [t["Name"] for t in tables] == ["t"]
    names = [c["Name"] for c in tables[0]["StorageDescriptor"]["Columns"]]
    assert set(names) == {"a", "b", "c", "dt"}


def test_catalog_is_off_without_a_prefix(lakehouse_env):
    assert catalog_for(lakehouse_env) is None
