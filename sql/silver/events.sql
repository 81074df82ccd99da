-- silver.events: typed clickstream events, one row per event_id and day (the bus delivers at least once).
-- Events come from landed files and/or from Kafka (bronze.events_kafka, filed by event day); a repeat across
-- the two sources is a repeat like any other.
with delivered as (
    select
        fl.event_id, fl.event_ts, fl.event_type, fl.user_id, fl.session_id, fl.page, fl.value,
        fl._ingested_at, fl._source_file, fl._line_number, fl.dt
    from bronze_events_clickstream as fl
    union all
    select
        ka.event_id, ka.event_ts, ka.event_type, ka.user_id, ka.session_id, ka.page, ka.value,
        ka._ingested_at, ka._source_file, ka._line_number, ka.dt
    from bronze_events_kafka as ka
),

source as (
    select
        trim(ev.event_id) as event_id,
        trim(ev.user_id) as user_id,
        trim(ev.session_id) as session_id,
        regexp_replace(lower(trim(ev.event_type)), '[ -]', '_') as event_type,
        trim(ev.page) as page,
        try_cast(trim(ev.value) as decimal(18, 2)) as event_value,
        try_to_timestamp(trim(ev.event_ts)) as event_ts,
        ev._ingested_at as ingested_at,
        ev._source_file as _source_file,
        ev._line_number as _line_number,
        ev.dt as dt
    from delivered as ev
    where ev.dt between :start_dt and :end_dt
),

ranked as (
    select
        src.*,
        case
            when src.event_id is null then 1
            else row_number() over (
                partition by src.dt, src.event_id
                order by src.ingested_at asc, src._source_file asc, src._line_number asc
            )
        end as delivery_rank
    from source as src
)

select
    ranked.event_id as event_id,
    ranked.user_id as user_id,
    ranked.session_id as session_id,
    ranked.event_type as event_type,
    ranked.page as page,
    ranked.event_value as event_value,
    ranked.event_ts as event_ts,
    ranked._source_file as _source_file,
    ranked._line_number as _line_number,
    ranked.dt as dt,
    -- repeats of an event are quarantined by the first_delivery rule rather than silently dropped
    ranked.delivery_rank as __delivery_rank
from ranked
