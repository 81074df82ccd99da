-- gold.customer_analytics: every customer who has bought, as of the end of each day dt.
-- Sales exclude cancelled and returned orders; an order delivered on several days counts once (its
-- latest delivery). Segments: VIP > 10000 USD, High Value > 5000, Medium Value > 1000, else Low Value.
-- Engagement sums silver.customer_behavior over the 30 days up to dt; a customer without behaviour in those
-- days (or every customer, while the behaviour source is not configured) gets NULL engagement.
with batch_days as (
    select explode(sequence(to_date(:start_dt), to_date(:end_dt), interval 1 day)) as as_of_day
),

orders as (
    select
        ord.order_id,
        ord.customer_id,
        ord.amount_usd,
        ord.order_date,
        ord.dt
    from silver_orders as ord
    where ord.dt <= :end_dt
        and ord.status not in ('cancelled', 'returned')
),

known_orders as (
    select
        bd.as_of_day,
        ord.*,
        row_number() over (partition by bd.as_of_day, ord.order_id order by ord.dt desc) as delivery_rank
    from batch_days as bd
    inner join orders as ord
        on ord.dt <= cast(bd.as_of_day as string)
),

per_customer as (
    select
        ko.as_of_day,
        ko.customer_id,
        cast(sum(ko.amount_usd) as decimal(18, 2)) as total_spent_usd,
        count(*) as total_orders,
        min(ko.order_date) as first_purchase_date,
        max(ko.order_date) as last_purchase_date
    from known_orders as ko
    where ko.delivery_rank = 1
    group by ko.as_of_day, ko.customer_id
),

engagement as (
    select
        bd.as_of_day,
        cb.customer_id,
        sum(cb.sessions) as sessions_30d,
        sum(cb.page_views) as page_views_30d,
        sum(cb.cart_adds) as cart_adds_30d,
        cast(sum(cb.minutes_on_site) as decimal(18, 2)) as minutes_on_site_30d,
        max(cb.activity_date) as last_active_date
    from batch_days as bd
    inner join silver_customer_behavior as cb
        on cb.dt > cast(date_sub(bd.as_of_day, 30) as string)
        and cb.dt <= cast(bd.as_of_day as string)
    group by bd.as_of_day, cb.customer_id
)

select
    cast(pc.as_of_day as string) as dt,
    pc.customer_id as customer_id,
    pc.total_spent_usd as total_spent_usd,
    pc.total_orders as total_orders,
    cast(round(pc.total_spent_usd / pc.total_orders, 2) as decimal(18, 2)) as avg_order_value_usd,
    pc.first_purchase_date as first_purchase_date,
    pc.last_purchase_date as last_purchase_date,
    case
        when pc.total_spent_usd > 10000 then 'VIP'
        when pc.total_spent_usd > 5000 then 'High Value'
        when pc.total_spent_usd > 1000 then 'Medium Value'
        else 'Low Value'
    end as segment,
    eng.sessions_30d as sessions_30d,
    eng.page_views_30d as page_views_30d,
    eng.cart_adds_30d as cart_adds_30d,
    eng.minutes_on_site_30d as minutes_on_site_30d,
    eng.last_active_date as last_active_date
from per_customer as pc
left join engagement as eng
    on eng.as_of_day = pc.as_of_day
    and eng.customer_id = pc.customer_id
