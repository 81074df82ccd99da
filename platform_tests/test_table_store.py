"""The table store on real files: Delta (delta-rs) and Parquet, on local disk and on S3 (moto over HTTP)."""
from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakehouse.errors import LakehouseError, SchemaMismatchError
from lakehouse.storage.arrow_store import ArrowStore
from lakehouse.storage.spark_store import SparkStore


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


@pytest.fixture(params=["delta-rs", "spark"])
def kind(request):
    return request.param


def _store(env, kind):
    """The store under test: the Arrow + delta-rs path, or Spark's own writers (the default for runs)."""
    return ArrowStore(env) if kind == "delta-rs" else SparkStore(env)


@pytest.fixture(params=["local", "s3"])
def store_env(request, kind):
    env = request.getfixturevalue("lakehouse_env" if request.param == "local" else "s3_lakehouse_env")
    if kind == "spark":
        request.getfixturevalue("spark")
    return _store(env, kind)


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


def test_rewrite_is_idempotent(lakehouse_env, fmt, kind):
    store = _store(lakehouse_env, kind)
    uri = store.uri("gold", f"i_{fmt}")
    batch = _batch(["2024-06-01", "2024-06-02"] * 3)
    store.write("gold.i", uri, fmt, batch, ["2024-06-01", "2024-06-02"])
    first = _sorted(store.read(uri, fmt))
    store.write("gold.i", uri, fmt, batch, ["2024-06-01", "2024-06-02"])
    assert _sorted(store.read(uri, fmt)) == first


def test_new_column_is_added_and_old_rows_read_null(lakehouse_env, fmt, kind):
    store = _store(lakehouse_env, kind)
    uri = store.uri("bronze", f"g_{fmt}")
    store.write("bronze.g", uri, fmt, _batch(["2024-06-01"]), ["2024-06-01"])
    result = store.write("bronze.g", uri, fmt, _batch(["2024-06-02"], start=5, coupon=["SAVE10"]), ["2024-06-02"])
    assert result.added_columns == ["coupon"]
    rows = {r["dt"]: r["coupon"] for r in store.read(uri, fmt).to_pylist()}
    assert rows == {"2024-06-01": None, "2024-06-02": "SAVE10"}


def test_incompatible_type_change_is_refused_and_nothing_changes(lakehouse_env, fmt, kind):
    store = _store(lakehouse_env, kind)
    uri = store.uri("silver", f"m_{fmt}")
    store.write("silver.m", uri, fmt, _batch(["2024-06-01"]), ["2024-06-01"])
    version, content = store.version(uri, fmt), _sorted(store.read(uri, fmt))
    bad = pa.table({"id": ["not-a-number"], "name": ["x"], "dt": ["2024-06-01"]})
    with pytest.raises(SchemaMismatchError) as err:
        store.write("silver.m", uri, fmt, bad, ["2024-06-01"])
    assert "silver.m" in str(err.value) and "'id'" in str(err.value)
    assert "int64" in str(err.value) and "string" in str(err.value)
    assert (err.value.table, err.value.column, err.value.existing, err.value.incoming) == ("silver.m", "id", "int64", "string")
    assert store.version(uri, fmt) == version and _sorted(store.read(uri, fmt)) == content


def test_safe_widening_is_cast_to_the_table_type(lakehouse_env, fmt, kind):
    store = _store(lakehouse_env, kind)
    uri = store.uri("silver", f"w_{fmt}")
    store.write("silver.w", uri, fmt, _batch(["2024-06-01"], price=pa.array([1.5], pa.float64())), ["2024-06-01"])
    narrow = pa.table({"id": pa.array([7], pa.int32()), "name": pa.array([None], pa.null()),
                       "price": pa.array([2.5], pa.float32()), "dt": ["2024-06-02"]})
    store.write("silver.w", uri, fmt, narrow, ["2024-06-02"])
    schema = store.schema(uri, fmt)
    assert [schema.field(c).type for c in ("id", "name", "price")] == [pa.int64(), pa.string(), pa.float64()]
    assert _sorted(store.read(uri, fmt))[1] == {"id": 7, "name": None, "price": 2.5, "dt": "2024-06-02"}


