{{ config(
    materialized='incremental',
    unique_key='event_id',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
) }}

{%- set reprocess_loaded_from = dbt.dateadd(
    'day',
    '-' ~ var('analytics__lookback_days'),
    "coalesce(max(loaded_at), cast('1970-01-01 00:00:00+00' as timestamptz))",
) %}

with events as (

    select * from {{ ref('int_events_stitched_to_users') }}

),

-- Incremental runs take rows by when they were loaded, not when they happened: a Segment
-- file days late still has a new `loaded_at`. The lookback (var analytics__lookback_days)
-- also catches a load that committed after a later one.
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
        events.loaded_at
    from events
    {% if is_incremental() %}
        where events.loaded_at >= (select {{ reprocess_loaded_from }} from {{ this }})
    {% endif %}

)

select * from final
