"""Glue entries written by the catalog and read back through boto3 from a real moto server over HTTP."""
from __future__ import annotations

import boto3
import pyarrow as pa
import pytest

from lakehouse.catalog.glue import GlueCatalog, catalog_for, glue_location
from lakehouse.catalog.types import glue_columns, hive_type
from lakehouse.errors import LakehouseError

SCHEMA = pa.schema([
    ("order_id", pa.string()), ("amount", pa.decimal128(18, 2)), ("ordered_at", pa.timestamp("us", tz="UTC")),
    ("order_date", pa.date32()), ("tags", pa.list_(pa.string())),
    ("customer", pa.struct([("a", pa.int64()), ("b", pa.string())])),
    ("attrs", pa.map_(pa.string(), pa.int32())), ("paid", pa.bool_()), ("qty", pa.int32()),
    ("n", pa.int64()), ("rate", pa.float64()), ("dt", pa.string()),
])
EXPECTED_TYPES = {
    "order_id": "string", "amount": "decimal(18,2)", "ordered_at": "timestamp", "order_date": "date",
    "tags": "array<string>", "customer": "struct<a:bigint,b:string>", "attrs": "map<string,int>",
    "paid": "boolean", "qty": "int", "n": "bigint", "rate": "double",
}


# -- Arrow -> Hive types (no AWS) ----------------------------------------------------------------------------

@pytest.mark.parametrize("arrow_type, expected", [
    (pa.string(), "string"), (pa.large_string(), "string"), (pa.string_view(), "string"),
    (pa.bool_(), "boolean"), (pa.int8(), "tinyint"), (pa.int16(), "smallint"), (pa.int32(), "int"),
    (pa.int64(), "bigint"), (pa.uint8(), "smallint"), (pa.uint16(), "int"), (pa.uint32(), "bigint"),
    (pa.uint64(), "decimal(20,0)"), (pa.float32(), "float"), (pa.float64(), "double"),
    (pa.decimal128(38, 6), "decimal(38,6)"), (pa.decimal256(20, 4), "decimal(20,4)"),
    (pa.date32(), "date"), (pa.date64(), "date"), (pa.timestamp("s"), "timestamp"),
    (pa.timestamp("ns"), "timestamp"), (pa.timestamp("us", tz="Europe/Berlin"), "timestamp"),
    (pa.binary(), "binary"), (pa.large_binary(), "binary"),
    (pa.list_(pa.int64()), "array<bigint>"), (pa.large_list(pa.string()), "array<string>"),
    (pa.struct([("a", pa.int64()), ("b", pa.string())]), "struct<a:bigint,b:string>"),
    (pa.map_(pa.string(), pa.float64()), "map<string,double>"),
    (pa.list_(pa.struct([("k", pa.string()), ("v", pa.list_(pa.int16()))])), "array<struct<k:string,v:array<smallint>>>"),
    (pa.null(), "string"), (pa.dictionary(pa.int32(), pa.string()), "string"),
])
def test_hive_types(arrow_type, expected):
    assert hive_type(arrow_type) == expected


@pytest.mark.parametrize("arrow_type", [pa.duration("s"), pa.time64("us"), pa.decimal256(50, 2)])
def test_unknown_type_is_a_clear_error(arrow_type):
    with pytest.raises(ValueError, match="no Athena type") as err:
        hive_type(arrow_type)
    assert str(arrow_type) in str(err.value)


def test_glue_columns_leave_out_dt_and_carry_comments():
    cols = glue_columns(pa.schema([("a", pa.int64()), ("dt", pa.string())]), comments={"a": "x" * 300})
    assert cols == [{"Name": "a", "Type": "bigint", "Comment": "x" * 255}]
    with pytest.raises(ValueError, match="column 'd'.*duration"):
        glue_columns(pa.schema([("d", pa.duration("s"))]))


def test_locations_are_s3_uris():
    assert glue_location("s3a://b/warehouse/silver/t/") == "s3://b/warehouse/silver/t"
    assert glue_location("file:///tmp/w/t") == "file:///tmp/w/t"


def test_catalog_is_off_without_a_prefix(lakehouse_env):
    assert catalog_for(lakehouse_env) is None


# -- against moto over HTTP -------------------------------------------------------------------------------

def _glue(settings):
    return boto3.client("glue", endpoint_url=settings.aws_endpoint_url, region_name=settings.aws_region)


