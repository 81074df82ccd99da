-- silver.apollo_companies: Apollo company records, typed, with a normalized domain, one row per company id
-- and day. Domain normalization (the same expression in every startups model): lower case, trimmed, no
-- scheme, no user info, no path/query/fragment/port, no leading www/www2., no trailing dot. The domain comes
-- from primary_domain, else from website_url. Repeats of a company id on a day are quarantined by the
-- latest_delivery rule (the last line of the last file wins), never dropped silently.
with source as (
    select
        trim(ac.id) as company_id,
        nullif(regexp_replace(trim(ac.name), '\\s+', ' '), '') as company_name,
        nullif(regexp_replace(regexp_replace(regexp_replace(regexp_replace(lower(trim(
            coalesce(nullif(trim(ac.primary_domain), ''), ac.website_url)
        )), '^[a-z][a-z0-9+.-]*://', ''), '^[^/?#]*@', ''), '[/?#:].*$', ''), '^www[0-9]*[.]|[.]+$', ''), '')
            as domain,
        nullif(trim(ac.website_url), '') as website_url,
        nullif(lower(regexp_replace(trim(ac.industry), '\\s+', ' ')), '') as industry,
        try_cast(regexp_replace(trim(ac.estimated_num_employees), ',', '') as int) as estimated_num_employees,
        try_cast(regexp_replace(trim(ac.annual_revenue), '[$,]', '') as decimal(18, 2)) as annual_revenue_usd,
        nullif(array_join(array_sort(array_distinct(filter(
            transform(from_json(ac.technologies, 'array<string>'), t -> lower(trim(t))),
            t -> t is not null and t <> ''
        ))), ','), '') as technologies,
        try_cast(trim(ac.founded_year) as int) as founded_year_raw,
        ac._source_file as _source_file,
        ac._line_number as _line_number,
        ac.dt as dt
    from bronze_apollo_companies as ac
    where ac.dt between :start_dt and :end_dt
),

ranked as (
    select
        src.*,
        case
            when src.company_id is null then 1
            else row_number() over (
                partition by src.dt, src.company_id order by src._source_file desc, src._line_number desc
            )
        end as delivery_rank
    from source as src
)

select
    rk.company_id as company_id,
    rk.company_name as company_name,
    rk.domain as domain,
    rk.website_url as website_url,
    rk.industry as industry,
    case when rk.estimated_num_employees >= 0 then rk.estimated_num_employees end as estimated_num_employees,
    case when rk.annual_revenue_usd >= 0 then rk.annual_revenue_usd end as annual_revenue_usd,
    rk.technologies as technologies,
    -- a year before 1800 or after the delivery day is a typo (20150), not a founding year: published as null
    -- and counted by the founded_year_plausible warning
    case when rk.founded_year_raw between 1800 and year(to_date(rk.dt)) then rk.founded_year_raw end
        as founded_year,
    rk._source_file as _source_file,
    rk._line_number as _line_number,
    rk.dt as dt,
    rk.founded_year_raw as __founded_year_raw,
    rk.delivery_rank as __delivery_rank
from ranked as rk