def test_types_are_normalized_on_write(lakehouse_env, fmt, kind):
    store = _store(lakehouse_env, kind)
    uri = store.uri("silver", f"n_{fmt}")
    data = pa.table({"id": pa.array([1], pa.int64()), "name": pa.array(["a"], pa.string_view()),
                     "at": pa.array([1_717_200_000_123_456_789], pa.timestamp("ns", tz="UTC")), "dt": ["2024-06-01"]})
    store.write("silver.n", uri, fmt, pa.RecordBatchReader.from_batches(data.schema, data.to_batches()), ["2024-06-01"])
    back = store.read(uri, fmt)
    assert back.schema.field("name").type == pa.string()
    assert back.schema.field("at").type == pa.timestamp("us", tz="UTC")
    assert back.schema.field("dt").type == pa.string()


def test_columns_missing_from_a_batch_are_written_as_nulls(lakehouse_env, fmt, kind):
    store = _store(lakehouse_env, kind)
    uri = store.uri("silver", f"k_{fmt}")
    store.write("silver.k", uri, fmt, _batch(["2024-06-01"]), ["2024-06-01"])
    result = store.write("silver.k", uri, fmt, pa.table({"id": [3], "dt": ["2024-06-02"]}), ["2024-06-02"])
    assert result.added_columns == [] and result.schema.names == ["id", "name", "dt"]
    assert {r["dt"]: r["name"] for r in store.read(uri, fmt).to_pylist()} == {"2024-06-01": "n0", "2024-06-02": None}


def test_read_of_a_subset_of_partitions_and_columns(lakehouse_env, fmt, kind):
    store = _store(lakehouse_env, kind)
    uri = store.uri("gold", f"r_{fmt}")
    days = ["2024-06-01", "2024-06-02", "2024-06-03"]
    store.write("gold.r", uri, fmt, _batch(days), days)
    part = store.read(uri, fmt, ["2024-06-01", "2024-06-03"], columns=["id"])
    assert part.column_names == ["id", "dt"]
    assert sorted(part.to_pylist(), key=lambda r: r["dt"]) == [{"id": 0, "dt": "2024-06-01"}, {"id": 2, "dt": "2024-06-03"}]
    assert store.read(uri, fmt, []).num_rows == 0
    missing = store.read(store.uri("gold", "never_written"), fmt)
    assert missing.num_rows == 0 and missing.column_names == ["dt"]
    assert store.partitions(store.uri("gold", "never_written"), fmt) == [] and not store.exists(store.uri("gold", "never_written"), fmt)


def test_rows_outside_the_requested_partitions_are_refused(lakehouse_env, fmt, kind):
    store = _store(lakehouse_env, kind)
    uri = store.uri("silver", f"x_{fmt}")
    with pytest.raises(ValueError, match="outside the partitions") as err:
        store.write("silver.x", uri, fmt, _batch(["2024-06-01", "2024-06-09"]), ["2024-06-01"])
    assert "2024-06-09" in str(err.value) and isinstance(err.value, LakehouseError)
    assert not store.exists(uri, fmt)  # nothing was written


def test_spark_frames_cross_through_arrow(lakehouse_env, spark):
    store = ArrowStore(lakehouse_env)
    uri = store.uri("silver", "s")
    df = spark.createDataFrame([(1, "a", "2024-06-01"), (2, "b", "2024-06-02")], "id bigint, name string, dt string")
    store.write_df("silver.s", uri, "delta", df, ["2024-06-01", "2024-06-02"])
    back = store.read_df(spark, uri, "delta", ["2024-06-02"])
    assert [tuple(r) for r in back.select("id", "name", "dt").collect()] == [(2, "b", "2024-06-02")]
    empty = store.read_df(spark, store.uri("silver", "not_yet"), "delta")
    assert empty.columns == ["dt"] and empty.count() == 0


def test_spark_store_parquet_path_overwrites_only_its_partitions(lakehouse_env, spark):
    store = SparkStore(lakehouse_env)
    uri = store.uri("silver", "native")
    df = spark.createDataFrame([(1, "a", "2024-06-01"), (2, "b", "2024-06-02")], "id bigint, name string, dt string")
    store.write_df("silver.native", uri, "parquet", df, ["2024-06-01", "2024-06-02"])
    store.write_df("silver.native", uri, "parquet",
                   spark.createDataFrame([(9, "z", "2024-06-02")], "id bigint, name string, dt string"), ["2024-06-02"])
    rows = sorted((r.id, r.dt) for r in store.read_df(spark, uri, "parquet").collect())
    assert rows == [(1, "2024-06-01"), (9, "2024-06-02")]
    # an empty batch for a requested day empties it; the Arrow store reads what Spark wrote
    store.write_df("silver.native", uri, "parquet", df.where("false"), ["2024-06-02"])
    assert store.partitions(uri, "parquet") == ["2024-06-01"]
    assert ArrowStore(lakehouse_env).read(uri, "parquet").to_pylist() == [{"id": 1, "name": "a", "dt": "2024-06-01"}]
    with pytest.raises(ValueError, match="2024-06-01"):
        store.write_df("silver.native", uri, "parquet", df, ["2024-06-02"])
    with pytest.raises(SchemaMismatchError, match="'id'"):
        store.write_df("silver.native", uri, "parquet",
                       spark.createDataFrame([("x", "2024-06-02")], "id string, dt string"), ["2024-06-02"])


