-- silver.crm_contacts: CRM contacts flattened from the API shape (id, properties{}, associations{}),
-- one row per contact and day: the most recently updated delivery wins.
-- Personal data is pseudonymized as in silver.customers (display_name, email_hash with :pii_salt bound by
-- lakehouse.domains.pii.SaltedSql, email_masked, email_domain): raw names and email stay in bronze.
with source as (
    select
        trim(ct.id) as contact_id,
        nullif(lower(trim(get_json_object(ct.properties, '$.email'))), '') as email,
        initcap(lower(trim(get_json_object(ct.properties, '$.firstname')))) as first_name,
        initcap(lower(trim(get_json_object(ct.properties, '$.lastname')))) as last_name,
        trim(get_json_object(ct.properties, '$.company')) as company,
        lower(trim(get_json_object(ct.properties, '$.lifecyclestage'))) as lifecycle_stage,
        trim(coalesce(
            get_json_object(ct.properties, '$.shop_customer_id'),
            get_json_object(ct.properties, '$.customer_id')
        )) as customer_id,
        try_to_timestamp(trim(coalesce(ct.createdAt, get_json_object(ct.properties, '$.createdate')))) as created_at,
        try_to_timestamp(trim(coalesce(ct.updatedAt, get_json_object(ct.properties, '$.lastmodifieddate'))))
            as updated_at,
        coalesce(lower(trim(ct.archived)) in ('true', '1', 'yes'), false) as is_archived,
        ct._ingested_at as ingested_at,
        ct._source_file as _source_file,
        ct._line_number as _line_number,
        ct.dt as dt
    from bronze_crm_contacts as ct
    where ct.dt between :start_dt and :end_dt
),

ranked as (
    select
        src.*,
        src.email rlike '^[^@ ]+@[^@ ]+[.][^@ ]+$' as email_well_formed,
        case
            when src.contact_id is null then 1
            else row_number() over (
                partition by src.dt, src.contact_id
                order by src.updated_at desc nulls last, src.ingested_at desc, src._source_file desc,
                    src._line_number desc
            )
        end as delivery_rank
    from source as src
)

select
    ranked.contact_id as contact_id,
    nullif(concat_ws(' ', ranked.first_name,
        case when coalesce(ranked.last_name, '') <> '' then concat(left(ranked.last_name, 1), '.') end), '')
        as display_name,
    case when ranked.email is not null then sha2(concat(:pii_salt, ranked.email), 256) end as email_hash,
    case when ranked.email_well_formed
        then concat(left(ranked.email, 1), '***@', substring_index(ranked.email, '@', -1)) end as email_masked,
    case when ranked.email_well_formed then substring_index(ranked.email, '@', -1) end as email_domain,
    ranked.company as company,
    ranked.lifecycle_stage as lifecycle_stage,
    ranked.customer_id as customer_id,
    ranked.created_at as created_at,
    ranked.updated_at as updated_at,
    ranked.is_archived as is_archived,
    ranked._source_file as _source_file,
    ranked._line_number as _line_number,
    ranked.dt as dt
from ranked
where ranked.delivery_rank = 1
