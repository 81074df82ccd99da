-- gold.startup_profiles: one row per company (normalized domain) and day, joining every startups silver table.
-- Companies are the ones known at the end of dt (silver.companies); web, health and contact signals are those
-- of the 30 days up to dt (SIGNAL_LOOKBACK_DAYS in domains/startups/gold.py):
--   health   the newest silver.domain_health row of the domain
--   web      tech stack detected on any crawled page, the newest social links found on the pages
--   contacts distinct Apollo contacts of the domain, and how many are decision makers
-- Tech stack = Apollo technologies plus web-detected technologies. Social links: Crunchbase's, else the web's.
-- completeness_score (0-100) = 10 points for each of these 10 signals being present:
--   company_name, founded_year, country_code, industry, employee_count, funding_total_usd,
--   a social link (LinkedIn or Twitter), a tech stack, a health score (crawled within 30 days), >= 1 contact.
with companies as (
    select co.*
    from silver_companies as co
    where co.dt between :start_dt and :end_dt
),

health as (
    select
        co.dt,
        co.domain,
        hd.health_score,
        hd.is_reachable,
        hd.last_crawled_at,
        row_number() over (partition by co.dt, co.domain order by hd.dt desc) as health_rank
    from companies as co
    inner join silver_domain_health as hd
        on hd.domain = co.domain
        and hd.dt <= co.dt
        and hd.dt >= cast(date_sub(to_date(co.dt), 30) as string)
),

web as (
    select
        co.dt,
        co.domain,
        count(*) as pages_crawled,
        array_distinct(flatten(collect_list(split(we.tech_stack, ',')))) as web_tech,
        max_by(we.twitter_url, case when we.twitter_url is not null
            then named_struct('d', we.dt, 'at', we.fetched_at, 'u', we.page_url) end) as twitter_url,
        max_by(we.linkedin_url, case when we.linkedin_url is not null
            then named_struct('d', we.dt, 'at', we.fetched_at, 'u', we.page_url) end) as linkedin_url,
        max_by(we.github_url, case when we.github_url is not null
            then named_struct('d', we.dt, 'at', we.fetched_at, 'u', we.page_url) end) as github_url
    from companies as co
    inner join silver_web_extracts as we
        on we.domain = co.domain
        and we.dt <= co.dt
        and we.dt >= cast(date_sub(to_date(co.dt), 30) as string)
    group by co.dt, co.domain
),

contacts as (
    select
        co.dt,
        co.domain,
        count(distinct ct.contact_id) as contacts_count,
        count(distinct case when ct.seniority in ('founder', 'owner', 'c_suite', 'partner', 'vp', 'director')
            then ct.contact_id end) as decision_maker_count
    from companies as co
    inner join silver_apollo_contacts as ct
        on ct.organization_domain = co.domain
        and ct.dt <= co.dt
        and ct.dt >= cast(date_sub(to_date(co.dt), 30) as string)
    group by co.dt, co.domain
),

joined as (
    select
        co.*,
        hl.health_score,
        hl.is_reachable,
        hl.last_crawled_at,
        nullif(array_join(array_sort(array_distinct(array_union(
            coalesce(split(co.technologies, ','), array()), coalesce(wb.web_tech, array())
        ))), ','), '') as tech_stack,
        coalesce(co.linkedin_url, wb.linkedin_url) as any_linkedin_url,
        coalesce(co.twitter_url, wb.twitter_url) as any_twitter_url,
        wb.github_url,
        coalesce(wb.pages_crawled, 0) as pages_crawled,
        coalesce(ct.contacts_count, 0) as contacts_count,
        coalesce(ct.decision_maker_count, 0) as decision_maker_count
    from companies as co
    left join health as hl
        on hl.dt = co.dt and hl.domain = co.domain and hl.health_rank = 1
    left join web as wb
        on wb.dt = co.dt and wb.domain = co.domain
    left join contacts as ct
        on ct.dt = co.dt and ct.domain = co.domain
)

select
    jn.domain as domain,
    jn.company_name as company_name,
    jn.website_url as website_url,
    jn.founded_year as founded_year,
    jn.country_code as country_code,
    jn.city as city,
    jn.industry as industry,
    jn.employee_count as employee_count,
    jn.annual_revenue_usd as annual_revenue_usd,
    jn.funding_total_usd as funding_total_usd,
    jn.last_funding_type as last_funding_type,
    jn.last_funding_on as last_funding_on,
    jn.sources as sources,
    jn.tech_stack as tech_stack,
    jn.any_linkedin_url as linkedin_url,
    jn.any_twitter_url as twitter_url,
    jn.github_url as github_url,
    jn.pages_crawled as pages_crawled,
    jn.health_score as health_score,
    jn.is_reachable as is_reachable,
    jn.last_crawled_at as last_crawled_at,
    jn.contacts_count as contacts_count,
    jn.decision_maker_count as decision_maker_count,
    cast(10 * (
        cast(jn.company_name is not null as int)
        + cast(jn.founded_year is not null as int)
        + cast(jn.country_code is not null as int)
        + cast(jn.industry is not null as int)
        + cast(jn.employee_count is not null as int)
        + cast(jn.funding_total_usd is not null as int)
        + cast(jn.any_linkedin_url is not null or jn.any_twitter_url is not null as int)
        + cast(jn.tech_stack is not null as int)
        + cast(jn.health_score is not null as int)
        + cast(jn.contacts_count > 0 as int)
    ) as int) as completeness_score,
    jn.dt as dt
from joined as jn