def _rows(df) -> list[tuple]:
    return sorted(tuple(r) for r in df.select(*sorted(df.columns)).collect())


def test_delta_read_from_the_logs_file_list_equals_delta_sparks_reader(lakehouse_env, spark):
    store = SparkStore(lakehouse_env)
    uri = store.uri("silver", "listed")
    path = uri.removeprefix("file://")
    first = spark.createDataFrame([(1, "a", "2024-06-01"), (2, "b", "2024-06-02")], "id bigint, name string, dt string")
    store.write_df("silver.listed", uri, "delta", first, ["2024-06-01", "2024-06-02"])
    later = spark.createDataFrame([(3, "c", 1.5, "2024-06-03"), (4, "d", None, "2024-06-02")],
                                  "id bigint, name string, score double, dt string")  # a column added later
    store.write_df("silver.listed", uri, "delta", later, ["2024-06-02", "2024-06-03"])
    store.write_df("silver.listed", uri, "delta", first.where("false"), ["2024-06-01"])  # a day emptied

    for days in (["2024-06-02"], ["2024-06-01", "2024-06-03"], ["2024-05-31"], None):
        ours = store.read_df(spark, uri, "delta", days)
        theirs = spark.read.format("delta").load(path)
        theirs = theirs.where(theirs.dt.isin(days)) if days is not None else theirs
        assert ours.schema.simpleString() == theirs.schema.simpleString()
        assert _rows(ours) == _rows(theirs), days
    assert _rows(store.read_df(spark, uri, "delta", ["2024-06-01", "2024-06-02"])) == [("2024-06-02", 4, "d", None)]


def test_a_table_with_deletion_vectors_is_read_by_delta_sparks_reader(lakehouse_env, spark):
    """Its files still hold the deleted rows: only a Delta reader may read it."""
    store = SparkStore(lakehouse_env)
    uri = store.uri("silver", "dv")
    path = uri.removeprefix("file://")
    rows = spark.createDataFrame([(i, "2024-06-01") for i in range(20)], "id bigint, dt string")
    rows.coalesce(1).write.format("delta").partitionBy("dt").option("delta.enableDeletionVectors", "true").save(path)
    spark.sql(f"DELETE FROM delta.`{path}` WHERE id < 5")
    assert "deletionVectors" in (store._delta(uri).protocol().reader_features or [])
    assert sorted(r.id for r in store.read_df(spark, uri, "delta", ["2024-06-01"]).collect()) == list(range(5, 20))


def test_maintenance_operations_on_delta(lakehouse_env, kind):
    store = _store(lakehouse_env, kind)
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


def test_parquet_compaction_rewrites_a_day_into_one_file(lakehouse_env):
    store = ArrowStore(lakehouse_env)
    uri = store.uri("bronze", "pcompact")
    store.write("bronze.pc", uri, "parquet", _batch(["2024-06-01"] * 2), ["2024-06-01"])
    # a second writer's file in the same day (e.g. a Spark job) leaves the day with two files
    extra = pa.table({"id": pa.array([50], pa.int64()), "name": ["late"]})
    pq.write_table(extra, uri.removeprefix("file://") + "/dt=2024-06-01/part-extra.parquet")
    assert store.compact(uri, "parquet") == {"partitions_rewritten": 1}
    assert len(store._parquet_files(uri)["2024-06-01"]) == 1
    assert sorted(r["id"] for r in store.read(uri, "parquet").to_pylist()) == [0, 1, 50]


def test_store_for_picks_spark_unless_delta_rs_is_asked_for(lakehouse_env, monkeypatch):
    from lakehouse.config import Settings
    from lakehouse.storage.stores import store_for

    monkeypatch.delenv("LAKEHOUSE_STORE", raising=False)
    assert type(store_for(Settings.from_env())) is SparkStore
    monkeypatch.setenv("LAKEHOUSE_STORE", "delta-rs")
    assert type(store_for(Settings.from_env())) is ArrowStore


