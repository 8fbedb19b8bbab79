with steps_reached as (

    select * from {{ ref('int_funnel_steps_reached') }}

),

funnel_windows as (

    {{ funnel_windows() }}

),

data_end as (

    {{ data_end() }}

),

final as (

    select
        steps_reached.funnel_name,
        steps_reached.entity_type,
        steps_reached.entity_id,
        steps_reached.entered_at,
        steps_reached.furthest_step,
        steps_reached.furthest_step = funnel_windows.step_count as converted,
        -- The window of the first attempt has closed before the latest event: later events
        -- can no longer change how far the entity got. (A scalar subquery, computed once:
        -- joined, the planner may rescan the events once per entity.)
        coalesce(
            {{ dbt.dateadd('second', 'funnel_windows.window_seconds', 'steps_reached.entered_at') }}
            <= (select data_end.last_event_at from data_end),
            false
        ) as is_window_complete
    from steps_reached
    inner join funnel_windows
        on steps_reached.funnel_name = funnel_windows.funnel_name
    where steps_reached.step_number = 1

)

select * from final
