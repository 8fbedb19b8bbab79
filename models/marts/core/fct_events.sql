-- depends_on: {{ ref('int_events_deduplicated') }}
-- depends_on: {{ ref('int_anonymous_ids_mapped_to_users') }}
-- depends_on: {{ ref('int_user_ids_merged_by_alias') }}
{{ config(
    materialized='incremental',
    unique_key='event_id',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    indexes=[
        {'columns': ['event_id'], 'unique': true},
        {'columns': ['source', 'received_at']},
        {'columns': ['source', 'load_id']},
        {'columns': ['occurred_at']},
        {'columns': ['org_id', 'occurred_at']},
    ],
) }}

with

{% if is_incremental() %}

    -- Incremental runs take the events of the loads not processed yet, every event of a
    -- device whose claims changed since then, and every event of a user id an alias merged
    -- since then (macro is_event_to_restitch), looked up by id.
    events_to_restitch as (

        select deduplicated.event_id
        from {{ ref('int_events_deduplicated') }} as deduplicated
        where {{ is_event_to_restitch() }}

    ),

    events as (

        select * from {{ ref('int_events_stitched_to_users') }}
        where {{ is_one_of(
            'event_id', 'select events_to_restitch.event_id from events_to_restitch'
        ) }}

    ),

{% else %}

    events as (

        select * from {{ ref('int_events_stitched_to_users') }}

    ),

{% endif %}

final as (

    select
        events.event_id,
        events.event_name,
        events.source_event_name,
        events.source,
        events.occurred_at,
        events.user_id,
        events.anonymous_id,
        events.org_id,
        events.properties,
        events.is_planned,
        events.received_at,
        events.load_id
    from events

)

select * from final
