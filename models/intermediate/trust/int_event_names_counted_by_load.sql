{{ config(
    materialized='incremental',
    unique_key=['source', 'load_id'],
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    indexes=[
        {'columns': ['source', 'load_id']},
        {'columns': ['source', 'received_at']},
    ],
) }}

with plan_names as (

    select * from {{ ref('tracking_plan_event_names') }}

),

-- The tracking plan the counts are named by: under another plan every load is counted again.
tracking_plan as (

    select
        {{ dbt.hash(dbt.listagg(
            dbt.concat(['plan_names.source_event_name', "'='", 'plan_names.event_name']),
            "'|'",
            'order by plan_names.source_event_name',
        )) }} as plan_hash
    from plan_names

),

{% if is_incremental() %}

    -- A load with a row not counted yet (see loaded_since_last_run) is counted again whole.
    loads_to_count as (

        select distinct
            tracked_events.source,
            coalesce(tracked_events.load_id, '') as load_id
        from {{ ref('int_events_unioned') }} as tracked_events
        where
            tracked_events.source in ('segment', 'amplitude')
            and {{ loaded_since_last_run(
                'tracked_events.load_id', 'tracked_events.received_at', 'tracked_events.source'
            ) }}
        union
        select distinct
            tracked_events.source,
            coalesce(tracked_events.load_id, '') as load_id
        from {{ ref('int_events_unioned') }} as tracked_events
        where
            tracked_events.source in ('segment', 'amplitude')
            and (select tracking_plan.plan_hash from tracking_plan)
            != (select max(previous_counts.plan_hash) from {{ this }} as previous_counts)

    ),

{% endif %}

-- The tracked sources' rows are each loaded once and never replaced, so counts add up over
-- loads; production's rows are replaced when a change is corrected: the catalog counts them
-- whole.
counted as (

    select
        tracked_events.source,
        coalesce(tracked_events.load_id, '') as load_id,
        tracked_events.source_event_name,
        tracked_events.event_name,
        tracked_events.is_planned,
        count(distinct tracked_events.event_id) as events,
        min(tracked_events.occurred_at) as first_seen_at,
        max(tracked_events.occurred_at) as last_seen_at,
        max(tracked_events.received_at) as received_at,
        (select tracking_plan.plan_hash from tracking_plan) as plan_hash
    from {{ ref('int_events_unioned') }} as tracked_events
    {% if is_incremental() %}
        inner join loads_to_count
            on
                tracked_events.source = loads_to_count.source
                and coalesce(tracked_events.load_id, '') = loads_to_count.load_id
    {% endif %}
    where tracked_events.source in ('segment', 'amplitude')
    group by
        tracked_events.source,
        coalesce(tracked_events.load_id, ''),
        tracked_events.source_event_name,
        tracked_events.event_name,
        tracked_events.is_planned

),

final as (

    select * from counted

)

select * from final
