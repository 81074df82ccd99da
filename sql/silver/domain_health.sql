-- silver.domain_health: one row per crawled domain and day, from that day's published pages (silver.web_extracts).
-- The latest fetch of the domain (by fetched_at, then page_url) stands for its https/ssl/redirect state.
-- health_score (0-100, an integer) is the sum of:
--   reachability  40 x (pages answering 2xx / pages crawled)
--   https         20 if the latest fetch ended on an https:// URL
--   ssl           15 if that https fetch also had a valid certificate (ssl_valid = true)
--   redirects     10 for at most 1 redirect hop, 5 for 2, 0 for 3 or more
--   freshness     15 if the newest crawl is at most 1 day old, 10 if at most 7, 5 if at most 30, else 0
-- A domain whose pages all failed (no 2xx) can therefore score at most 60.
with pages as (
    select
        we.dt,
        we.domain,
        we.page_url,
        we.status_code,
        we.fetched_at,
        we.is_https,
        we.ssl_valid,
        we.redirect_count
    from silver_web_extracts as we
    where we.dt between :start_dt and :end_dt
),

per_domain as (
    select
        pg.dt,
        pg.domain,
        count(*) as pages_crawled,
        count_if(pg.status_code between 200 and 299) as pages_ok,
        max_by(named_struct('status_code', pg.status_code, 'is_https', pg.is_https, 'ssl_valid', pg.ssl_valid,
            'redirect_count', pg.redirect_count), named_struct('at', pg.fetched_at, 'url', pg.page_url)) as latest,
        max(pg.fetched_at) as last_crawled_at
    from pages as pg
    group by pg.dt, pg.domain
),

measured as (
    select
        pd.*,
        datediff(to_date(pd.dt), cast(pd.last_crawled_at as date)) as crawl_age_days,
        40.0 * pd.pages_ok / pd.pages_crawled as reachability_points,
        case when pd.latest.is_https then 20 else 0 end as https_points,
        case when pd.latest.is_https and pd.latest.ssl_valid then 15 else 0 end as ssl_points,
        case when pd.latest.redirect_count <= 1 then 10 when pd.latest.redirect_count = 2 then 5 else 0 end
            as redirect_points
    from per_domain as pd
)

select
    ms.domain as domain,
    ms.pages_crawled as pages_crawled,
    ms.pages_ok as pages_ok,
    ms.pages_ok > 0 as is_reachable,
    ms.latest.status_code as latest_status_code,
    ms.latest.is_https as is_https,
    coalesce(ms.latest.is_https and ms.latest.ssl_valid, false) as ssl_valid,
    ms.latest.redirect_count as redirect_count,
    ms.last_crawled_at as last_crawled_at,
    ms.crawl_age_days as crawl_age_days,
    cast(round(ms.reachability_points + ms.https_points + ms.ssl_points + ms.redirect_points
        + case
            when ms.crawl_age_days <= 1 then 15
            when ms.crawl_age_days <= 7 then 10
            when ms.crawl_age_days <= 30 then 5
            else 0
        end) as int) as health_score,
    ms.dt as dt
from measured as ms