def _table(settings, layer, name):
    return _glue(settings).get_table(DatabaseName=settings.glue_database(layer), Name=name)["Table"]


def test_delta_table_entry(s3_lakehouse_env):
    settings = s3_lakehouse_env
    catalog = catalog_for(settings)
    location = f"{settings.warehouse}/silver/orders"
    assert catalog.register(layer="silver", name="orders", description="One row per order.", schema=SCHEMA,
                            location=location, fmt="delta", column_comments={"amount": "gross, EUR"},
                            tags={"domain": "commerce"}) == f"{settings.glue_prefix}_silver.orders"

    database = _glue(settings).get_database(Name=settings.glue_database("silver"))["Database"]
    assert database["Description"]
    table = _table(settings, "silver", "orders")
    params = table["Parameters"]
    assert params["table_type"] == "DELTA" and params["classification"] == "delta"
    assert params["EXTERNAL"] == "TRUE" and table["TableType"] == "EXTERNAL_TABLE"
    assert params["lakehouse.layer"] == "silver" and params["lakehouse.format"] == "delta"
    assert params["lakehouse.tag.domain"] == "commerce"
    assert not any(k.startswith("projection.") for k in params) and "storage.location.template" not in params
    assert not table.get("PartitionKeys")
    assert table["StorageDescriptor"]["Location"] == location
    cols = table["StorageDescriptor"]["Columns"]
    assert {c["Name"]: c["Type"] for c in cols} == {**EXPECTED_TYPES, "dt": "string"}
    assert next(c for c in cols if c["Name"] == "amount")["Comment"] == "gross, EUR"

    listed = catalog.list_tables("silver")
    assert [(t["name"], t["format"], t["location"]) for t in listed] == [("orders", "delta", location)]
    assert catalog.get_table("silver", "orders")["Name"] == "orders"
    assert catalog.get_table("silver", "missing") is None


def test_parquet_table_has_dt_partition_projection(s3_lakehouse_env):
    settings = s3_lakehouse_env
    catalog = GlueCatalog(settings)
    location = f"{settings.warehouse}/bronze/events"
    catalog.register(layer="bronze", name="events", description="raw", schema=SCHEMA, location=location,
                     fmt="parquet")
    table = _table(settings, "bronze", "events")
    params, sd = table["Parameters"], table["StorageDescriptor"]
    assert table["PartitionKeys"] == [{"Name": "dt", "Type": "string"}]
    assert {c["Name"]: c["Type"] for c in sd["Columns"]} == EXPECTED_TYPES  # dt only as partition key
    assert sd["SerdeInfo"]["SerializationLibrary"] == "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    assert sd["InputFormat"] == "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    assert sd["OutputFormat"] == "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
    assert sd["Location"] == location
    assert params["classification"] == "parquet" and "table_type" not in params
    assert {k: v for k, v in params.items() if k.startswith("projection.") or k.startswith("storage.")} == {
        "projection.enabled": "true",
        "projection.dt.type": "date",
        "projection.dt.format": "yyyy-MM-dd",
        "projection.dt.range": f"{settings.start_date},NOW",  # the first partition a table can have
        "projection.dt.interval": "1",
        "projection.dt.interval.unit": "DAYS",
        "storage.location.template": f"{location}/dt=${{dt}}",
    }


def test_monthly_projection(s3_lakehouse_env):
    settings = s3_lakehouse_env
    catalog = GlueCatalog(settings)
    location = f"{settings.warehouse}/gold/metrics"
    catalog.register(layer="gold", name="metrics", description="m", schema=SCHEMA, location=location,
                     fmt="parquet", partitioning="monthly")
    params = _table(settings, "gold", "metrics")["Parameters"]
    # monthly dt values are the month's first day (Dagster monthly keys), projected by days: Trino refuses
    # MONTHS on a date projection, and the other days are empty prefixes
    assert params["projection.dt.format"] == "yyyy-MM-dd"
    assert params["projection.dt.range"] == f"{settings.start_date[:8]}01,NOW"
    assert params["projection.dt.interval.unit"] == "DAYS"
    assert params["storage.location.template"] == f"{location}/dt=${{dt}}"

    catalog.register(layer="gold", name="metrics_ym", description="m", schema=SCHEMA, location=location + "_ym",
                     fmt="parquet", partitioning="monthly", partition_format="yyyy-MM")
    params = _table(settings, "gold", "metrics_ym")["Parameters"]
    assert params["projection.dt.format"] == "yyyy-MM" and params["projection.dt.range"] == f"{settings.start_date[:7]},NOW"
    assert params["projection.dt.interval.unit"] == "MONTHS"


