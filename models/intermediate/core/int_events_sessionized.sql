{{ config(
    materialized='incremental',
    unique_key='event_id',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    indexes=[
        {'columns': ['event_id'], 'unique': true},
        {'columns': ['session_owner_id']},
        {'columns': ['source', 'received_at']},
    ],
) }}

with events as (

    select * from {{ ref('int_events_stitched_to_users') }}

),

amplitude_events as (

    select * from {{ ref('stg_amplitude__events') }}

),

device_claims as (

    select * from {{ ref('int_anonymous_ids_mapped_to_users') }}

),

user_ids_merged as (

    select * from {{ ref('int_user_ids_merged_by_alias') }}

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

-- Production-derived events are not product activity and open no session. An event belongs
-- to its stitched user, or to its device while the user is unknown: its session owner.
owned_events as (

    select
        events.event_id,
        events.source,
        events.received_at,
        events.occurred_at,
        events.user_id,
        events.anonymous_id,
        events.org_id,
        coalesce(
            events.user_id, {{ dbt.concat(["'anonymous:'", 'events.anonymous_id']) }}
        ) as session_owner_id,
        amplitude_sessions.device_id as amplitude_device_id,
        amplitude_sessions.amplitude_session_id
    from events
    left join amplitude_sessions
        on events.event_id = amplitude_sessions.event_id
    where
        {{ is_tracked_event('events.source') }}
        and coalesce(events.user_id, events.anonymous_id) is not null

),

{% if is_incremental() %}
    -- An incremental run re-sessionizes every event of each owner whose events changed: the
    -- owners, now and before, of the events whose stitching may have changed, and of those
    -- whose Amplitude copy (with its session) arrived since the last run. Sessions are
    -- computed per owner, so an owner's whole history gives them exactly.
    changed_events as (

        select events.event_id from events
        where {{ stitching_changed_since_last_run('events', 'device_claims', 'user_ids_merged') }}
        union
        select coalesce(amplitude_events.insert_id, amplitude_events.event_uuid)
        from amplitude_events
        where
            amplitude_events.received_at
            >= {{ reprocess_from("where source = 'amplitude'") }}

    ),

    changed_owners as (

        select owned_events.session_owner_id from owned_events
        where owned_events.event_id in (select changed_events.event_id from changed_events)
        union
        select previous.session_owner_id from {{ this }} as previous
        where previous.event_id in (select changed_events.event_id from changed_events)

    ),
{% endif %}

tracked_events as (

    select * from owned_events
    {% if is_incremental() %}
        where session_owner_id in (select changed_owners.session_owner_id from changed_owners)
    {% endif %}

),

-- Every other event's session starts with its owner's first such event or after a silence
-- longer than the var analytics__session_inactivity_minutes.
gap_events as (

    select
        event_id,
        occurred_at,
        session_owner_id,
        lag(occurred_at) over (
            partition by session_owner_id
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
        tracked_events.org_id,
        tracked_events.session_owner_id,
        tracked_events.source,
        tracked_events.received_at
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
        tracked_events.org_id,
        tracked_events.session_owner_id,
        tracked_events.source,
        tracked_events.received_at
    from tracked_events
    inner join gap_sessions
        on tracked_events.event_id = gap_sessions.event_id

),

final as (

    select * from sessionized

)

select * from final
