-- gold.business_metrics: monthly sales by product category; dt is the month's first day.
-- Fed by the daily silver.orders partitions of the month (so far); the category comes from the newest
-- catalog snapshot of the month on or before the order's day.
with orders as (
    select
        ord.order_id,
        ord.customer_id,
        ord.product_id,
        ord.amount_usd,
        ord.dt
    from silver_orders as ord
    where ord.dt between :start_dt and :end_dt
        and ord.status not in ('cancelled', 'returned')
),

latest_delivery as (
    select
        ord.*,
        row_number() over (
            partition by substr(ord.dt, 1, 7), ord.order_id order by ord.dt desc
        ) as delivery_rank
    from orders as ord
),

categorized as (
    select
        ld.*,
        prd.category,
        row_number() over (partition by ld.dt, ld.order_id order by prd.dt desc) as snapshot_rank
    from latest_delivery as ld
    left join silver_products as prd
        on prd.product_id = ld.product_id
        and prd.dt <= ld.dt
    where ld.delivery_rank = 1
)

select
    date_format(trunc(to_date(cat.dt), 'MM'), 'yyyy-MM-dd') as dt,
    coalesce(cat.category, 'Unknown') as category,
    cast(sum(cat.amount_usd) as decimal(18, 2)) as revenue_usd,
    count(*) as order_count,
    count(distinct cat.customer_id) as unique_customers,
    cast(round(sum(cat.amount_usd) / count(*), 2) as decimal(18, 2)) as avg_order_value_usd
from categorized as cat
where cat.snapshot_rank = 1
group by date_format(trunc(to_date(cat.dt), 'MM'), 'yyyy-MM-dd'), coalesce(cat.category, 'Unknown')
