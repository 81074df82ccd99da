-- silver.billing_subscriptions: the day's snapshot of every subscription, typed and conformed.
-- Statuses and intervals are lower-cased with known aliases mapped (cancelled -> canceled, yearly -> year);
-- monthly_amount normalizes yearly plans to a month (amount / 12). The latest version of a re-sent id wins.
with source as (
    select
        try_cast(trim(s.id) as bigint) as subscription_id,
        try_cast(trim(s.user_id) as bigint) as user_id,
        nullif(lower(trim(s.plan)), '') as plan,
        case lower(trim(s.billing_interval))
            when 'monthly' then 'month'
            when 'yearly' then 'year'
            when 'annual' then 'year'
            else lower(trim(s.billing_interval))
        end as billing_interval,
        try_cast(trim(s.amount) as decimal(18, 2)) as amount,
        upper(trim(s.currency)) as currency,
        case lower(trim(s.status))
            when 'cancelled' then 'canceled'
            when 'past-due' then 'past_due'
            else lower(trim(s.status))
        end as status,
        try_to_timestamp(trim(s.started_at)) as started_at,
        try_to_timestamp(trim(s.canceled_at)) as canceled_at,
        try_to_timestamp(trim(s.created_at)) as created_at,
        coalesce(try_to_timestamp(trim(s.updated_at)), try_to_timestamp(trim(s.created_at))) as updated_at,
        s._source_file as _source_file,
        s._line_number as _line_number,
        s.dt as dt
    from bronze_billing_subscriptions as s
    where s.dt between :start_dt and :end_dt
)

select
    src.subscription_id as subscription_id,
    src.user_id as user_id,
    src.plan as plan,
    src.billing_interval as billing_interval,
    src.amount as amount,
    cast(
        case
            when src.billing_interval = 'year' then src.amount / 12
            when src.billing_interval = 'month' then src.amount
        end as decimal(18, 6)
    ) as monthly_amount,
    src.currency as currency,
    src.status as status,
    src.started_at as started_at,
    src.canceled_at as canceled_at,
    src.created_at as created_at,
    src.updated_at as updated_at,
    src._source_file as _source_file,
    src._line_number as _line_number,
    src.dt as dt
from source as src
