"""The table store on real files: Delta (delta-rs) and Parquet, on local disk and on S3 (moto over HTTP)."""
from __future__ import annotations

import pyarrow as pa
import pytest

from lakehouse.errors import LakehouseError, SchemaMismatchError
from lakehouse.storage.table_store import SparkNativeStore, TableStore


def _batch(dts, start=0, **extra):
    n = len(dts)
    cols = {"id": pa.array(range(start, start + n), pa.int64()), "name": [f"n{i}" for i in range(start, start + n)],
            "dt": list(dts)}
    cols.update(extra)
    return pa.table(cols)


def _sorted(table: pa.Table) -> list[dict]:
    return sorted(table.to_pylist(), key=lambda r: (r["dt"], r["id"]))


@pytest.fixture(params=["delta", "parquet"])
def fmt(request):
    return request.param


@pytest.fixture(params=["local", "s3"])
def store_env(request):
    env = request.getfixturevalue("lakehouse_env" if request.param == "local" else "s3_lakehouse_env")
    return TableStore(env)


def test_round_trip_and_exact_partition_overwrite(store_env, fmt):
    store = store_env
    uri = store.uri("silver", f"t_{fmt}")
    store.write("silver.t", uri, fmt, _batch(["2024-06-01", "2024-06-02", "2024-06-03"] * 2), ["2024-06-01", "2024-06-02", "2024-06-03"])
    assert store.partitions(uri, fmt) == ["2024-06-01", "2024-06-02", "2024-06-03"]
    before = store.version(uri, fmt)

    result = store.write("silver.t", uri, fmt, _batch(["2024-06-02"], start=100), ["2024-06-02"])

    table = store.read(uri, fmt)
    assert result.rows == 1
    assert [r["id"] for r in _sorted(table) if r["dt"] == "2024-06-02"] == [100]
    assert sum(1 for r in table.to_pylist() if r["dt"] != "2024-06-02") == 4  # other days untouched
    if fmt == "delta":
        assert result.version == before + 1  # one atomic commit for the whole overwrite


def test_overwrite_with_no_rows_empties_the_partition(store_env, fmt):
    store = store_env
    uri = store.uri("silver", f"e_{fmt}")
    store.write("silver.e", uri, fmt, _batch(["2024-06-01", "2024-06-02"]), ["2024-06-01", "2024-06-02"])
    store.write("silver.e", uri, fmt, _batch([]).cast(_batch(["x"]).schema), ["2024-06-02"])
    assert store.partitions(uri, fmt) == ["2024-06-01"]
    assert store.read(uri, fmt, ["2024-06-02"]).num_rows == 0


def test_rewrite_is_idempotent(lakehouse_env, fmt):
    store = TableStore(lakehouse_env)
    uri = store.uri("gold", f"i_{fmt}")
    batch = _batch(["2024-06-01", "2024-06-02"] * 3)
    store.write("gold.i", uri, fmt, batch, ["2024-06-01", "2024-06-02"])
    first = _sorted(store.read(uri, fmt))
    store.write("gold.i", uri, fmt, batch, ["2024-06-01", "2024-06-02"])
    assert _sorted(store.read(uri, fmt)) == first


def test_new_column_is_added_and_old_rows_read_null(lakehouse_env, fmt):
    store = TableStore(lakehouse_env)
    uri = store.uri("bronze", f"g_{fmt}")
    store.write("bronze.g", uri, fmt, _batch(["2024-06-01"]), ["2024-06-01"])
    result = store.write("bronze.g", uri, fmt, _batch(["2024-06-02"], start=5, coupon=["SAVE10"]), ["2024-06-02"])
    assert result.added_columns == ["coupon"]
    rows = {r["dt"]: r["coupon"] for r in store.read(uri, fmt).to_pylist()}
    assert rows == {"2024-06-01": None, "2024-06-02": "SAVE10"}


