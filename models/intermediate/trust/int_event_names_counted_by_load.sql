{{ config(
    materialized='incremental',
    unique_key=['source', 'load_id'],
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    indexes=[
        {'columns': ['source', 'load_id']},
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

    -- The loads counted before under this tracking plan: a run counts every other load, whole
    -- (a load dlt committed late, however old its rows, included), and the rows without a load
    -- id again (new ones join them). Under another plan no load counts as counted.
    counted_loads as (

        select distinct
            previous_counts.source,
            previous_counts.load_id
        from {{ this }} as previous_counts
        where
            previous_counts.load_id != ''
            and previous_counts.plan_hash = (select tracking_plan.plan_hash from tracking_plan)

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
    where
        tracked_events.source in ('segment', 'amplitude')
        {% if is_incremental() %}
            -- `not in` over the few counted loads: PostgreSQL hashes them and filters each row
            -- as it reads it (a join sorted every raw row).
            and (tracked_events.source, coalesce(tracked_events.load_id, '')) not in (
                select
                    counted_loads.source,
                    counted_loads.load_id
                from counted_loads
            )
        {% endif %}
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
