"""One measured task per process: `python -m bench.tasks NAME START END`. bench/run.py times them.

`plain` is the hand-written PySpark job users migrate from: the same orders -> silver.orders ->
gold.daily_sales_summary work as the platform, with no Dagster, no rules, no contracts, no catalog.
"""
from __future__ import annotations

import sys
import time
from datetime import date, timedelta
from functools import cache

SUBSET = ["bronze/shop_orders", "bronze/fx_rates", "bronze/shop_products", "silver/fx_rates", "silver/orders",
          "silver/products", "gold/daily_sales_summary"]

PLAIN_SQL = """
with orders as (
    select trim(order_id) as order_id, trim(product_id) as product_id, lower(trim(region)) as region,
           upper(trim(currency)) as currency, lower(trim(status)) as status,
           try_cast(quantity as int) as quantity, try_cast(unit_price as decimal(18, 2)) as unit_price,
           cast(try_to_timestamp(trim(order_ts)) as date) as order_date, trim(customer_id) as customer_id, dt,
           row_number() over (partition by dt, trim(order_id) order by order_ts desc) as rn
    from raw_orders
),
rates as (
    select upper(trim(currency)) as currency, cast(try_to_timestamp(trim(date)) as date) as rate_date,
           try_cast(usd_rate as decimal(18, 8)) as usd_rate
    from raw_fx
),
clean as (
    select * from orders
    where rn = 1 and quantity > 0 and unit_price > 0 and order_date is not null and order_id is not null
),
priced as (
    select c.*, coalesce(case when c.currency = 'USD' then 1 end,
        (select max_by(r.usd_rate, r.rate_date) from rates r
         where r.currency = c.currency and r.rate_date <= c.order_date and r.rate_date >= c.order_date - interval 7 day)) as usd_rate
    from clean c
),
products as (
    select trim(product_id) as product_id, max_by(category, dt) as category from raw_products group by trim(product_id)
)
select p.dt, coalesce(pr.category, 'Unknown') as category, p.region,
       count(distinct p.order_id) as transactions, sum(p.quantity) as units,
       cast(sum(p.quantity * p.unit_price * p.usd_rate) as decimal(18, 2)) as revenue_usd,
       count(distinct p.customer_id) as unique_customers
from priced p left join products pr on pr.product_id = p.product_id
where p.usd_rate is not null and p.status in ('placed', 'shipped')
group by p.dt, coalesce(pr.category, 'Unknown'), p.region
"""


@cache
def _settings():
    """The environment's settings, resolved once for the task this process runs."""
    from lakehouse.config import Settings

    return Settings.from_env()


