-- silver.billing_users: the day's created or changed users, typed; the latest version of a re-sent id wins
-- (the others go to quarantine by the latest_version rule). updated_at falls back to created_at.
-- Personal data is pseudonymized here, as in silver.customers: the raw email and full name never leave this
-- query. Run by lakehouse.domains.pii.SaltedSql, which binds :pii_salt (LAKEHOUSE_PII_SALT).
--   email_hash   = sha256(salt || lower(trim(email))): joinable with other tables hashed with the same salt
--   email_masked = first character of the local part, '***@', the mail domain (a***@x.com)
--   display_name = first name and last initial (Ann L.)
with source as (
    select
        try_cast(trim(u.id) as bigint) as user_id,
        nullif(lower(trim(u.email)), '') as email,
        split(regexp_replace(trim(u.full_name), '\\s+', ' '), ' ') as name_parts,
        nullif(upper(trim(u.country)), '') as country,
        try_to_timestamp(trim(u.created_at)) as created_at,
        coalesce(try_to_timestamp(trim(u.updated_at)), try_to_timestamp(trim(u.created_at))) as updated_at,
        u._source_file as _source_file,
        u._line_number as _line_number,
        u.dt as dt
    from bronze_billing_users as u
    where u.dt between :start_dt and :end_dt
)

select
    src.user_id as user_id,
    case when src.email is not null then sha2(concat(:pii_salt, src.email), 256) end as email_hash,
    case when src.email rlike '^[^@ ]+@[^@ ]+[.][^@ ]+$'
        then concat(left(src.email, 1), '***@', substring_index(src.email, '@', -1)) end as email_masked,
    nullif(concat_ws(' ', nullif(src.name_parts[0], ''),
        case when size(src.name_parts) > 1 then concat(left(element_at(src.name_parts, -1), 1), '.') end), '')
        as display_name,
    src.country as country,
    src.created_at as created_at,
    src.updated_at as updated_at,
    src._source_file as _source_file,
    src._line_number as _line_number,
    src.dt as dt
from source as src
