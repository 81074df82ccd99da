-- silver.orders: typed shop orders, one row per order_id and day, priced in USD.
-- FX: the latest rate on or before the order date (at most 7 days old) among the rates delivered by the
-- order's own day, so a batch of many days gives the same rows as the days run one by one. USD is 1.
with source as (
    select
        trim(o.order_id) as order_id,
        trim(o.customer_id) as customer_id,
        trim(o.product_id) as product_id,
        lower(trim(o.status)) as status,
        lower(trim(o.region)) as region,
        lower(trim(o.payment_method)) as payment_method,
        upper(trim(o.currency)) as currency,
        try_cast(trim(o.quantity) as int) as quantity,
        try_cast(trim(o.unit_price) as decimal(18, 2)) as unit_price,
        try_to_timestamp(trim(o.order_ts)) as order_ts,
        o._ingested_at as ingested_at,
        o._source_file as _source_file,
        o._line_number as _line_number,
        o.dt as dt
    from bronze_shop_orders as o
    where o.dt between :start_dt and :end_dt
),

deduplicated as (
    select
        src.*,
        -- the latest delivery of an order wins; rows without an order_id are each kept for the rules
        case
            when src.order_id is null then 1
            else row_number() over (
                partition by src.dt, src.order_id
                order by src.ingested_at desc, src._source_file desc, src._line_number desc
            )
        end as delivery_rank
    from source as src
),

orders as (
    select
        dd.order_id,
        dd.customer_id,
        dd.product_id,
        dd.status,
        dd.region,
        dd.payment_method,
        dd.currency,
        dd.quantity,
        dd.unit_price,
        try_cast(dd.quantity * dd.unit_price as decimal(18, 2)) as amount,
        dd.order_ts,
        cast(dd.order_ts as date) as order_date,
        dd._source_file,
        dd._line_number,
        dd.dt,
        dd.delivery_rank
    from deduplicated as dd
),

rates as (
    select
        fx.currency,
        fx.rate_date,
        fx.usd_rate,
        fx.dt as delivered_dt
    from silver_fx_rates as fx
    where fx.usd_rate > 0
),

rate_candidates as (
    select
        ord.order_id,
        ord.dt,
        ord._source_file,
        ord._line_number,
        rt.rate_date,
        rt.usd_rate,
        row_number() over (
            partition by ord.dt, ord._source_file, ord._line_number
            order by rt.rate_date desc, rt.delivered_dt desc
        ) as rate_rank
    from orders as ord
    inner join rates as rt
        on rt.currency = ord.currency
        and rt.rate_date <= ord.order_date
        and rt.rate_date >= date_sub(ord.order_date, 7)
        and rt.delivered_dt <= ord.dt
    where ord.currency <> 'USD'
),

latest_rate as (
    select
        rc.dt,
        rc._source_file,
        rc._line_number,
        rc.rate_date,
        rc.usd_rate
    from rate_candidates as rc
    where rc.rate_rank = 1
),

priced as (
    select
        ord.*,
        case when ord.currency = 'USD' then ord.order_date else lr.rate_date end as fx_rate_date,
        case when ord.currency = 'USD' and ord.order_date is not null then cast(1 as decimal(18, 8))
            else lr.usd_rate end as usd_rate
    from orders as ord
    left join latest_rate as lr
        on lr.dt = ord.dt
        and lr._source_file = ord._source_file
        and lr._line_number = ord._line_number
)

select
    pr.order_id as order_id,
    pr.customer_id as customer_id,
    pr.product_id as product_id,
    pr.status as status,
    pr.region as region,
    pr.payment_method as payment_method,
    pr.currency as currency,
    pr.quantity as quantity,
    pr.unit_price as unit_price,
    pr.amount as amount,
    pr.usd_rate as usd_rate,
    try_cast(round(pr.amount * pr.usd_rate, 2) as decimal(18, 2)) as amount_usd,
    pr.fx_rate_date as fx_rate_date,
    pr.order_ts as order_ts,
    pr.order_date as order_date,
    pr._source_file as _source_file,
    pr._line_number as _line_number,
    pr.dt as dt,
    -- re-sent copies of an order are quarantined by the latest_delivery rule rather than silently dropped
    pr.delivery_rank as __delivery_rank
from priced as pr