def test_incompatible_type_change_is_refused_and_nothing_changes(lakehouse_env, fmt):
    store = TableStore(lakehouse_env)
    uri = store.uri("silver", f"m_{fmt}")
    store.write("silver.m", uri, fmt, _batch(["2024-06-01"]), ["2024-06-01"])
    version, content = store.version(uri, fmt), _sorted(store.read(uri, fmt))
    bad = pa.table({"id": ["not-a-number"], "name": ["x"], "dt": ["2024-06-01"]})
    with pytest.raises(SchemaMismatchError) as err:
        store.write("silver.m", uri, fmt, bad, ["2024-06-01"])
    assert "silver.m" in str(err.value) and "'id'" in str(err.value)
    assert "int64" in str(err.value) and "string" in str(err.value)
    assert store.version(uri, fmt) == version and _sorted(store.read(uri, fmt)) == content


def test_safe_widening_is_cast_to_the_table_type(lakehouse_env):
    store = TableStore(lakehouse_env)
    uri = store.uri("silver", "w")
    store.write("silver.w", uri, "delta", _batch(["2024-06-01"]), ["2024-06-01"])
    narrow = pa.table({"id": pa.array([7], pa.int32()), "name": pa.array(["s"], pa.large_string()), "dt": ["2024-06-02"]})
    store.write("silver.w", uri, "delta", narrow, ["2024-06-02"])
    assert store.schema(uri, "delta").field("id").type == pa.int64()


def test_rows_outside_the_requested_partitions_are_refused(lakehouse_env):
    store = TableStore(lakehouse_env)
    with pytest.raises(LakehouseError, match="outside the partitions"):
        store.write("silver.x", store.uri("silver", "x"), "delta", _batch(["2024-06-01", "2024-06-09"]), ["2024-06-01"])


def test_spark_frames_cross_through_arrow(lakehouse_env, spark):
    store = TableStore(lakehouse_env)
    uri = store.uri("silver", "s")
    df = spark.createDataFrame([(1, "a", "2024-06-01"), (2, "b", "2024-06-02")], "id bigint, name string, dt string")
    store.write_df("silver.s", uri, "delta", df, ["2024-06-01", "2024-06-02"])
    back = store.read_df(spark, uri, "delta", ["2024-06-02"])
    assert [tuple(r) for r in back.select("id", "name", "dt").collect()] == [(2, "b", "2024-06-02")]


def test_spark_native_parquet_path_overwrites_only_its_partitions(lakehouse_env, spark):
    store = SparkNativeStore(lakehouse_env)
    uri = store.uri("silver", "native")
    df = spark.createDataFrame([(1, "a", "2024-06-01"), (2, "b", "2024-06-02")], "id bigint, name string, dt string")
    store.write_df("silver.native", uri, "parquet", df, ["2024-06-01", "2024-06-02"])
    store.write_df("silver.native", uri, "parquet",
                   spark.createDataFrame([(9, "z", "2024-06-02")], "id bigint, name string, dt string"), ["2024-06-02"])
    rows = sorted((r.id, r.dt) for r in store.read_df(spark, uri, "parquet").collect())
    assert rows == [(1, "2024-06-01"), (9, "2024-06-02")]


def test_maintenance_operations_on_delta(lakehouse_env):
    store = TableStore(lakehouse_env)
    uri = store.uri("bronze", "maint")
    for day in ("2024-06-01", "2024-06-02", "2024-06-03"):
        for start in (0, 10):  # two commits to the same day leave files for compaction and vacuum
            store.write("bronze.maint", uri, "delta", _batch([day], start=start), [day])
    assert store.delete_partitions(uri, "delta", ["2024-06-01", "2024-05-01"]) == 1
    assert store.partitions(uri, "delta") == ["2024-06-02", "2024-06-03"]
    store.compact(uri, "delta")
    removed = store.vacuum(uri, "delta", retention_hours=0)
    assert removed  # files of replaced and deleted partitions are gone from disk
    assert sorted(r["id"] for r in store.read(uri, "delta").to_pylist()) == [10, 10]
    assert len(store.history(uri, "delta")) >= 7
