-- silver.apollo_contacts: Apollo contacts with personal data masked, one row per contact id and day.
-- Run by lakehouse.domains.startups.transforms.apollo_contacts, which binds :pii_salt from the settings
-- (LAKEHOUSE_PII_SALT). Raw email, phone, last name and personal LinkedIn URL never leave this query:
--   email_hash   = sha256(salt || lower(trim(email))): joinable across tables, not reversible without the salt
--   email_masked = first character of the local part, '***@', the mail domain  (j***@acme.io)
--   phone_masked = '***' and the last 4 digits (***0134), only for numbers of at least 7 digits
--   display_name = first name and last initial (Jane D.)
-- Repeats of a contact id on a day are quarantined by the latest_delivery rule (last line of the last file wins).
with source as (
    select
        trim(ct.id) as contact_id,
        nullif(regexp_replace(regexp_replace(regexp_replace(regexp_replace(lower(trim(ct.organization_domain)),
            '^[a-z][a-z0-9+.-]*://', ''), '^[^/?#]*@', ''), '[/?#:].*$', ''), '^www[0-9]*[.]|[.]+$', ''), '')
            as organization_domain,
        initcap(lower(trim(ct.first_name))) as first_name,
        upper(left(trim(ct.last_name), 1)) as last_initial,
        nullif(regexp_replace(trim(ct.title), '\\s+', ' '), '') as title,
        nullif(regexp_replace(lower(trim(ct.seniority)), '[ -]+', '_'), '') as seniority,
        nullif(array_join(array_sort(array_distinct(filter(
            transform(from_json(ct.departments, 'array<string>'), d -> regexp_replace(lower(trim(d)), '[ -]+', '_')),
            d -> d is not null and d <> ''
        ))), ','), '') as departments,
        nullif(lower(trim(ct.email)), '') as email_clean,
        regexp_replace(ct.phone, '[^0-9]', '') as phone_digits,
        coalesce(trim(ct.linkedin_url), '') <> '' as has_linkedin,
        ct._source_file as _source_file,
        ct._line_number as _line_number,
        ct.dt as dt
    from bronze_apollo_contacts as ct
    where ct.dt between :start_dt and :end_dt
),

ranked as (
    select
        src.*,
        src.email_clean rlike '^[^@ ]+@[^@ ]+[.][^@ ]+$' as email_well_formed,
        case
            when src.contact_id is null then 1
            else row_number() over (
                partition by src.dt, src.contact_id order by src._source_file desc, src._line_number desc
            )
        end as delivery_rank
    from source as src
)

select
    rk.contact_id as contact_id,
    rk.organization_domain as organization_domain,
    nullif(concat_ws(' ', rk.first_name, case when rk.last_initial <> '' then concat(rk.last_initial, '.') end), '')
        as display_name,
    rk.title as title,
    rk.seniority as seniority,
    rk.departments as departments,
    case when rk.email_clean is not null then sha2(concat(:pii_salt, rk.email_clean), 256) end as email_hash,
    case when rk.email_well_formed
        then concat(left(rk.email_clean, 1), '***@', substring_index(rk.email_clean, '@', -1)) end as email_masked,
    case when rk.email_well_formed then substring_index(rk.email_clean, '@', -1) end as email_domain,
    case when length(rk.phone_digits) >= 7 then concat('***', right(rk.phone_digits, 4)) end as phone_masked,
    rk.has_linkedin as has_linkedin,
    rk._source_file as _source_file,
    rk._line_number as _line_number,
    rk.dt as dt,
    rk.delivery_rank as __delivery_rank
from ranked as rk
