with funnel_progress as (

    select * from {{ ref('fct_funnel_progress') }}

),

funnel_steps_reached as (

    select * from {{ ref('fct_funnel_steps') }}

),

funnel_steps as (

    {{ funnel_steps_spine() }}

),

cohort_entities as (

    select
        funnel_name,
        entity_id,
        cast({{ dbt.date_trunc('week', 'entered_at') }} as date) as cohort_week
    from funnel_progress

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
        funnel_name,
        entity_type,
        cohort_week,
        step_number,
        step_name,
        entities,
        cast(
            1.0 * entities / first_value(entities) over cohort_steps as {{ dbt.type_numeric() }}
        ) as conversion_from_start,
        cast(
            1.0 * entities / nullif(lag(entities) over cohort_steps, 0)
            as {{ dbt.type_numeric() }}
        ) as conversion_from_previous,
        median_seconds_from_previous
    from cohort_step_counts
    window cohort_steps as (partition by funnel_name, cohort_week order by step_number)

)

select * from final
