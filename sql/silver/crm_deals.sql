-- silver.crm_deals: CRM deals flattened from the API shape, one row per deal and day (the most recently
-- updated delivery wins), valued in USD at the latest rate on or before the day the deal arrived (at most
-- 7 days old, among rates delivered by that day). USD is 1.
with source as (
    select
        trim(dl.id) as deal_id,
        trim(get_json_object(dl.properties, '$.dealname')) as deal_name,
        lower(trim(get_json_object(dl.properties, '$.dealstage'))) as stage,
        lower(trim(get_json_object(dl.properties, '$.pipeline'))) as pipeline,
        trim(coalesce(
            get_json_object(dl.associations, '$.contacts.results[0].id'),
            get_json_object(dl.associations, '$.contacts[0].id'),
            get_json_object(dl.associations, '$.contacts[0]')
        )) as contact_id,
        upper(trim(coalesce(
            get_json_object(dl.properties, '$.deal_currency_code'),
            get_json_object(dl.properties, '$.currency'),
            'USD'
        ))) as currency,
        try_cast(trim(get_json_object(dl.properties, '$.amount')) as decimal(18, 2)) as amount,
        cast(try_to_timestamp(trim(get_json_object(dl.properties, '$.closedate'))) as date) as close_date,
        try_to_timestamp(trim(coalesce(dl.createdAt, get_json_object(dl.properties, '$.createdate')))) as created_at,
        try_to_timestamp(trim(coalesce(dl.updatedAt, get_json_object(dl.properties, '$.hs_lastmodifieddate'))))
            as updated_at,
        coalesce(lower(trim(dl.archived)) in ('true', '1', 'yes'), false) as is_archived,
        dl._ingested_at as ingested_at,
        dl._source_file as _source_file,
        dl._line_number as _line_number,
        dl.dt as dt
    from bronze_crm_deals as dl
    where dl.dt between :start_dt and :end_dt
),

deals as (
    select
        src.*,
        case
            when src.deal_id is null then 1
            else row_number() over (
                partition by src.dt, src.deal_id
                order by src.updated_at desc nulls last, src.ingested_at desc, src._source_file desc,
                    src._line_number desc
            )
        end as delivery_rank
    from source as src
),

rate_candidates as (
    select
        dl.dt,
        dl._source_file,
        dl._line_number,
        fx.rate_date,
        fx.usd_rate,
        row_number() over (
            partition by dl.dt, dl._source_file, dl._line_number
            order by fx.rate_date desc, fx.dt desc
        ) as rate_rank
    from deals as dl
    inner join silver_fx_rates as fx
        on fx.currency = dl.currency
        and fx.rate_date <= to_date(dl.dt)
        and fx.rate_date >= date_sub(to_date(dl.dt), 7)
        and fx.dt <= dl.dt
        and fx.usd_rate > 0
    where dl.delivery_rank = 1 and dl.currency <> 'USD'
),

priced as (
    select
        dl.*,
        case when dl.currency = 'USD' then to_date(dl.dt) else rc.rate_date end as fx_rate_date,
        case when dl.currency = 'USD' then cast(1 as decimal(18, 8)) else rc.usd_rate end as usd_rate
    from deals as dl
    left join rate_candidates as rc
        on rc.dt = dl.dt
        and rc._source_file = dl._source_file
        and rc._line_number = dl._line_number
        and rc.rate_rank = 1
    where dl.delivery_rank = 1
)

select
    pr.deal_id as deal_id,
    pr.deal_name as deal_name,
    pr.stage as stage,
    pr.pipeline as pipeline,
    pr.contact_id as contact_id,
    pr.currency as currency,
    pr.amount as amount,
    pr.usd_rate as usd_rate,
    try_cast(round(pr.amount * pr.usd_rate, 2) as decimal(18, 2)) as amount_usd,
    pr.fx_rate_date as fx_rate_date,
    pr.close_date as close_date,
    pr.created_at as created_at,
    pr.updated_at as updated_at,
    pr.is_archived as is_archived,
    pr._source_file as _source_file,
    pr._line_number as _line_number,
    pr.dt as dt
from priced as pr
