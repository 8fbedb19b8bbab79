{#-
    The funnel engine. For each funnel, scan each entity's moments (its distinct event
    timestamps) in time order, keeping per step k the latest-starting attempt that has reached
    step k so far: a later start leaves the most of the window, so it is the only attempt
    worth extending (see `funnel_step_reached`). The model description states the semantics
    and the cost.
-#}
{%- set funnels = funnel_definitions() %}

with step_events as (

    select * from {{ ref('int_funnel_events_matched_to_steps') }}

),

funnel_steps as (

    {{ funnel_steps_spine() }}

),

{% for funnel in funnels %}
    {%- set f = 'funnel_' ~ loop.index %}
    {%- set step_count = funnel.steps | length %}

    -- {{ funnel.name }}: one row per entity x moment, counting its events per step.
    {{ f }}_moments as (

        select
            entity_id,
            occurred_at,
            {%- for step in funnel.steps %}
                sum(case when step_number = {{ loop.index }} then 1 else 0 end)
                    as step_{{ loop.index }}_events,
            {%- endfor %}
            row_number() over (partition by entity_id order by occurred_at) as moment_number
        from step_events
        where funnel_name = {{ funnel_literal(funnel.name) }}
        group by entity_id, occurred_at

    ),

    {{ f }}_scan_1 as (

        select
            *,
            {{ funnel_step_reached(funnel, 1, 'start') }} as step_1_start,
            {{ funnel_step_reached(funnel, 1, 'path') }} as step_1_path
        from {{ f }}_moments

    ),

    {% for step_number in range(2, step_count + 1) %}
        {%- set previous = step_number - 1 %}

        {{ f }}_before_{{ previous }} as (

            select
                *,
                max(step_{{ previous }}_start) over moments_before
                    as step_{{ previous }}_start_before,
                max(step_{{ previous }}_path) over moments_before
                    as step_{{ previous }}_path_before
            from {{ f }}_scan_{{ previous }}
            window moments_before as (
                partition by entity_id
                order by moment_number
                rows between unbounded preceding and 1 preceding
            )

        ),

        {{ f }}_scan_{{ step_number }} as (

            select
                *,
                {{ funnel_step_reached(funnel, step_number, 'start') }}
                    as step_{{ step_number }}_start,
                {{ funnel_step_reached(funnel, step_number, 'path') }}
                    as step_{{ step_number }}_path
            from {{ f }}_before_{{ previous }}

        ),

    {% endfor %}

    -- The furthest step reached at each moment before its path, so one max picks the
    -- entity's furthest step, then the best attempt to it.
    {{ f }}_entities as (

        select
            entity_id,
            min(case when step_1_events >= 1 then occurred_at end) as entered_at,
            max(
                case
                    {%- for step_number in range(step_count, 0, -1) %}
                        when step_{{ step_number }}_start is not null
                            then '{{ "%02d" % step_number }}' || step_{{ step_number }}_path
                    {%- endfor %}
                end
            ) as furthest_step_and_path
        from {{ f }}_scan_{{ step_count }}
        group by entity_id
        having max(step_1_events) >= 1

    ),

    {{ f }}_steps as (

        select
            funnel_steps.funnel_name,
            funnel_steps.entity_type,
            entities.entity_id,
            entities.entered_at,
            cast(substr(entities.furthest_step_and_path, 1, 2) as {{ dbt.type_int() }})
                as furthest_step,
            funnel_steps.step_number,
            funnel_steps.step_name,
            moments.occurred_at as reached_at
        from {{ f }}_entities as entities
        inner join funnel_steps
            on
                funnel_steps.funnel_name = {{ funnel_literal(funnel.name) }}
                and funnel_steps.step_number
                <= cast(substr(entities.furthest_step_and_path, 1, 2) as {{ dbt.type_int() }})
        inner join {{ f }}_moments as moments
            on
                entities.entity_id = moments.entity_id
                and moments.moment_number = {{ funnel_path_moment(
                    'substr(entities.furthest_step_and_path, 3)', 'funnel_steps.step_number'
                ) }}

    ),

{% endfor %}

final as (

    {%- for funnel in funnels %}
        select * from funnel_{{ loop.index }}_steps
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}

)

select * from final
