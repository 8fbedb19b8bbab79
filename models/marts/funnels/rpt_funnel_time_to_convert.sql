with funnel_steps_reached as (

    select * from {{ ref('fct_funnel_steps') }}

),

funnel_steps as (

    {{ funnel_steps_spine() }}

),

seconds_from_start as (

    select
        funnel_steps_reached.funnel_name,
        funnel_steps_reached.step_number,
        {{ dbt.datediff('entry.reached_at', 'funnel_steps_reached.reached_at', 'second') }}
            as seconds_from_step_1
    from funnel_steps_reached
    inner join funnel_steps_reached as entry
        on
            funnel_steps_reached.funnel_name = entry.funnel_name
            and funnel_steps_reached.entity_id = entry.entity_id
            and entry.step_number = 1

),

step_percentiles as (

    select
        funnel_name,
        step_number,
        count(*) as entities,
        percentile_cont(0.25) within group (order by seconds_from_step_1) as p25_seconds,
        percentile_cont(0.5) within group (order by seconds_from_step_1) as p50_seconds,
        percentile_cont(0.75) within group (order by seconds_from_step_1) as p75_seconds,
        percentile_cont(0.9) within group (order by seconds_from_step_1) as p90_seconds
    from seconds_from_start
    group by funnel_name, step_number

),

-- Every step of every funnel, so a step nobody reached shows 0 entities.
final as (

    select
        funnel_steps.funnel_name,
        funnel_steps.entity_type,
        funnel_steps.step_number,
        funnel_steps.step_name,
        cast(coalesce(step_percentiles.entities, 0) as {{ dbt.type_bigint() }}) as entities,
        cast(step_percentiles.p25_seconds as {{ dbt.type_float() }}) as p25_seconds,
        cast(step_percentiles.p50_seconds as {{ dbt.type_float() }}) as p50_seconds,
        cast(step_percentiles.p75_seconds as {{ dbt.type_float() }}) as p75_seconds,
        cast(step_percentiles.p90_seconds as {{ dbt.type_float() }}) as p90_seconds
    from funnel_steps
    left join step_percentiles
        on
            funnel_steps.funnel_name = step_percentiles.funnel_name
            and funnel_steps.step_number = step_percentiles.step_number

)

select * from final
