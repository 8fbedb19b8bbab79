with steps_reached as (

    select * from {{ ref('int_funnel_steps_reached') }}

),

final as (

    select
        funnel_name,
        entity_type,
        entity_id,
        step_number,
        step_name,
        reached_at
    from steps_reached

)

select * from final
