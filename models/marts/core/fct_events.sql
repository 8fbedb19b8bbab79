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

with events as (

    select * from {{ ref('int_events_stitched_to_users') }}

),

device_claims as (

    select * from {{ ref('int_anonymous_ids_mapped_to_users') }}

),

user_ids_merged as (

    select * from {{ ref('int_user_ids_merged_by_alias') }}

),

-- Incremental runs take the events of the loads not processed yet (see
-- loaded_since_last_run), every event of a device whose claims changed since then, and
-- every event of a user id an alias merged since then: their stitching may change.
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
    {% if is_incremental() %}
        where
            {{ loaded_since_last_run('events.load_id', 'events.received_at', 'events.source') }}
            or events.anonymous_id in (
                select device_claims.anonymous_id from device_claims
                where
                    device_claims.claims_changed_received_at
                    >= {{ identifications_reprocess_from() }}
            )
            or events.source_user_id in (
                select user_ids_merged.previous_user_id from user_ids_merged
                where user_ids_merged.merged_received_at >= {{ identifications_reprocess_from() }}
            )
    {% endif %}

)

select * from final
