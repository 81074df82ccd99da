-- silver.products: the day's catalog snapshot, typed and normalized, one row per product and day.
with source as (
    select
        trim(p.product_id) as product_id,
        trim(p.name) as product_name,
        initcap(lower(trim(p.category))) as category,
        upper(trim(p.currency)) as currency,
        try_cast(trim(p.base_price) as decimal(18, 2)) as base_price,
        case
            when lower(trim(p.active)) in ('true', 't', 'yes', 'y', '1') then true
            when lower(trim(p.active)) in ('false', 'f', 'no', 'n', '0') then false
        end as is_active,
        p._ingested_at as ingested_at,
        p._source_file as _source_file,
        p._line_number as _line_number,
        p.dt as dt
    from bronze_shop_products as p
    where p.dt between :start_dt and :end_dt
),

ranked as (
    select
        src.*,
        case
            when src.product_id is null then 1
            else row_number() over (
                partition by src.dt, src.product_id
                order by src.ingested_at desc, src._source_file desc, src._line_number desc
            )
        end as delivery_rank
    from source as src
)

select
    ranked.product_id as product_id,
    ranked.product_name as product_name,
    nullif(ranked.category, '') as category,
    ranked.currency as currency,
    ranked.base_price as base_price,
    ranked.is_active as is_active,
    ranked._source_file as _source_file,
    ranked._line_number as _line_number,
    ranked.dt as dt
from ranked
where ranked.delivery_rank = 1
