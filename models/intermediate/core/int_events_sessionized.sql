with events as (

    select * from {{ ref('int_events_stitched_to_users') }}

),

amplitude_events as (

    select * from {{ ref('stg_amplitude__events') }}

),

-- Amplitude's own session of an event, from any Amplitude copy of it (a Segment event
-- forwarded to Amplitude keeps its Segment copy, but its Amplitude copy has the session).
-- `session_id` -1 marks an event outside any session.
amplitude_sessions as (

    select
        coalesce(insert_id, event_uuid) as event_id,
        max(device_id) as device_id,
        max(session_id) as amplitude_session_id
    from amplitude_events
    where session_id is not null and session_id != -1 and device_id is not null
    group by coalesce(insert_id, event_uuid)

),

-- Production-derived events are not product activity and open no session.
tracked_events as (

    select
        events.event_id,
        events.occurred_at,
        events.user_id,
        events.anonymous_id,
        events.org_id,
        amplitude_sessions.device_id as amplitude_device_id,
        amplitude_sessions.amplitude_session_id
    from events
    left join amplitude_sessions
        on events.event_id = amplitude_sessions.event_id
    where
        {{ is_tracked_event('events.source') }}
        and coalesce(events.user_id, events.anonymous_id) is not null

),

-- Every other event belongs to its stitched user, or to its device while the user is
-- unknown, and a session starts with an owner's first such event or after a silence longer
-- than the var analytics__session_inactivity_minutes.
gap_events as (

    select
        event_id,
        occurred_at,
        coalesce(
            user_id, {{ dbt.concat(["'anonymous:'", 'anonymous_id']) }}
        ) as session_owner_id,
        lag(occurred_at) over (
            partition by coalesce(user_id, {{ dbt.concat(["'anonymous:'", 'anonymous_id']) }})
            order by occurred_at, event_id
        ) as previous_occurred_at
    from tracked_events
    where amplitude_session_id is null

),

gap_session_starts as (

    select
        event_id,
        occurred_at,
        session_owner_id,
        previous_occurred_at is null
        or occurred_at > {{ dbt.dateadd(
            'minute',
            var('analytics__session_inactivity_minutes'),
            'previous_occurred_at',
        ) }} as is_session_start
    from gap_events

),

gap_sessions as (

    select
        event_id,
        session_owner_id,
        sum(case when is_session_start then 1 else 0 end) over (
            partition by session_owner_id
            order by occurred_at, event_id
            rows between unbounded preceding and current row
        ) as session_number
    from gap_session_starts

),

sessionized as (

    select
        tracked_events.event_id,
        'amplitude' as session_source,
        {{ dbt.concat([
            'tracked_events.amplitude_device_id',
            "':'",
            dbt.cast('tracked_events.amplitude_session_id', dbt.type_string()),
        ]) }} as session_id,
        tracked_events.occurred_at,
        tracked_events.user_id,
        tracked_events.amplitude_device_id as anonymous_id,
        tracked_events.org_id
    from tracked_events
    where tracked_events.amplitude_session_id is not null
    union all
    select
        tracked_events.event_id,
        'segment' as session_source,
        {{ dbt.hash(dbt.concat([
            'gap_sessions.session_owner_id',
            "'-'",
            dbt.cast('gap_sessions.session_number', dbt.type_string()),
        ])) }} as session_id,
        tracked_events.occurred_at,
        tracked_events.user_id,
        tracked_events.anonymous_id,
        tracked_events.org_id
    from tracked_events
    inner join gap_sessions
        on tracked_events.event_id = gap_sessions.event_id

),

final as (

    select * from sessionized

)

select * from final
