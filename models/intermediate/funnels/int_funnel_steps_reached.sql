{#-
    The funnel engine. For each funnel and entity, scan the entity's moments (its distinct
    event timestamps) in time order, keeping per step k the latest-starting attempt that has
    reached step k so far: a later start leaves the most of the window, so it is the only
    attempt worth extending. At each moment, step k is reached by the attempt that reached
    step a - 1 before this moment (or starts here, a = 1), for the smallest a whose steps
    a..k this moment's events can fill, if the moment is within the window of that attempt's
    step-1 event. See the model description for the semantics and the cost.
-#}
{%- set funnels = funnel_definitions() %}

with step_events as (

    select * from {{ ref('int_funnel_events_matched_to_steps') }}

),

funnel_steps as (

    {{ funnel_steps_spine() }}

),

{% for funnel in funnels -%}
{%- set f = 'funnel_' ~ loop.index -%}
{%- set step_count = funnel.steps | length -%}
-- {{ funnel.name }}: one row per entity x moment, counting the moment's events per step.
{{ f }}_moments as (

    select
        entity_id,
        occurred_at,
        row_number() over (partition by entity_id order by occurred_at) as moment_number,
        {%- for step in funnel.steps %}
        sum(case when step_number = {{ loop.index }} then 1 else 0 end)
            as step_{{ loop.index }}_events
        {{- "," if not loop.last }}
        {%- endfor %}
    from step_events
    where funnel_name = {{ funnel_literal(funnel.name) }}
    group by entity_id, occurred_at

),

{{ f }}_scan_1 as (

    select
        *,
        case when step_1_events >= 1 then occurred_at end as step_1_start,
        case
            when step_1_events >= 1 then {{ funnel_path_start('moment_number') }}
        end as step_1_path
    from {{ f }}_moments

),

{% for step_number in range(2, step_count + 1) -%}
{%- set previous = step_number - 1 -%}
{{ f }}_before_{{ previous }} as (

    select
        *,
        max(step_{{ previous }}_start) over entity_moments_before as step_{{ previous }}_start_before,
        max(step_{{ previous }}_path) over entity_moments_before as step_{{ previous }}_path_before
    from {{ f }}_scan_{{ previous }}
    window entity_moments_before as (
        partition by entity_id
        order by moment_number
        rows between unbounded preceding and 1 preceding
    )

),

{{ f }}_scan_{{ step_number }} as (

    select
        *,
        case
            when {{ funnel_steps_fillable(funnel.steps, 1, step_number) }} then occurred_at
            {%- for first_step in range(2, step_number + 1) %}
            when {{ funnel_steps_fillable(funnel.steps, first_step, step_number) }}
                then case
                    when occurred_at <= {{ dbt.dateadd(
                        'second',
                        funnel_window_seconds(funnel),
                        'step_' ~ (first_step - 1) ~ '_start_before'
                    ) }}
                        then step_{{ first_step - 1 }}_start_before
                end
            {%- endfor %}
        end as step_{{ step_number }}_start,
        case
            when {{ funnel_steps_fillable(funnel.steps, 1, step_number) }}
                then {{ funnel_path_start('moment_number') }}
                {%- for _ in range(1, step_number) %}
                || {{ funnel_path_later_step('moment_number') }}
                {%- endfor %}
            {%- for first_step in range(2, step_number + 1) %}
            when {{ funnel_steps_fillable(funnel.steps, first_step, step_number) }}
                then case
                    when occurred_at <= {{ dbt.dateadd(
                        'second',
                        funnel_window_seconds(funnel),
                        'step_' ~ (first_step - 1) ~ '_start_before'
                    ) }}
                        then step_{{ first_step - 1 }}_path_before
                        {%- for _ in range(first_step, step_number + 1) %}
                        || {{ funnel_path_later_step('moment_number') }}
                        {%- endfor %}
                end
            {%- endfor %}
        end as step_{{ step_number }}_path
    from {{ f }}_before_{{ previous }}

),

{% endfor -%}

-- The furthest step reached at each moment, prefixed to its path so one max picks the
-- furthest step, then the best attempt to it.
{{ f }}_reached as (

    select
        entity_id,
        occurred_at,
        step_1_events,
        case
            {%- for step_number in range(step_count, 0, -1) %}
            when step_{{ step_number }}_start is not null
                then '{{ "%02d" % step_number }}' || step_{{ step_number }}_path
            {%- endfor %}
        end as furthest_step_and_path
    from {{ f }}_scan_{{ step_count }}

),

{{ f }}_entities as (

    select
        entity_id,
        min(case when step_1_events >= 1 then occurred_at end) as entered_at,
        max(furthest_step_and_path) as furthest_step_and_path
    from {{ f }}_reached
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

{% endfor -%}

final as (

    {%- for funnel in funnels %}
    select * from funnel_{{ loop.index }}_steps
    {%- if not loop.last %}
    union all
    {%- endif -%}
    {%- endfor %}
    {%- if funnels | length == 0 %}
    select
        funnel_name,
        entity_type,
        cast(null as {{ dbt.type_string() }}) as entity_id,
        cast(null as {{ dbt.type_timestamp() }}) as entered_at,
        step_number as furthest_step,
        step_number,
        step_name,
        cast(null as {{ dbt.type_timestamp() }}) as reached_at
    from funnel_steps
    {%- endif %}

)

select * from final
