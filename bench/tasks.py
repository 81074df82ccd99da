"""One measured task per process: `python -m bench.tasks NAME START END`. bench/run.py times them.

`plain` is the hand-written PySpark job users migrate from: the same orders -> silver.orders ->
gold.daily_sales_summary work as the platform, with no Dagster, no rules, no contracts, no catalog.
"""
from __future__ import annotations

import sys
import time
from datetime import date, timedelta

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


def _days(start: str, end: str) -> list[str]:
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    return [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def jvm(start, end):
    from lakehouse.engine.spark import get_spark

    get_spark().range(1).count()


def pyarrow_floor(start, end):
    """Bytes in, bytes out with pyarrow alone: read the orders CSVs, write them as a Delta table."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    from deltalake import write_deltalake

    from lakehouse.config import Settings
    from lakehouse.ingest.landing import list_landing

    settings = Settings.from_env()
    tables = []
    for f in list_landing(settings, "shop/orders"):
        if start <= f.dt <= end:
            t = pacsv.read_csv(f.path, read_options=pacsv.ReadOptions(), convert_options=pacsv.ConvertOptions(
                column_types={}, strings_can_be_null=True), parse_options=pacsv.ParseOptions(invalid_row_handler=lambda r: "skip"))
            t = t.cast(pa.schema([pa.field(n, pa.string()) for n in t.column_names]))
            tables.append(t.append_column("dt", pa.array([f.dt] * t.num_rows)))
    data = pa.concat_tables(tables, promote_options="permissive")
    write_deltalake(f"{settings.warehouse}/floor/orders", data, mode="overwrite", partition_by=["dt"])


def plain(start, end):
    """The hand-written PySpark job over the range (or one day when start == end)."""
    from deltalake import write_deltalake

    from lakehouse.config import Settings
    from lakehouse.engine.spark import get_spark

    settings, spark = Settings.from_env(), get_spark()
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
    result = spark.sql(PLAIN_SQL).toArrow()
    write_deltalake(f"{settings.warehouse}/plain/daily_sales_summary", result, mode="overwrite", partition_by=["dt"])


def plain_per_day(start, end):
    for day in _days(start, end):
        plain(day, day)


def platform(start, end, subset: bool = True):
    from dagster import AssetKey

    from lakehouse.definitions import defs
    from lakehouse.runs import RANGE_END, RANGE_START, instance_for_runs

    job = defs.resolve_job_def("lakehouse_daily")
    selection = [AssetKey(k.split("/")) for k in SUBSET] if subset else None
    result = job.execute_in_process(instance=instance_for_runs(), asset_selection=selection,
                                    tags={RANGE_START: start, RANGE_END: end}, raise_on_error=False,
                                    run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}})
    if not result.success:
        raise SystemExit("platform run failed")


def platform_all(start, end):
    platform(start, end, subset=False)


def duckdb_same_logic(start, end):
    import duckdb

    from lakehouse.config import Settings

    settings = Settings.from_env()
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


TASKS = {f.__name__: f for f in (jvm, pyarrow_floor, plain, plain_per_day, platform, platform_all, duckdb_same_logic)}

if __name__ == "__main__":
    began = time.perf_counter()
    TASKS[sys.argv[1]](sys.argv[2], sys.argv[3])
    print(f"task {sys.argv[1]} {time.perf_counter() - began:.2f}s")
