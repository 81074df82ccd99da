-- silver.web_extracts: one row per crawled page and day (Firecrawl), with the site's tech stack, social links
-- and page stats. A page crawled more than once a day: the latest fetch wins and the other fetches are
-- quarantined by the latest_fetch rule. The final URL is the last hop of redirect_chain, else the URL itself.
-- Tech stack: fixed patterns over the response headers (server, x-powered-by, CDN ids) and the HTML content
-- (script hosts, framework markers), lower-case names, sorted, comma-separated.
with source as (
    select
        nullif(regexp_replace(regexp_replace(lower(trim(pg.url)), '#.*$', ''), '/+$', ''), '') as page_url,
        nullif(regexp_replace(regexp_replace(regexp_replace(regexp_replace(lower(trim(pg.url)),
            '^[a-z][a-z0-9+.-]*://', ''), '^[^/?#]*@', ''), '[/?#:].*$', ''), '^www[0-9]*[.]|[.]+$', ''), '')
            as domain,
        try_cast(trim(pg.status_code) as int) as status_code,
        try_to_timestamp(trim(pg.fetched_at)) as fetched_at,
        nullif(regexp_replace(trim(pg.title), '\\s+', ' '), '') as title,
        nullif(regexp_replace(trim(pg.description), '\\s+', ' '), '') as description,
        pg.content as content,
        coalesce(from_json(pg.links, 'array<string>'), array()) as links,
        lower(coalesce(pg.headers, '')) as headers_text,
        lower(coalesce(pg.content, '')) as content_text,
        case
            when lower(trim(pg.ssl_valid)) in ('true', 't', '1', 'yes') then true
            when lower(trim(pg.ssl_valid)) in ('false', 'f', '0', 'no') then false
        end as ssl_valid,
        coalesce(from_json(pg.redirect_chain, 'array<string>'), array()) as redirect_chain,
        pg._source_file as _source_file,
        pg._line_number as _line_number,
        pg.dt as dt
    from bronze_firecrawl_pages as pg
    where pg.dt between :start_dt and :end_dt
),

enriched as (
    select
        src.*,
        lower(trim(coalesce(try_element_at(src.redirect_chain, -1), src.page_url))) as final_url,
        array_compact(array(
            case when src.headers_text rlike '"server":\\s*"[^"]*nginx' then 'nginx' end,
            case when src.headers_text rlike '"server":\\s*"[^"]*apache' then 'apache' end,
            case when src.headers_text rlike '"server":\\s*"cloudflare|"cf-ray":' then 'cloudflare' end,
            case when src.headers_text rlike '"server":\\s*"vercel|"x-vercel-id":' then 'vercel' end,
            case when src.headers_text rlike '"server":\\s*"netlify|"x-nf-request-id":' then 'netlify' end,
            case when src.headers_text rlike '"x-amz-cf-id":|"via":\\s*"[^"]*cloudfront' then 'cloudfront' end,
            case when src.headers_text rlike '"x-powered-by":\\s*"express' then 'express' end,
            case when src.headers_text rlike '"x-powered-by":\\s*"php' then 'php' end,
            case when src.headers_text rlike '"x-powered-by":\\s*"next[.]js' or src.content_text like '%/_next/%'
                then 'next.js' end,
            case when src.content_text like '%wp-content%' then 'wordpress' end,
            case when src.content_text like '%cdn.shopify.com%' then 'shopify' end,
            case when src.content_text like '%data-reactroot%' or src.content_text like '%react-dom%' then 'react' end,
            case when src.content_text like '%googletagmanager.com%' or src.content_text like '%gtag(%'
                then 'google analytics' end,
            case when src.content_text like '%js.hs-scripts.com%' then 'hubspot' end,
            case when src.content_text like '%widget.intercom.io%' then 'intercom' end,
            case when src.content_text like '%js.stripe.com%' then 'stripe' end,
            case when src.content_text like '%cdn.segment.com%' then 'segment' end
        )) as detected,
        try_element_at(filter(transform(src.links,
            l -> regexp_extract(lower(l), '^https?://(www[.]|mobile[.])?(twitter|x)[.]com/([a-z0-9_]{1,15})', 3)),
            h -> h <> '' and h not in ('intent', 'share', 'home')), 1) as twitter_handle,
        try_element_at(filter(transform(src.links,
            l -> regexp_extract(lower(l), '^https?://([a-z]{2,3}[.])?linkedin[.]com/company/([a-z0-9_-]+)', 2)),
            s -> s <> ''), 1) as linkedin_slug,
        try_element_at(filter(transform(src.links,
            l -> regexp_extract(lower(l), '^https?://(www[.])?github[.]com/([a-z0-9_-]+)', 2)),
            s -> s <> ''), 1) as github_org
    from source as src
),

ranked as (
    select
        en.*,
        case
            when en.page_url is null then 1
            else row_number() over (
                partition by en.dt, en.page_url
                order by en.fetched_at desc nulls last, en._source_file desc, en._line_number desc
            )
        end as delivery_rank
    from enriched as en
)

select
    rk.page_url as page_url,
    rk.domain as domain,
    rk.final_url as final_url,
    rk.status_code as status_code,
    rk.fetched_at as fetched_at,
    datediff(to_date(rk.dt), cast(rk.fetched_at as date)) as crawl_age_days,
    rk.final_url like 'https://%' as is_https,
    rk.ssl_valid as ssl_valid,
    size(rk.redirect_chain) as redirect_count,
    rk.title as title,
    rk.description as description,
    nullif(array_join(array_sort(array_distinct(rk.detected)), ','), '') as tech_stack,
    case when rk.twitter_handle is not null then concat('https://twitter.com/', rk.twitter_handle) end as twitter_url,
    case when rk.linkedin_slug is not null then concat('https://www.linkedin.com/company/', rk.linkedin_slug) end
        as linkedin_url,
    case when rk.github_org is not null then concat('https://github.com/', rk.github_org) end as github_url,
    coalesce(length(rk.content), 0) as content_length,
    case when trim(coalesce(rk.content, '')) = '' then 0 else size(split(trim(rk.content), '\\s+')) end as word_count,
    size(rk.links) as link_count,
    size(filter(rk.links, l -> coalesce(regexp_replace(regexp_replace(regexp_replace(regexp_replace(lower(trim(l)),
        '^[a-z][a-z0-9+.-]*://', ''), '^[^/?#]*@', ''), '[/?#:].*$', ''), '^www[0-9]*[.]|[.]+$', ''), '')
        <> coalesce(rk.domain, '') and lower(trim(l)) rlike '^https?://')) as external_link_count,
    rk._source_file as _source_file,
    rk._line_number as _line_number,
    rk.dt as dt,
    rk.delivery_rank as __delivery_rank
from ranked as rk
