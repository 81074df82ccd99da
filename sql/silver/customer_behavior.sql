-- silver.customer_behavior: one row per customer and activity day, typed. Values that are not numbers
-- become NULL (quarantined by numeric_counts); a re-sent customer and day keeps its latest version.
with source as (
    select
        nullif(upper(trim(b.customer_id)), '') as customer_id,
        try_cast(trim(b.day) as date) as activity_date,
        try_cast(trim(b.sessions) as int) as sessions,
        try_cast(trim(b.page_views) as int) as page_views,
        try_cast(trim(b.cart_adds) as int) as cart_adds,
        try_cast(trim(b.minutes_on_site) as decimal(10, 2)) as minutes_on_site,
        try_to_timestamp(trim(b.updated_at)) as updated_at,
        b._source_file as _source_file,
        b._line_number as _line_number,
        b.dt as dt
    from bronze_customer_behavior as b
    where b.dt between :start_dt and :end_dt
)

select
    src.customer_id as customer_id,
    coalesce(src.activity_date, to_date(src.dt)) as activity_date,
    src.sessions as sessions,
    src.page_views as page_views,
    src.cart_adds as cart_adds,
    src.minutes_on_site as minutes_on_site,
    src.updated_at as updated_at,
    src._source_file as _source_file,
    src._line_number as _line_number,
    src.dt as dt
from source as src
