with steps_reached as (

    select * from {{ ref('int_funnel_steps_reached') }}

),

funnel_steps as (

    {{ funnel_steps_spine() }}

),

funnel_lengths as (

    select
        funnel_name,
        max(step_number) as step_count
    from funnel_steps
    group by funnel_name

),

final as (

    select
        steps_reached.funnel_name,
        steps_reached.entity_type,
        steps_reached.entity_id,
        steps_reached.entered_at,
        steps_reached.furthest_step,
        steps_reached.furthest_step = funnel_lengths.step_count as converted
    from steps_reached
    inner join funnel_lengths
        on steps_reached.funnel_name = funnel_lengths.funnel_name
    where steps_reached.step_number = 1

)

select * from final
