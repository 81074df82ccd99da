-- gold.daily_sales_summary: sales per day (the day orders arrived), product category and region.
-- Cancelled and returned orders are not sales. The category comes from the newest catalog snapshot on or
-- before the order's day; an order whose product is unknown is counted under 'Unknown'.
with orders as (
    select
        ord.order_id,
        ord.customer_id,
        ord.product_id,
        ord.region,
        ord.quantity,
        ord.amount_usd,
        ord.dt
    from silver_orders as ord
    where ord.dt between :start_dt and :end_dt
        and ord.status not in ('cancelled', 'returned')
),

categorized as (
    select
        ord.*,
        prd.category,
        row_number() over (partition by ord.dt, ord.order_id order by prd.dt desc) as snapshot_rank
    from orders as ord
    left join silver_products as prd
        on prd.product_id = ord.product_id
        and prd.dt <= ord.dt
)

select
    cat.dt as dt,
    coalesce(cat.category, 'Unknown') as category,
    coalesce(cat.region, 'unknown') as region,
    count(distinct cat.order_id) as transactions,
    cast(sum(cat.quantity) as bigint) as units,
    cast(sum(cat.amount_usd) as decimal(18, 2)) as revenue_usd,
    cast(round(sum(cat.amount_usd) / count(distinct cat.order_id), 2) as decimal(18, 2)) as avg_order_value_usd,
    count(distinct cat.customer_id) as unique_customers
from categorized as cat
where cat.snapshot_rank = 1
group by cat.dt, coalesce(cat.category, 'Unknown'), coalesce(cat.region, 'unknown')
