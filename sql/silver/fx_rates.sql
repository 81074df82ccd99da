-- silver.fx_rates: one USD rate per rate date and currency for each day's delivery.
-- dt is the day the rates arrived (not the rate date), so a late rate never rewrites an older partition;
-- readers wanting "the" rate for a date take the latest delivery (highest dt).
with source as (
    select
        upper(trim(fx.currency)) as currency,
        lower(trim(fx.rate_source)) as rate_source,
        try_cast(trim(fx.usd_rate) as decimal(18, 8)) as usd_rate,
        cast(try_to_timestamp(trim(fx.date)) as date) as rate_date,
        fx._ingested_at as ingested_at,
        fx._source_file as _source_file,
        fx._line_number as _line_number,
        fx.dt as dt
    from bronze_fx_rates as fx
    where fx.dt between :start_dt and :end_dt
),

ranked as (
    select
        src.*,
        -- rows without a key are not duplicates of each other: each keeps rank 1 and meets the rules
        case
            when src.currency is null or src.rate_date is null then 1
            else row_number() over (
                partition by src.dt, src.currency, src.rate_date
                order by src.ingested_at desc, src._source_file desc, src._line_number desc
            )
        end as delivery_rank
    from source as src
)

select
    ranked.rate_date as rate_date,
    ranked.currency as currency,
    ranked.rate_source as rate_source,
    ranked.usd_rate as usd_rate,
    ranked._source_file as _source_file,
    ranked._line_number as _line_number,
    ranked.dt as dt
from ranked
where ranked.delivery_rank = 1
