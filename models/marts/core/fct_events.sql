{{ config(
    materialized='incremental',
    unique_key='event_id',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    indexes=[
        {'columns': ['event_id'], 'unique': true},
        {'columns': ['source', 'received_at']},
    ],
) }}

with events as (

    select * from {{ ref('int_events_stitched_to_users') }}

),

device_claims as (

    select * from {{ ref('int_anonymous_ids_mapped_to_users') }}

),

user_ids_merged as (

    select * from {{ ref('int_user_ids_merged_by_alias') }}

),

-- An incremental run takes the events whose stitching may have changed since the last run
-- (see stitching_changed_since_last_run).
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
        events.received_at
    from events
    {% if is_incremental() %}
        where {{ stitching_changed_since_last_run('events', 'device_claims', 'user_ids_merged') }}
    {% endif %}

)

select * from final