def test_registering_twice_is_idempotent_and_growth_updates_in_place(s3_lakehouse_env, monkeypatch):
    settings = s3_lakehouse_env
    catalog = GlueCatalog(settings)
    glue = _glue(settings)
    database = settings.glue_database("bronze")
    location = f"{settings.warehouse}/bronze/t"
    small = pa.schema([("a", pa.string()), ("b", pa.int64()), ("dt", pa.string())])
    for _ in range(2):
        catalog.register(layer="bronze", name="t", description="t", schema=small, location=location, fmt="parquet",
                         column_comments={"b": "kept comment"})
    first = _table(settings, "bronze", "t")
    assert [t["Name"] for t in glue.get_tables(DatabaseName=database)["TableList"]] == ["t"]
    assert len(glue.get_databases()["DatabaseList"]) >= 1

    # grown by `c`, and `b` is gone from the new schema: Glue keeps `b` with its type and comment
    grown = pa.schema([("a", pa.string()), ("c", pa.float64()), ("dt", pa.string())])
    catalog.register(layer="bronze", name="t", description="t v2", schema=grown, location=location, fmt="parquet")
    tables = glue.get_tables(DatabaseName=database)["TableList"]
    assert [t["Name"] for t in tables] == ["t"]
    cols = tables[0]["StorageDescriptor"]["Columns"]
    assert [(c["Name"], c["Type"]) for c in cols] == [("a", "string"), ("c", "double"), ("b", "bigint")]
    assert next(c for c in cols if c["Name"] == "b")["Comment"] == "kept comment"
    assert tables[0]["Description"] == "t v2"
    assert tables[0]["PartitionKeys"] == first["PartitionKeys"]

    # the same registration again writes nothing
    updates = []
    real_update = catalog.client.update_table
    monkeypatch.setattr(catalog.client, "update_table", lambda **kw: updates.append(kw) or real_update(**kw))
    catalog.register(layer="bronze", name="t", description="t v2", schema=grown, location=location, fmt="parquet")
    assert updates == []
    assert _table(settings, "bronze", "t")["StorageDescriptor"]["Columns"] == cols


def test_list_tables(s3_lakehouse_env):
    settings = s3_lakehouse_env
    catalog = GlueCatalog(settings)
    small = pa.schema([("a", pa.string()), ("dt", pa.string())])
    catalog.register(layer="bronze", name="x", description="x", schema=small,
                     location=f"{settings.warehouse}/bronze/x", fmt="parquet")
    catalog.register(layer="gold", name="y", description="y", schema=small,
                     location=f"{settings.warehouse}/gold/y", fmt="delta")
    listed = {(t["database"], t["name"]): t for t in catalog.list_tables()}
    assert set(listed) == {(settings.glue_database("bronze"), "x"), (settings.glue_database("gold"), "y")}
    assert [c["Name"] for c in listed[(settings.glue_database("bronze"), "x")]["columns"]] == ["a", "dt"]
    assert catalog.list_tables("silver") == []  # no database yet: nothing, not an error


def test_glue_errors_name_the_table_and_the_code(s3_lakehouse_env, monkeypatch):
    from botocore.exceptions import ClientError

    catalog = GlueCatalog(s3_lakehouse_env)

    def denied(**kwargs):
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no glue:CreateTable"}},
                          "CreateTable")

    monkeypatch.setattr(catalog.client, "create_table", denied)
    with pytest.raises(LakehouseError) as err:
        catalog.register(layer="silver", name="t", description="t", schema=pa.schema([("a", pa.string())]),
                         location=f"{s3_lakehouse_env.warehouse}/silver/t", fmt="delta")
    message = str(err.value)
    assert f"{s3_lakehouse_env.glue_database('silver')}.t" in message
    assert "AccessDeniedException" in message and "no glue:CreateTable" in message
    assert isinstance(err.value.__cause__, ClientError)


def test_unsupported_column_type_names_the_table(s3_lakehouse_env):
    catalog = GlueCatalog(s3_lakehouse_env)
    with pytest.raises(LakehouseError, match=r"_silver\.d: column 'took'.*duration"):
        catalog.register(layer="silver", name="d", description="d", schema=pa.schema([("took", pa.duration("s"))]),
                         location=f"{s3_lakehouse_env.warehouse}/silver/d", fmt="delta")
