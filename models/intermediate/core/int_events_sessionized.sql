-- depends_on: {{ ref('int_events_deduplicated') }}
-- depends_on: {{ ref('int_anonymous_ids_mapped_to_users') }}
-- depends_on: {{ ref('int_user_ids_merged_by_alias') }}
{{ config(
    materialized='incremental',
    unique_key='event_id',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    meta={'read_back_columns': ['session_owner_id', 'source', 'load_id', 'received_at']},
    indexes=[
        {'columns': ['event_id'], 'unique': true},
        {'columns': ['session_owner_id']},
        {'columns': ['source', 'load_id']},
        {'columns': ['source', 'received_at']},
    ],
) }}

with

{% if is_incremental() %}

    -- The events whose session may differ from the last run's: those whose stitching may
    -- have (macro is_event_to_restitch, as fct_events takes them), plus the events an
    -- Amplitude copy loaded since then places in a session (the Segment copy kept, its load
    -- an old one). Each relation is read where it is used, so PostgreSQL filters it through
    -- its indexes.
    changed_events as (

        select deduplicated.event_id
        from {{ ref('int_events_deduplicated') }} as deduplicated
        where
            {{ is_event_to_restitch() }}
            or deduplicated.event_id in (
                select coalesce(amplitude_copies.insert_id, amplitude_copies.event_uuid)
                from {{ ref('stg_amplitude__events') }} as amplitude_copies
                where
                    amplitude_copies.session_id is not null
                    and amplitude_copies.session_id != -1
                    and amplitude_copies.device_id is not null
                    and {{ loaded_since_last_run_of_source(
                        'amplitude_copies.load_id', 'amplitude_copies.received_at', 'amplitude'
                    ) }}
            )

    ),

    -- The changed events as they are now, looked up by id.
    events as (

        select * from {{ ref('int_events_stitched_to_users') }}
        where {{ is_one_of('event_id', 'select changed_events.event_id from changed_events') }}

    ),

    -- Their Amplitude copies.
    session_copies as (

        select * from {{ ref('stg_amplitude__events') }}
        where
            coalesce(insert_id, event_uuid)
            in (select changed_events.event_id from changed_events)

    ),

{% else %}

    events as (

        select * from {{ ref('int_events_stitched_to_users') }}

    ),

    session_copies as (

        select * from {{ ref('stg_amplitude__events') }}

    ),

{% endif %}

-- Amplitude's own session of an event, from any Amplitude copy of it (a Segment event
-- forwarded to Amplitude keeps its Segment copy, but its Amplitude copy has the session).
-- `session_id` -1 marks an event outside any session.
amplitude_sessions as (

    select
        coalesce(session_copies.insert_id, session_copies.event_uuid) as event_id,
        max(session_copies.device_id) as device_id,
        {{ dbt.concat([
            'max(session_copies.device_id)',
            "':'",
            dbt.cast('max(session_copies.session_id)', dbt.type_string()),
        ]) }} as session_id
    from session_copies
    where
        session_copies.session_id is not null
        and session_copies.session_id != -1
        and session_copies.device_id is not null
    group by coalesce(session_copies.insert_id, session_copies.event_uuid)

),

-- Production-derived events are not product activity and open no session. Each event's
-- session owner: its Amplitude session, else its stitched user, else its device while the
-- user is unknown.
tracked_events as (

    select
        events.event_id,
        events.source,
        events.load_id,
        events.received_at,
        events.occurred_at,
        events.user_id,
        coalesce(amplitude_sessions.device_id, events.anonymous_id) as anonymous_id,
        events.org_id,
        case
            when amplitude_sessions.session_id is not null then 'amplitude' else 'segment'
        end as session_source,
        coalesce(
            amplitude_sessions.session_id,
            events.user_id,
            {{ dbt.concat(["'anonymous:'", 'events.anonymous_id']) }}
        ) as session_owner_id
    from events
    left join amplitude_sessions
        on events.event_id = amplitude_sessions.event_id
    where
        {{ is_tracked_event('events.source') }}
        and coalesce(events.user_id, events.anonymous_id) is not null

),

{% if is_incremental() %}

    -- An incremental run sessionizes again every event of an owner one of the changed
    -- events has now or had at the last run: the changed events as they are now, the
    -- owner's other events as the last run left them.
    touched_owners as (

        select tracked_events.session_owner_id
        from tracked_events
        union
        select previous_sessions.session_owner_id
        from {{ this }} as previous_sessions
        where {{ is_one_of(
            'previous_sessions.event_id', 'select changed_events.event_id from changed_events'
        ) }}

    ),

    events_to_sessionize as (

        select * from tracked_events
        union all
        select
            previous_sessions.event_id,
            previous_sessions.source,
            previous_sessions.load_id,
            previous_sessions.received_at,
            previous_sessions.occurred_at,
            previous_sessions.user_id,
            previous_sessions.anonymous_id,
            previous_sessions.org_id,
            previous_sessions.session_source,
            previous_sessions.session_owner_id
        from {{ this }} as previous_sessions
        where
            {{ is_one_of(
                'previous_sessions.session_owner_id',
                'select touched_owners.session_owner_id from touched_owners',
            ) }}
            and not exists (
                select 1 from changed_events
                where changed_events.event_id = previous_sessions.event_id
            )

    ),

{% else %}

    events_to_sessionize as (

        select * from tracked_events

    ),

{% endif %}

-- A gap session starts with an owner's first event or after a silence longer than the var
-- analytics__session_inactivity_minutes.
gap_events as (

    select
        event_id,
        occurred_at,
        session_owner_id,
        lag(occurred_at) over (
            partition by session_owner_id order by occurred_at, event_id
        ) as previous_occurred_at
    from events_to_sessionize
    where session_source = 'segment'

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
        events_to_sessionize.event_id,
        events_to_sessionize.session_source,
        case
            when events_to_sessionize.session_source = 'amplitude'
                then events_to_sessionize.session_owner_id
            else {{ dbt.hash(dbt.concat([
                'gap_sessions.session_owner_id',
                "'-'",
                dbt.cast('gap_sessions.session_number', dbt.type_string()),
            ])) }}
        end as session_id,
        events_to_sessionize.occurred_at,
        events_to_sessionize.user_id,
        events_to_sessionize.anonymous_id,
        events_to_sessionize.org_id,
        events_to_sessionize.session_owner_id,
        events_to_sessionize.source,
        events_to_sessionize.load_id,
        events_to_sessionize.received_at
    from events_to_sessionize
    left join gap_sessions
        on events_to_sessionize.event_id = gap_sessions.event_id

),

final as (

    select * from sessionized
    {% if is_incremental() %}
        -- Only the rows that differ from the last run's are written back (most of a touched
        -- owner's events keep their session): writing every one through the table's indexes
        -- cost more than sessionizing them.
        where not exists (
                select 1 from {{ this }} as previous_sessions
                where
                    previous_sessions.event_id = sessionized.event_id
                    and previous_sessions.session_id = sessionized.session_id
                    and previous_sessions.session_source = sessionized.session_source
                    and previous_sessions.session_owner_id = sessionized.session_owner_id
                    and previous_sessions.source = sessionized.source
                    and previous_sessions.occurred_at is not distinct from sessionized.occurred_at
                    and previous_sessions.user_id is not distinct from sessionized.user_id
                    and previous_sessions.anonymous_id is not distinct from sessionized.anonymous_id
                    and previous_sessions.org_id is not distinct from sessionized.org_id
                    and previous_sessions.load_id is not distinct from sessionized.load_id
                    and previous_sessions.received_at is not distinct from sessionized.received_at
            )
    {% endif %}

)

select * from final
