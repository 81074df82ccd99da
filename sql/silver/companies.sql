-- silver.companies: one canonical record per normalized domain across Crunchbase and Apollo.
--
-- Storage design (as silver.customers): partition dt holds EVERY company known at the end of day dt, built
-- from the newest earlier partition (the table's own history, given to this model as silver_companies) plus
-- the Crunchbase rows (bronze) and published Apollo rows (silver.apollo_companies) that arrived on the batch's
-- days up to dt. A day depends only on the day before it and its own deliveries, so re-running a day
-- reproduces it exactly. Backfill days in order.
--
-- Survivorship, per field, among the non-null values of every record ever seen for the domain:
--   1. provider priority, for the fields both providers send:
--        company_name, founded_year      Crunchbase over Apollo (curated profile data)
--        industry, employee_count        Apollo over Crunchbase (Apollo's single industry label and point
--                                        estimate over Crunchbase's first category and size-range midpoint)
--   2. then recency: the value from the latest delivery (day, then file, then line) wins.
--   Single-provider fields (Crunchbase: country, city, categories, funding, social URLs; Apollo: revenue,
--   technologies) simply take the latest non-null value. A later NULL never erases a known value.
--   The winning provider of each contested field is kept in <field>_source, which is what lets the next day
--   merge into this state without re-reading every past delivery.
-- Crunchbase rows without a uuid, without a usable domain, or repeated on a day (the last line of the last file
-- wins) are not merged: they are emitted on their delivery day for the rules to quarantine.
with batch_dates as (
    select explode(sequence(to_date(:start_dt), to_date(:end_dt), interval 1 day)) as as_of_date
),

batch_days as (
    select cast(bdt.as_of_date as string) as as_of_day from batch_dates as bdt
),

history as (
    select hist.*
    from silver_companies as hist
    where hist.dt = (select max(latest.dt) from silver_companies as latest where latest.dt < :start_dt)
),

crunchbase_source as (
    select
        trim(cb.uuid) as crunchbase_uuid,
        nullif(regexp_replace(trim(cb.name), '\\s+', ' '), '') as company_name,
        nullif(regexp_replace(regexp_replace(regexp_replace(regexp_replace(lower(trim(cb.homepage_url)),
            '^[a-z][a-z0-9+.-]*://', ''), '^[^/?#]*@', ''), '[/?#:].*$', ''), '^www[0-9]*[.]|[.]+$', ''), '')
            as domain,
        year(coalesce(try_to_date(trim(cb.founded_on)), try_to_date(trim(cb.founded_on), 'MM/dd/yyyy')))
            as founded_year_raw,
        case when upper(trim(cb.country_code)) rlike '^[A-Z]{2,3}$' then upper(trim(cb.country_code)) end
            as country_code,
        nullif(initcap(lower(regexp_replace(trim(cb.city), '\\s+', ' '))), '') as city,
        nullif(lower(trim(try_element_at(split(cb.category_list, ','), 1))), '') as first_category,
        nullif(array_join(array_sort(array_distinct(filter(
            transform(split(cb.category_list, ','), c -> lower(trim(c))), c -> c is not null and c <> ''
        ))), ','), '') as categories,
        try_cast(regexp_replace(trim(cb.funding_total_usd), '[$,\\s]', '') as decimal(18, 2)) as funding_raw,
        nullif(regexp_replace(lower(trim(cb.last_funding_type)), '[ -]+', '_'), '') as last_funding_type,
        coalesce(try_to_date(trim(cb.last_funding_on)), try_to_date(trim(cb.last_funding_on), 'MM/dd/yyyy'))
            as last_funding_on,
        try_cast(regexp_extract(lower(trim(cb.num_employees_enum)), '^(c_)?0*([0-9]+)[_-]+0*([0-9]+|max)$', 2) as int)
            as employees_low,
        regexp_extract(lower(trim(cb.num_employees_enum)), '^(c_)?0*([0-9]+)[_-]+0*([0-9]+|max)$', 3)
            as employees_high,
        nullif(regexp_extract(lower(trim(cb.linkedin_url)),
            '^(https?://)?([a-z]{2,3}[.])?linkedin[.]com/company/([a-z0-9_-]+)', 3), '') as linkedin_slug,
        nullif(regexp_extract(lower(trim(cb.twitter_url)),
            '^(https?://)?(www[.]|mobile[.])?(twitter|x)[.]com/([a-z0-9_]{1,15})', 4), '') as twitter_handle,
        cb._source_file as _source_file,
        cb._line_number as _line_number,
        cb.dt as dt
    from bronze_crunchbase_organizations as cb
    where cb.dt between :start_dt and :end_dt
),

crunchbase as (
    select
        cs.*,
        case when cs.founded_year_raw between 1800 and year(to_date(cs.dt)) then cs.founded_year_raw end
            as founded_year,
        case when cs.funding_raw >= 0 then cs.funding_raw end as funding_total_usd,
        case
            when cs.employees_high = 'max' then cs.employees_low
            when try_cast(cs.employees_high as int) >= cs.employees_low
                then cast(round((cs.employees_low + try_cast(cs.employees_high as int)) / 2.0) as int)
        end as employee_count,
        cs.domain rlike '^[a-z0-9]([a-z0-9-]*[a-z0-9])?([.][a-z0-9]([a-z0-9-]*[a-z0-9])?)*[.][a-z]{2,}$'
            as usable_domain,
        case
            when cs.crunchbase_uuid is null then 1
            else row_number() over (
                partition by cs.dt, cs.crunchbase_uuid order by cs._source_file desc, cs._line_number desc
            )
        end as delivery_rank
    from crunchbase_source as cs
),

candidates as (
    -- what was known before the batch: its contested fields keep the provider that won them
    select
        bd.as_of_day,
        hi.domain, hi.company_name, hi.company_name_source, hi.founded_year, hi.founded_year_source,
        hi.country_code, hi.city, hi.industry, hi.industry_source, hi.categories, hi.employee_count,
        hi.employee_count_source, hi.annual_revenue_usd, hi.funding_total_usd, hi.last_funding_type,
        hi.last_funding_on, hi.linkedin_url, hi.twitter_url, hi.technologies, hi.crunchbase_uuid, hi.apollo_id,
        hi.first_seen_dt, hi.last_seen_dt,
        named_struct('d', hi.dt, 'f', coalesce(hi._source_file, ''), 'l', coalesce(hi._line_number, 0)) as recency,
        hi._source_file, hi._line_number
    from batch_days as bd
    cross join history as hi
    union all
    select
        bd.as_of_day,
        cb.domain, cb.company_name, 'crunchbase', cb.founded_year, 'crunchbase',
        cb.country_code, cb.city, cb.first_category, 'crunchbase', cb.categories, cb.employee_count,
        'crunchbase', cast(null as decimal(18, 2)), cb.funding_total_usd, cb.last_funding_type,
        cb.last_funding_on,
        case when cb.linkedin_slug is not null then concat('https://www.linkedin.com/company/', cb.linkedin_slug) end,
        case when cb.twitter_handle is not null then concat('https://twitter.com/', cb.twitter_handle) end,
        cast(null as string), cb.crunchbase_uuid, cast(null as string),
        cb.dt, cb.dt,
        named_struct('d', cb.dt, 'f', coalesce(cb._source_file, ''), 'l', coalesce(cb._line_number, 0)),
        cb._source_file, cb._line_number
    from batch_days as bd
    inner join crunchbase as cb
        on cb.dt <= bd.as_of_day
    where cb.crunchbase_uuid is not null and cb.usable_domain and cb.delivery_rank = 1
    union all
    select
        bd.as_of_day,
        ap.domain, ap.company_name, 'apollo', ap.founded_year, 'apollo',
        cast(null as string), cast(null as string), ap.industry, 'apollo', cast(null as string),
        ap.estimated_num_employees, 'apollo', ap.annual_revenue_usd, cast(null as decimal(18, 2)),
        cast(null as string), cast(null as date), cast(null as string), cast(null as string),
        ap.technologies, cast(null as string), ap.company_id,
        ap.dt, ap.dt,
        named_struct('d', ap.dt, 'f', coalesce(ap._source_file, ''), 'l', coalesce(ap._line_number, 0)),
        ap._source_file, ap._line_number
    from batch_days as bd
    inner join silver_apollo_companies as ap
        on ap.dt <= bd.as_of_day and ap.dt >= :start_dt
    where ap.dt <= :end_dt
),

ranked as (
    -- provider priority of each contested field's candidate value (higher wins)
    select
        cd.*,
        case cd.company_name_source when 'crunchbase' then 2 when 'apollo' then 1 else 0 end as company_name_rank,
        case cd.founded_year_source when 'crunchbase' then 2 when 'apollo' then 1 else 0 end as founded_year_rank,
        case cd.industry_source when 'apollo' then 2 when 'crunchbase' then 1 else 0 end as industry_rank,
        case cd.employee_count_source when 'apollo' then 2 when 'crunchbase' then 1 else 0 end
            as employee_count_rank
    from candidates as cd
),

merged as (
    select
        rk.as_of_day,
        rk.domain,
        max_by(rk.company_name, case when rk.company_name is not null
            then named_struct('r', rk.company_name_rank, 'k', rk.recency) end) as company_name,
        max_by(rk.company_name_source, case when rk.company_name is not null
            then named_struct('r', rk.company_name_rank, 'k', rk.recency) end) as company_name_source,
        max_by(rk.founded_year, case when rk.founded_year is not null
            then named_struct('r', rk.founded_year_rank, 'k', rk.recency) end) as founded_year,
        max_by(rk.founded_year_source, case when rk.founded_year is not null
            then named_struct('r', rk.founded_year_rank, 'k', rk.recency) end) as founded_year_source,
        max_by(rk.industry, case when rk.industry is not null
            then named_struct('r', rk.industry_rank, 'k', rk.recency) end) as industry,
        max_by(rk.industry_source, case when rk.industry is not null
            then named_struct('r', rk.industry_rank, 'k', rk.recency) end) as industry_source,
        max_by(rk.employee_count, case when rk.employee_count is not null
            then named_struct('r', rk.employee_count_rank, 'k', rk.recency) end) as employee_count,
        max_by(rk.employee_count_source, case when rk.employee_count is not null
            then named_struct('r', rk.employee_count_rank, 'k', rk.recency) end) as employee_count_source,
        max_by(rk.country_code, case when rk.country_code is not null then rk.recency end) as country_code,
        max_by(rk.city, case when rk.city is not null then rk.recency end) as city,
        max_by(rk.categories, case when rk.categories is not null then rk.recency end) as categories,
        max_by(rk.annual_revenue_usd, case when rk.annual_revenue_usd is not null then rk.recency end)
            as annual_revenue_usd,
        max_by(rk.funding_total_usd, case when rk.funding_total_usd is not null then rk.recency end)
            as funding_total_usd,
        max_by(rk.last_funding_type, case when rk.last_funding_type is not null then rk.recency end)
            as last_funding_type,
        max_by(rk.last_funding_on, case when rk.last_funding_on is not null then rk.recency end) as last_funding_on,
        max_by(rk.linkedin_url, case when rk.linkedin_url is not null then rk.recency end) as linkedin_url,
        max_by(rk.twitter_url, case when rk.twitter_url is not null then rk.recency end) as twitter_url,
        max_by(rk.technologies, case when rk.technologies is not null then rk.recency end) as technologies,
        max_by(rk.crunchbase_uuid, case when rk.crunchbase_uuid is not null then rk.recency end) as crunchbase_uuid,
        max_by(rk.apollo_id, case when rk.apollo_id is not null then rk.recency end) as apollo_id,
        min(rk.first_seen_dt) as first_seen_dt,
        max(rk.last_seen_dt) as last_seen_dt,
        max_by(rk._source_file, rk.recency) as _source_file,
        max_by(rk._line_number, rk.recency) as _line_number
    from ranked as rk
    group by rk.as_of_day, rk.domain
)

select
    mg.domain as domain,
    mg.company_name as company_name,
    mg.company_name_source as company_name_source,
    concat('https://', mg.domain) as website_url,
    mg.founded_year as founded_year,
    mg.founded_year_source as founded_year_source,
    mg.country_code as country_code,
    mg.city as city,
    mg.industry as industry,
    mg.industry_source as industry_source,
    mg.categories as categories,
    mg.employee_count as employee_count,
    mg.employee_count_source as employee_count_source,
    mg.annual_revenue_usd as annual_revenue_usd,
    mg.funding_total_usd as funding_total_usd,
    mg.last_funding_type as last_funding_type,
    mg.last_funding_on as last_funding_on,
    mg.linkedin_url as linkedin_url,
    mg.twitter_url as twitter_url,
    mg.technologies as technologies,
    mg.crunchbase_uuid as crunchbase_uuid,
    mg.apollo_id as apollo_id,
    concat_ws(',', case when mg.crunchbase_uuid is not null then 'crunchbase' end,
        case when mg.apollo_id is not null then 'apollo' end) as sources,
    mg.first_seen_dt as first_seen_dt,
    mg.last_seen_dt as last_seen_dt,
    mg._source_file as _source_file,
    mg._line_number as _line_number,
    mg.as_of_day as dt,
    1 as __delivery_rank
from merged as mg
union all
-- Crunchbase rows that are not merged: published nowhere, quarantined by the rules on their delivery day
select
    cb.domain, cb.company_name, 'crunchbase', case when cb.domain is not null then concat('https://', cb.domain) end,
    cb.founded_year, 'crunchbase', cb.country_code, cb.city, cb.first_category, 'crunchbase', cb.categories,
    cb.employee_count, 'crunchbase', cast(null as decimal(18, 2)), cb.funding_total_usd, cb.last_funding_type,
    cb.last_funding_on, cast(null as string), cast(null as string), cast(null as string), cb.crunchbase_uuid,
    cast(null as string), 'crunchbase', cb.dt, cb.dt, cb._source_file, cb._line_number, cb.dt,
    cb.delivery_rank
from crunchbase as cb
where cb.crunchbase_uuid is null or not coalesce(cb.usable_domain, false) or cb.delivery_rank > 1
