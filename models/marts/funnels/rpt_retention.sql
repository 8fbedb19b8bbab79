with events as (

    select * from {{ ref('fct_events') }}

),

-- Product activity only: a plan change recorded in production is not the entity returning.
product_events as (

    select
        user_id,
        org_id,
        occurred_at
    from events
    where {{ is_tracked_event('source') }}

),

entity_events as (

    select
        'user' as entity_type,
        user_id as entity_id,
        occurred_at
    from product_events
    where user_id is not null
    union all
    select
        'org' as entity_type,
        org_id as entity_id,
        occurred_at
    from product_events
    where org_id is not null

),

data_end as (

    {{ data_end() }}

),

entity_weeks as (

    select distinct
        entity_type,
        entity_id,
        cast({{ dbt.date_trunc('week', 'occurred_at') }} as date) as active_week
    from entity_events

),

entities as (

    select
        entity_type,
        entity_id,
        min(active_week) as cohort_week,
        max(active_week) as last_active_week
    from entity_weeks
    group by entity_type, entity_id

),

cohorts as (

    select
        entity_type,
        cohort_week,
        count(*) as cohort_entities
    from entities
    group by entity_type, cohort_week

),

calendar_weeks as (

    select distinct active_week as calendar_week
    from entity_weeks

),

-- One cell per cohort and calendar week from the cohort's first week on.
cells as (

    select
        cohorts.entity_type,
        cohorts.cohort_week,
        cohorts.cohort_entities,
        calendar_weeks.calendar_week
    from cohorts
    inner join calendar_weeks
        on cohorts.cohort_week <= calendar_weeks.calendar_week

),

active_counts as (

    select
        entities.entity_type,
        entities.cohort_week,
        entity_weeks.active_week,
        count(*) as returned_entities
    from entity_weeks
    inner join entities
        on
            entity_weeks.entity_type = entities.entity_type
            and entity_weeks.entity_id = entities.entity_id
    group by entities.entity_type, entities.cohort_week, entity_weeks.active_week

),

last_active_counts as (

    select
        entity_type,
        cohort_week,
        last_active_week,
        count(*) as entities_last_active
    from entities
    group by entity_type, cohort_week, last_active_week

),

cells_counted as (

    select
        cells.entity_type,
        cells.cohort_week,
        cast(
            {{ dbt.datediff('cells.cohort_week', 'cells.calendar_week', 'week') }}
            as {{ dbt.type_int() }}
        ) as weeks_since_first_seen,
        cells.cohort_entities,
        coalesce(active_counts.returned_entities, 0) as returned_entities,
        -- Entities whose last active week is this one or later were active in week N or later.
        cast(
            sum(coalesce(last_active_counts.entities_last_active, 0)) over (
                partition by cells.entity_type, cells.cohort_week
                order by cells.calendar_week desc
                rows between unbounded preceding and current row
            ) as {{ dbt.type_bigint() }}
        ) as returned_or_later_entities,
        {{ dbt.dateadd('day', 7, 'cells.calendar_week') }}
        <= (select data_end.last_event_at from data_end) as is_complete
    from cells
    left join active_counts
        on
            cells.entity_type = active_counts.entity_type
            and cells.cohort_week = active_counts.cohort_week
            and cells.calendar_week = active_counts.active_week
    left join last_active_counts
        on
            cells.entity_type = last_active_counts.entity_type
            and cells.cohort_week = last_active_counts.cohort_week
            and cells.calendar_week = last_active_counts.last_active_week

),

final as (

    select
        entity_type,
        cohort_week,
        weeks_since_first_seen,
        cohort_entities,
        returned_entities,
        returned_or_later_entities,
        cast(1.0 * returned_entities / cohort_entities as {{ dbt.type_numeric() }})
            as returned_rate,
        cast(1.0 * returned_or_later_entities / cohort_entities as {{ dbt.type_numeric() }})
            as returned_or_later_rate,
        is_complete
    from cells_counted

)

select * from final
