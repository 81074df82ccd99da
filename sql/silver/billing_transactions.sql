-- silver.billing_transactions: payments and refunds created on the day (UTC), typed and conformed.
-- Amounts must be positive (the kind says which way money moved); a negative amount is quarantined, not
-- flipped. Rows created on another day only reach bronze in a full export and are left out here.
with source as (
    select
        try_cast(trim(t.id) as bigint) as transaction_id,
        try_cast(trim(t.invoice_id) as bigint) as invoice_id,
        try_cast(trim(t.user_id) as bigint) as user_id,
        lower(trim(t.kind)) as kind,
        try_cast(trim(t.amount) as decimal(18, 2)) as amount,
        upper(trim(t.currency)) as currency,
        case lower(trim(t.status))
            when 'success' then 'succeeded'
            when 'successful' then 'succeeded'
            when 'fail' then 'failed'
            else lower(trim(t.status))
        end as status,
        try_to_timestamp(trim(t.created_at)) as created_at,
        coalesce(try_to_timestamp(trim(t.updated_at)), try_to_timestamp(trim(t.created_at))) as updated_at,
        t._source_file as _source_file,
        t._line_number as _line_number,
        t.dt as dt
    from bronze_billing_transactions as t
    where t.dt between :start_dt and :end_dt
)

select
    src.transaction_id as transaction_id,
    src.invoice_id as invoice_id,
    src.user_id as user_id,
    src.kind as kind,
    src.amount as amount,
    src.currency as currency,
    src.status as status,
    src.created_at as created_at,
    src.updated_at as updated_at,
    src._source_file as _source_file,
    src._line_number as _line_number,
    src.dt as dt
from source as src
where src.created_at is null or cast(src.created_at as date) = to_date(src.dt)