def test_storage_options_for_s3_and_local(s3_lakehouse_env, lakehouse_env):
    from lakehouse.storage.filesystem import delta_storage_options

    options = delta_storage_options(s3_lakehouse_env)
    assert options["AWS_ALLOW_HTTP"] == "true" and options["AWS_S3_ALLOW_UNSAFE_RENAME"] == "true"
    assert options["AWS_ENDPOINT_URL"] == s3_lakehouse_env.aws_endpoint_url and options["AWS_ACCESS_KEY_ID"] == "testing"
    assert delta_storage_options(lakehouse_env) == {}


def test_an_empty_parquet_batch_still_gets_its_glue_entry(spark, s3_lakehouse_env, monkeypatch):
    """A clean batch's quarantine writes no Parquet file; its Glue entry takes the batch's own schema (a run on a
    Parquet warehouse with Glue used to stop here: no file to read a schema from)."""
    from lakehouse.catalog.glue import GlueCatalog
    from lakehouse.pipeline.registry import get_spec
    from lakehouse.quality.quarantine import QUARANTINE_SCHEMA, quarantine_table
    from lakehouse.resources import LakehouseResource

    monkeypatch.setenv("LAKEHOUSE_TABLE_FORMAT", "parquet")
    lakehouse = LakehouseResource()
    result = lakehouse.write_quarantine(get_spec("silver.orders"), quarantine_table("silver.orders", "2024-06-03", []),
                                        ["2024-06-03"])
    assert result.rows == 0 and result.schema.names[-1] == "dt"
    entry = GlueCatalog(lakehouse.settings()).get_table("quarantine", "silver_orders")
    assert [c["Name"] for c in entry["StorageDescriptor"]["Columns"]] == [n for n in QUARANTINE_SCHEMA.names if n != "dt"]


def test_a_clean_batchs_quarantine_is_a_commit_to_the_log_alone(spark, lakehouse_env):
    """Nothing set aside: the quarantine table is created, and a re-run's clean days cleared, by delta-rs commits
    with no Spark job; a batch with rows is still Spark's write, into that same table."""
    from deltalake import DeltaTable

    from lakehouse.engine.arrow import to_spark
    from lakehouse.pipeline.registry import get_spec
    from lakehouse.quality.quarantine import quarantine_table
    from lakehouse.resources import LakehouseResource

    lakehouse, spec, day = LakehouseResource(), get_spec("silver.orders"), "2024-06-03"
    uri = lakehouse.location(spec).quarantine_uri
    bad = to_spark(spark, quarantine_table(spec.id, day, [{"reason": "quantity <= 0", "rules": ["positive_quantity"],
                                                          "record": {"order_id": "o1", "quantity": -1}}]))
    tracker = spark.sparkContext.statusTracker()

    def jobs(group: str, write) -> int:
        spark.sparkContext.setJobGroup(group, group)
        try:
            write()
        finally:
            spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)
        return len(tracker.getJobIdsForGroup(group))

    assert jobs("clean-first", lambda: lakehouse.write_quarantine(spec, bad.limit(0), [day], count=0)) == 0
    assert DeltaTable(uri).version() == 0 and lakehouse.store().partitions(uri, "delta") == []
    assert jobs("with-rows", lambda: lakehouse.write_quarantine(spec, bad, [day], count=1)) > 0
    assert lakehouse.store().read(uri, "delta").column("reason").to_pylist() == ["quantity <= 0"]
    assert jobs("clean-rerun", lambda: lakehouse.write_quarantine(spec, bad.limit(0), [day], count=0)) == 0
    assert DeltaTable(uri).version() == 2 and lakehouse.store().read(uri, "delta").num_rows == 0
    assert lakehouse.write_quarantine(spec, bad.limit(0), [day], count=0) is None  # nothing left to clear
    # a quarantine table Spark created (its first batch had rows) is cleared by delta-rs just the same
    other = get_spec("silver.products")
    lakehouse.write_quarantine(other, bad, [day], count=1)
    assert jobs("clean-after-spark", lambda: lakehouse.write_quarantine(other, bad.limit(0), [day], count=0)) == 0
    assert lakehouse.store().read(lakehouse.location(other).quarantine_uri, "delta").num_rows == 0


