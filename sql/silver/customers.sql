-- silver.customers: customer history as SCD type 2 (valid_from, valid_to, is_current, row_hash).
--
-- Storage design: partition dt holds the WHOLE history as known at the end of day dt, built from the
-- newest earlier partition (the table's own history, given to this model as silver_customers) plus the
-- change-feed rows that arrived on the batch's days up to dt. A day's partition therefore depends only on
-- the day before it and that day's feed, so an exact partition overwrite of any day reproduces the same
-- rows, and late or out-of-order changes simply re-sort the history (valid_to is recomputed, never
-- patched in older partitions). The current history is the newest partition; older partitions are the
-- history as it was known then (time travel by dt). Backfill days in order: a day computed before its
-- predecessor exists misses the predecessor's changes until it is re-run.
--
-- Personal data is pseudonymized here, as in silver.apollo_contacts: raw names, email and phone never leave
-- this query. Run by lakehouse.domains.pii.SaltedSql, which binds :pii_salt (LAKEHOUSE_PII_SALT).
--   display_name = first name and last initial (Ann L.)
--   email_hash   = sha256(salt || lower(trim(email))): joinable with other tables hashed with the same salt
--   email_masked = first character of the local part, '***@', the mail domain (a***@x.com)
--   phone_masked = '***' and the last 4 digits, only for numbers of at least 7 digits
--   row_hash     = sha256(salt || the tracked attributes as JSON): detects a change without storing the values
with batch_days as (
    select explode(sequence(to_date(:start_dt), to_date(:end_dt), interval 1 day)) as as_of_day
),

known_history as (
    select
        hist.customer_id,
        hist.display_name,
        hist.email_hash,
        hist.email_masked,
        hist.email_domain,
        hist.phone_masked,
        hist.country,
        hist.row_hash,
        hist.valid_from,
        hist.source_dt,
        cast(null as timestamp) as ingested_at,
        hist._source_file,
        hist._line_number
    from silver_customers as hist
    where hist.dt = (select max(latest.dt) from silver_customers as latest where latest.dt < :start_dt)
),

feed as (
    select
        trim(c.customer_id) as customer_id,
        initcap(lower(trim(c.first_name))) as first_name,
        initcap(lower(trim(c.last_name))) as last_name,
        nullif(lower(trim(c.email)), '') as email,
        nullif(regexp_replace(c.phone, '[^0-9+]', ''), '') as phone,
        upper(trim(c.country)) as country,
        nullif(lower(trim(c.email)), '') rlike '^[^@ ]+@[^@ ]+[.][^@ ]+$' as email_well_formed,
        try_to_timestamp(trim(c.updated_at)) as valid_from,
        c.dt as source_dt,
        c._ingested_at as ingested_at,
        c._source_file as _source_file,
        c._line_number as _line_number
    from bronze_shop_customers as c
    where c.dt between :start_dt and :end_dt
),

hashed_feed as (
    -- the pseudonymized columns; the raw ones stop here
    select
        fd.customer_id,
        nullif(concat_ws(' ', fd.first_name,
            case when coalesce(fd.last_name, '') <> '' then concat(left(fd.last_name, 1), '.') end), '')
            as display_name,
        case when fd.email is not null then sha2(concat(:pii_salt, fd.email), 256) end as email_hash,
        case when fd.email_well_formed
            then concat(left(fd.email, 1), '***@', substring_index(fd.email, '@', -1)) end as email_masked,
        case when fd.email_well_formed then substring_index(fd.email, '@', -1) end as email_domain,
        case when length(regexp_replace(fd.phone, '[^0-9]', '')) >= 7
            then concat('***', right(regexp_replace(fd.phone, '[^0-9]', ''), 4)) end as phone_masked,
        fd.country,
        sha2(concat(:pii_salt, to_json(named_struct(
            'first_name', fd.first_name, 'last_name', fd.last_name, 'email', fd.email,
            'phone', fd.phone, 'country', fd.country
        ))), 256) as row_hash,
        fd.valid_from,
        fd.source_dt,
        fd.ingested_at,
        fd._source_file,
        fd._line_number
    from feed as fd
),

known_by_day as (
    -- every version that is known at the end of each day of the batch
    select
        bd.as_of_day,
        kh.customer_id, kh.display_name, kh.email_hash, kh.email_masked, kh.email_domain, kh.phone_masked,
        kh.country, kh.row_hash,
        kh.valid_from, kh.source_dt, kh.ingested_at, kh._source_file, kh._line_number
    from batch_days as bd
    cross join known_history as kh
    union all
    select
        bd.as_of_day,
        hf.customer_id, hf.display_name, hf.email_hash, hf.email_masked, hf.email_domain, hf.phone_masked,
        hf.country, hf.row_hash, hf.valid_from, hf.source_dt, hf.ingested_at, hf._source_file, hf._line_number
    from batch_days as bd
    inner join hashed_feed as hf
        on hf.source_dt <= cast(bd.as_of_day as string)
    where hf.customer_id is not null and hf.valid_from is not null
),

one_per_instant as (
    -- the same customer and instant delivered more than once: the latest delivery wins
    select
        kd.*,
        row_number() over (
            partition by kd.as_of_day, kd.customer_id, kd.valid_from
            order by kd.source_dt desc, kd.ingested_at desc, kd._source_file desc, kd._line_number desc
        ) as delivery_rank
    from known_by_day as kd
),

with_previous as (
    select
        opi.*,
        lag(opi.row_hash) over (partition by opi.as_of_day, opi.customer_id order by opi.valid_from)
            as previous_hash
    from one_per_instant as opi
    where opi.delivery_rank = 1
),

versions as (
    -- a row equal to the version before it is no change and opens no new version
    select
        wp.*,
        lead(wp.valid_from) over (partition by wp.as_of_day, wp.customer_id order by wp.valid_from)
            as valid_to
    from with_previous as wp
    where wp.previous_hash is null or wp.previous_hash <> wp.row_hash
),

unusable_feed as (
    -- feed rows without a key or a readable updated_at: published nowhere, quarantined by the rules
    select
        hf.customer_id, hf.display_name, hf.email_hash, hf.email_masked, hf.email_domain, hf.phone_masked,
        hf.country, hf.row_hash, hf.valid_from, cast(null as timestamp) as valid_to, false as is_current,
        hf.source_dt, hf._source_file, hf._line_number, hf.source_dt as dt
    from hashed_feed as hf
    where hf.customer_id is null or hf.valid_from is null
)

select
    vs.customer_id as customer_id,
    vs.display_name as display_name,
    vs.email_hash as email_hash,
    vs.email_masked as email_masked,
    vs.email_domain as email_domain,
    vs.phone_masked as phone_masked,
    vs.country as country,
    vs.row_hash as row_hash,
    vs.valid_from as valid_from,
    vs.valid_to as valid_to,
    vs.valid_to is null as is_current,
    vs.source_dt as source_dt,
    vs._source_file as _source_file,
    vs._line_number as _line_number,
    cast(vs.as_of_day as string) as dt
from versions as vs
union all
select
    uf.customer_id,
    uf.display_name,
    uf.email_hash,
    uf.email_masked,
    uf.email_domain,
    uf.phone_masked,
    uf.country,
    uf.row_hash,
    uf.valid_from,
    uf.valid_to,
    uf.is_current,
    uf.source_dt,
    uf._source_file,
    uf._line_number,
    uf.dt
from unusable_feed as uf
