-- silver.billing_users: the day's created or changed users, typed; the latest version of a re-sent id wins
-- (the others go to quarantine by the latest_version rule). updated_at falls back to created_at.
with source as (
    select
        try_cast(trim(u.id) as bigint) as user_id,
        nullif(lower(trim(u.email)), '') as email,
        nullif(trim(u.full_name), '') as full_name,
        nullif(upper(trim(u.country)), '') as country,
        try_to_timestamp(trim(u.created_at)) as created_at,
        coalesce(try_to_timestamp(trim(u.updated_at)), try_to_timestamp(trim(u.created_at))) as updated_at,
        u._source_file as _source_file,
        u._line_number as _line_number,
        u.dt as dt
    from bronze_billing_users as u
    where u.dt between :start_dt and :end_dt
)

select
    src.user_id as user_id,
    src.email as email,
    src.full_name as full_name,
    src.country as country,
    src.created_at as created_at,
    src.updated_at as updated_at,
    src._source_file as _source_file,
    src._line_number as _line_number,
    src.dt as dt
from source as src