def test_spark_keeps_a_buckets_file_system_until_the_endpoint_changes(spark, s3_lakehouse_env):
    """One S3A file system per bucket for the session's life, not an S3 client per use; other settings (another
    endpoint, here an empty moto with the same bucket) close it, so the bucket is then reached there."""
    import boto3

    from lakehouse.dev.aws import start_moto
    from lakehouse.engine.spark import configure_session
    from lakehouse.storage.filesystem import spark_path

    store = SparkStore(s3_lakehouse_env, configure_session(spark, s3_lakehouse_env))
    uri = store.uri("bronze", "file_system_reuse")
    day = spark._jvm.org.apache.hadoop.fs.Path(f"{spark_path(uri)}/dt=2024-06-01")

    def file_system():
        return day.getFileSystem(spark._jsparkSession.sessionState().newHadoopConf())

    store.write("bronze.file_system_reuse", uri, "delta",
                _batch(["2024-06-01"]), ["2024-06-01"])
    first = file_system()
    configure_session(spark, s3_lakehouse_env)
    assert file_system().equals(first) and first.exists(day)

    process, endpoint = start_moto()
    try:
        bucket = uri.split("/")[2]
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
        configure_session(spark, s3_lakehouse_env.with_(aws_endpoint_url=endpoint))
        elsewhere = file_system()
        assert not elsewhere.equals(first) and not elsewhere.exists(day)  # the empty bucket of the other moto
    finally:
        process.terminate()
        process.wait(timeout=10)
    configure_session(spark, s3_lakehouse_env)
    assert file_system().exists(day)
    assert store.read_df(spark, uri, "delta", ["2024-06-01"]).count() == 1


def test_a_cluster_session_makes_a_buckets_file_system_per_use(s3_lakehouse_env):
    """A cluster's executors cache their own file systems, out of the driver's reach to close: rotated keys would
    stay with them, so a session on a cluster master keeps making one per use (no JVM is touched deciding it)."""
    from types import SimpleNamespace

    from lakehouse.engine.spark import configure_session

    conf: dict[str, str] = {}
    cluster = SimpleNamespace(sparkContext=SimpleNamespace(master="spark://10.0.0.5:7077"),
                              conf=SimpleNamespace(set=conf.__setitem__))
    configure_session(cluster, s3_lakehouse_env)
    assert conf["fs.s3a.impl.disable.cache"] == "true" and conf["fs.s3a.endpoint"] == s3_lakehouse_env.aws_endpoint_url


@pytest.mark.parametrize("where", ["lakehouse_env", "s3_lakehouse_env"])
def test_a_step_opens_a_delta_table_once_and_sees_every_later_commit(request, where, monkeypatch):
    """reusing_tables() (each asset step runs in it): the second look at a table brings the object already open
    up to date instead of reading the log from its checkpoint again; a commit from elsewhere (another thread,
    as the step's side thread writes its quarantine) is seen; other threads and code outside it open afresh."""
    import threading

    import deltalake

    from lakehouse.storage.table_metadata import reusing_tables

    opened: list[str] = []

    class CountedTable(deltalake.DeltaTable):
        def __init__(self, *args, **kwargs):
            opened.append(threading.current_thread().name)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(deltalake, "DeltaTable", CountedTable)
    env = request.getfixturevalue(where)
    store = ArrowStore(env)
    uri = store.uri("silver", "reused")
    with reusing_tables():
        assert not store.exists(uri, "delta")  # no table: nothing kept, so the one created next is found
        store.write("silver.reused", uri, "delta", _batch(["2024-06-01"]), ["2024-06-01"])
        first, made = store._delta(uri), len(opened)  # every look before this one found no table, but the last
        elsewhere = threading.Thread(target=store.write, name="elsewhere",
                                     args=("silver.reused", uri, "delta", _batch(["2024-06-02"], start=5), ["2024-06-02"]))
        elsewhere.start()
        elsewhere.join()
        assert store.partitions(uri, "delta") == ["2024-06-01", "2024-06-02"]
        assert store._delta(uri) is first and first.version() == 1
        assert _sorted(store.read(uri, "delta"))[-1] == {"id": 5, "name": "n5", "dt": "2024-06-02"}
        assert opened[made:] == ["elsewhere"] * (len(opened) - made)  # the other thread opened its own, this one none
        assert "elsewhere" in opened
    assert store._delta(uri) is not store._delta(uri)  # outside the block every look opens the table