def _days(start: str, end: str) -> list[str]:
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    return [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def jvm(start, end):
    from lakehouse.engine.spark import get_spark

    get_spark(_settings()).range(1).count()
    print(f"METRICS {{\"jvm_s\": {time.perf_counter() - BEGAN:.2f}}}", flush=True)


def pyarrow_floor(start, end):
    """Bytes in, bytes out with pyarrow alone: read the orders CSVs, write them as a Delta table."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    from deltalake import write_deltalake

    from lakehouse.ingest.landing import LandingZone

    settings = _settings()
    tables = []
    for f in LandingZone(settings).files("shop/orders"):
        if start <= f.dt <= end:
            t = pacsv.read_csv(f.path, read_options=pacsv.ReadOptions(), convert_options=pacsv.ConvertOptions(
                column_types={}, strings_can_be_null=True), parse_options=pacsv.ParseOptions(invalid_row_handler=lambda r: "skip"))
            t = t.cast(pa.schema([pa.field(n, pa.string()) for n in t.column_names]))
            tables.append(t.append_column("dt", pa.array([f.dt] * t.num_rows)))
    data = pa.concat_tables(tables, promote_options="permissive")
    write_deltalake(f"{settings.warehouse}/floor/orders", data, mode="overwrite", partition_by=["dt"])


def plain(start, end):
    """The hand-written PySpark job over the range (or one day when start == end)."""
    from lakehouse.engine.spark import get_spark

    settings = _settings()
    spark = get_spark(settings)
    root = settings.landing
    for view, entity in (("raw_orders", "shop/orders"), ("raw_fx", "fx/rates"), ("raw_products", "shop/products")):
        paths = [f"{root}/{entity}/dt={d}" for d in _days(start, end)]
        if view == "raw_fx":  # rates of the week before the range, for the as-of join
            paths = [f"{root}/{entity}/dt={d}" for d in _days((date.fromisoformat(start) - timedelta(days=7)).isoformat(), end)]
        from lakehouse.storage.filesystem import exists

        paths = [p for p in paths if exists(p, settings)]
        df = spark.read.option("header", True).option("mode", "DROPMALFORMED").csv(paths)
        df = df.withColumn("dt", __import__("pyspark.sql.functions", fromlist=["x"]).regexp_extract(
            __import__("pyspark.sql.functions", fromlist=["x"]).input_file_name(), r"dt=(\d{4}-\d{2}-\d{2})", 1))
        df.createOrReplaceTempView(view)
    # written natively by delta-spark from the executors, as the platform writes: one replaceWhere commit
    days = ", ".join(f"'{d}'" for d in _days(start, end))
    (spark.sql(PLAIN_SQL).write.format("delta").mode("overwrite").partitionBy("dt")
     .option("replaceWhere", f"dt in ({days})").save(f"{settings.warehouse}/plain/daily_sales_summary"))


def plain_tables(start, end):
    """The platform's seven tables written by hand: bronze as strings with the same lineage columns, silver and
    gold from the platform's own SQL files, each a Delta replaceWhere of the range read back for the next.
    No Dagster, no row rules, contracts, quarantine or catalog: platform / this is what those cost."""
    from pyspark.sql import functions as F

    from lakehouse.engine.spark import get_spark
    from lakehouse.engine.sql import load_sql, run_sql
    from lakehouse.storage.filesystem import exists

    settings = _settings()
    spark = get_spark(settings)
    days = ", ".join(f"'{d}'" for d in _days(start, end))

    def publish(name, df):
        path = f"{settings.warehouse}/plain_tables/{name}"
        df = df.select(*[c for c in df.columns if not c.startswith("__")])
        (df.write.format("delta").mode("overwrite").partitionBy("dt")
         .option("replaceWhere", f"dt in ({days})").save(path))
        spark.read.format("delta").load(path).where(f"dt in ({days})").createOrReplaceTempView(name)

    for name, entity in (("bronze_shop_orders", "shop/orders"), ("bronze_fx_rates", "fx/rates"),
                         ("bronze_shop_products", "shop/products")):
        paths = [p for p in (f"{settings.landing}/{entity}/dt={d}" for d in _days(start, end)) if exists(p, settings)]
        raw = spark.read.option("header", True).csv(paths)
        publish(name, raw.withColumn("_source_file", F.input_file_name())
                .withColumn("dt", F.regexp_extract("_source_file", r"dt=(\d{4}-\d{2}-\d{2})", 1))
                .withColumn("_line_number", F.monotonically_increasing_id())
                .withColumn("_ingested_at", F.current_timestamp()))
    for layer, name in (("silver", "fx_rates"), ("silver", "products"), ("silver", "orders"),
                        ("gold", "daily_sales_summary")):
        publish(f"{layer}_{name}", run_sql(spark, load_sql(f"{layer}/{name}.sql", settings), start, end))


def plain_per_day(start, end):
    for day in _days(start, end):
        plain(day, day)


def platform(start, end, subset: bool = True, digest: bool = True):
    from dagster import AssetKey

    from lakehouse.definitions import defs
    from lakehouse.runs import RANGE_END, RANGE_START, instance_for_runs

    job = defs.resolve_job_def("lakehouse_daily")
    selection = [AssetKey(k.split("/")) for k in SUBSET] if subset else None
    instance = instance_for_runs(_settings())
    result = job.execute_in_process(instance=instance, asset_selection=selection,
                                    tags={RANGE_START: start, RANGE_END: end}, raise_on_error=False,
                                    run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}})
    if not result.success:
        raise SystemExit("platform run failed")
    print(f"ENDED {time.time()}", flush=True)  # the digest below is the benchmark's check, not the platform's work
    _report_steps(instance, result)
    if digest:
        _report_digest(start, end)


RUN_STAMPS = {"_ingested_at"}  # when a row was read, not what it holds


def _report_digest(start: str, end: str) -> None:
    """A fingerprint of what the run published (silver and gold of the range), so runs on other engines
    (Spark Connect, a standalone cluster) can be compared with local mode's row for row."""
    import hashlib
    import json

    from lakehouse.pipeline.registry import get_spec
    from lakehouse.resources import LakehouseResource

    lakehouse, digest = LakehouseResource(), {}
    for key in SUBSET:
        if key.startswith("bronze/"):
            continue
        spec = get_spec(key.replace("/", "."))
        table = lakehouse.store().read(lakehouse.uri_of(spec), lakehouse.format_of(spec), _days(start, end))
        rows = sorted(json.dumps({k: (round(v, 9) if isinstance(v, float) else v) for k, v in row.items()
                                  if k not in RUN_STAMPS}, sort_keys=True, default=str) for row in table.to_pylist())
        digest[spec.id] = f"{len(rows)}:{hashlib.sha256(chr(10).join(rows).encode()).hexdigest()[:16]}"
    print("DIGEST " + json.dumps(digest), flush=True)


def _report_steps(instance, result) -> None:
    """Where a run's time went: around asset steps (orchestration) and, inside them, the phases each step
    records as `seconds.<phase>` metadata (lakehouse/timing.py), summed over every table of the run."""
    import json

    run_id = result.dagster_run.run_id
    stamps = [e.timestamp for e in instance.all_logs(run_id)]
    spent = sum((s.end_time or 0) - (s.start_time or 0) for s in instance.get_run_step_stats(run_id))
    run_s = max(stamps) - min(stamps) if stamps else 0.0
    metrics = {"run_s": round(run_s, 2), "in_steps_s": round(spent, 2), "orchestration_s": round(run_s - spent, 2)}
    tables: dict[str, dict] = {}  # table -> its step's seconds and phases, so each table's passes are visible
    for step in instance.get_run_step_stats(run_id):
        table = step.step_key.replace("__", ".")
        tables.setdefault(table, {})["step_s"] = round((step.end_time or 0) - (step.start_time or 0), 2)
    for event in result.get_asset_materialization_events():  # each partition carries its share of its step
        table = ".".join(event.asset_key.path)
        for key, value in event.event_specific_data.materialization.metadata.items():
            if key.startswith("seconds."):
                phase = key.split(".", 1)[1]
                name = "phase_" + phase + "_s"
                metrics[name] = round(metrics.get(name, 0.0) + float(value.value), 3)
                own = tables.setdefault(table, {})
                own[phase] = round(own.get(phase, 0.0) + float(value.value), 3)
    print("METRICS " + json.dumps(metrics), flush=True)
    print("TABLES " + json.dumps(tables), flush=True)


def platform_per_partition(start, end):
    """One Dagster run per day, one after the other in one process (the JVM is started once)."""
    for day in _days(start, end):
        platform(day, day, digest=False)
    _report_digest(start, end)


def platform_all(start, end):
    platform(start, end, subset=False)


def duckdb_same_logic(start, end):
    import duckdb

    settings = _settings()
    root = settings.landing.replace("file://", "")
    con = duckdb.connect()
    for view, entity in (("raw_orders", "shop/orders"), ("raw_fx", "fx/rates"), ("raw_products", "shop/products")):
        con.execute(f"""create view {view} as select *, regexp_extract(filename, 'dt=([0-9-]+)', 1) as dt
                        from read_csv('{root}/{entity}/*/*.csv', all_varchar=true, filename=true, ignore_errors=true)
                        where regexp_extract(filename, 'dt=([0-9-]+)', 1) between '{start}' and '{end}'
                           or '{view}' = 'raw_fx'""")
    sql = (PLAIN_SQL.replace("try_to_timestamp(trim(order_ts))", "try_cast(trim(order_ts) as timestamp)")
           .replace("try_to_timestamp(trim(date))", "try_cast(trim(date) as timestamp)"))
    con.execute(f"copy ({sql}) to '{root}/../duckdb_out' (format parquet, partition_by (dt), overwrite_or_ignore)")


TASKS = {f.__name__: f for f in (jvm, pyarrow_floor, plain, plain_tables, plain_per_day, platform,
                                  platform_per_partition, platform_all, duckdb_same_logic)}

BEGAN = time.perf_counter()

if __name__ == "__main__":
    began = BEGAN
    TASKS[sys.argv[1]](sys.argv[2], sys.argv[3])
    print(f"task {sys.argv[1]} {time.perf_counter() - began:.2f}s")
