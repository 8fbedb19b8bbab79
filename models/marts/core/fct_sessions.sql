with sessionized_events as (

    select * from {{ ref('int_events_sessionized') }}

),

sessions as (

    select
        session_id,
        max(session_source) as source,
        max(user_id) as user_id,
        max(anonymous_id) as anonymous_id,
        count(distinct org_id) as org_count,
        max(org_id) as any_org_id,
        min(occurred_at) as started_at,
        max(occurred_at) as ended_at,
        count(*) as event_count
    from sessionized_events
    group by session_id

),

-- A session's org is the one its events name; none when they name several (or none).
final as (

    select
        session_id,
        source,
        user_id,
        anonymous_id,
        case when org_count = 1 then any_org_id end as org_id,
        started_at,
        ended_at,
        cast(
            {{ dbt.datediff('started_at', 'ended_at', 'second') }} as {{ dbt.type_bigint() }}
        ) as duration_seconds,
        event_count
    from sessions

)

select * from final
