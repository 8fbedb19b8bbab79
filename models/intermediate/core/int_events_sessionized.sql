with events as (

    select * from {{ ref('int_events_stitched_to_users') }}

),

-- Sessions belong to the stitched user, or to the device while the user is unknown.
-- Production-derived events are not product activity and open no session.
events_with_previous as (

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
    from events
    where source != 'production' and coalesce(user_id, anonymous_id) is not null

),

-- A session starts with an owner's first event or after a silence longer than the var
-- analytics__session_inactivity_minutes.
session_starts as (

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
    from events_with_previous

),

numbered as (

    select
        event_id,
        occurred_at,
        session_owner_id,
        is_session_start,
        sum(case when is_session_start then 1 else 0 end) over (
            partition by session_owner_id
            order by occurred_at, event_id
            rows between unbounded preceding and current row
        ) as session_number
    from session_starts

),

final as (

    select
        event_id,
        session_owner_id,
        session_number,
        {{ dbt.hash(dbt.concat([
            'session_owner_id', "'-'", dbt.cast('session_number', dbt.type_string())
        ])) }} as session_id,
        is_session_start,
        occurred_at
    from numbered

)

select * from final
