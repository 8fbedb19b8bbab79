{{ config(
    materialized='incremental',
    unique_key='event_id',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    indexes=[
        {'columns': ['event_id'], 'unique': true},
        {'columns': ['source', 'received_at']},
        {'columns': ['source', 'load_id']},
    ],
) }}

with events as (

    select * from {{ ref('int_events_unioned') }}

),

{% if is_incremental() %}
    newly_received_events as (

        select * from {{ ref('int_events_unioned') }}
        where {{ loaded_since_last_run('load_id', 'received_at', 'source') }}

    ),
{% endif %}

-- An incremental run re-ranks only the events with a copy in a load it has not processed
-- (see loaded_since_last_run), against every copy of them, old ones included.
events_to_rank as (

    select
        event_id,
        source,
        event_name,
        source_event_name,
        is_planned,
        occurred_at,
        received_at,
        load_id,
        user_id,
        anonymous_id,
        org_id,
        properties
    from events
    {% if is_incremental() %}
        where event_id in (select newly_received_events.event_id from newly_received_events)
    {% endif %}

),

-- One row per event_id. Within a source, a message delivered twice keeps its first
-- receipt. Across sources, an event Segment forwarded to Amplitude ($insert_id =
-- messageId) keeps the Segment copy, the one sent by the tracking code itself.
ranked as (

    select
        *,
        row_number() over (
            partition by event_id
            order by
                case source when 'segment' then 1 when 'amplitude' then 2 else 3 end,
                received_at
        ) as copy_number
    from events_to_rank

),

final as (

    select
        event_id,
        source,
        event_name,
        source_event_name,
        is_planned,
        occurred_at,
        received_at,
        load_id,
        user_id,
        anonymous_id,
        org_id,
        properties
    from ranked
    where copy_number = 1

)

select * from final
