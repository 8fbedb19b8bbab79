with funnel_progress as (

    select * from {{ ref('fct_funnel_progress') }}

),

funnel_steps_reached as (

    select * from {{ ref('fct_funnel_steps') }}

),

funnel_steps as (

    {{ funnel_steps_spine() }}

),

funnel_windows as (

    {{ funnel_windows() }}

),

data_end as (

    {{ data_end() }}

),

cohort_entities as (

    select
        funnel_name,
        entity_id,
        cast({{ dbt.date_trunc('week', 'entered_at') }} as date) as cohort_week
    from funnel_progress

),

-- A cohort is complete once its week is over and the last entrant's window has closed
-- before the latest event: its counts can no longer grow.
cohort_completeness as (

    select distinct
        cohort_entities.funnel_name,
        cohort_entities.cohort_week,
        coalesce(
            {{ dbt.dateadd(
                'second', 'funnel_windows.window_seconds',
                dbt.dateadd('day', 7, 'cohort_entities.cohort_week')
            ) }} <= (select data_end.last_event_at from data_end),
            false
        ) as is_complete
    from cohort_entities
    inner join funnel_windows
        on cohort_entities.funnel_name = funnel_windows.funnel_name

),

steps_with_previous as (

    select
        funnel_steps_reached.funnel_name,
        cohort_entities.cohort_week,
        funnel_steps_reached.step_number,
        funnel_steps_reached.reached_at,
        lag(funnel_steps_reached.reached_at) over (
            partition by funnel_steps_reached.funnel_name, funnel_steps_reached.entity_id
            order by funnel_steps_reached.step_number
        ) as previous_step_reached_at
    from funnel_steps_reached
    inner join cohort_entities
        on
            funnel_steps_reached.funnel_name = cohort_entities.funnel_name
            and funnel_steps_reached.entity_id = cohort_entities.entity_id

),

step_counts as (

    select
        funnel_name,
        cohort_week,
        step_number,
        count(*) as entities,
        percentile_cont(0.5) within group (
            order by {{ dbt.datediff('previous_step_reached_at', 'reached_at', 'second') }}
        ) as median_seconds_from_previous
    from steps_with_previous
    group by funnel_name, cohort_week, step_number

),

-- Every step for every cohort, so a step nobody reached shows 0 entities.
cohort_steps as (

    select distinct
        funnel_steps.funnel_name,
        funnel_steps.entity_type,
        cohort_entities.cohort_week,
        funnel_steps.step_number,
        funnel_steps.step_name
    from funnel_steps
    inner join cohort_entities
        on funnel_steps.funnel_name = cohort_entities.funnel_name

),

cohort_step_counts as (

    select
        cohort_steps.funnel_name,
        cohort_steps.entity_type,
        cohort_steps.cohort_week,
        cohort_steps.step_number,
        cohort_steps.step_name,
        coalesce(step_counts.entities, 0) as entities,
        step_counts.median_seconds_from_previous
    from cohort_steps
    left join step_counts
        on
            cohort_steps.funnel_name = step_counts.funnel_name
            and cohort_steps.cohort_week = step_counts.cohort_week
            and cohort_steps.step_number = step_counts.step_number

),

final as (

    select
        cohort_step_counts.funnel_name,
        cohort_step_counts.entity_type,
        cohort_step_counts.cohort_week,
        cohort_step_counts.step_number,
        cohort_step_counts.step_name,
        cohort_step_counts.entities,
        cast(
            1.0 * cohort_step_counts.entities
            / first_value(cohort_step_counts.entities) over cohort_steps
            as {{ dbt.type_numeric() }}
        ) as conversion_from_start,
        cast(
            1.0 * cohort_step_counts.entities
            / nullif(lag(cohort_step_counts.entities) over cohort_steps, 0)
            as {{ dbt.type_numeric() }}
        ) as conversion_from_previous,
        cohort_step_counts.median_seconds_from_previous,
        cohort_completeness.is_complete
    from cohort_step_counts
    inner join cohort_completeness
        on
            cohort_step_counts.funnel_name = cohort_completeness.funnel_name
            and cohort_step_counts.cohort_week = cohort_completeness.cohort_week
    window cohort_steps as (
        partition by cohort_step_counts.funnel_name, cohort_step_counts.cohort_week
        order by cohort_step_counts.step_number
    )

)

select * from final
