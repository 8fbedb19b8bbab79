-- sqlfluff:render_variant_limit:1
-- (lint renders the default funnels only: forced renderings of option branches misplace lines)
{#-
    The funnel engine. For each funnel, scan each entity's moments (its distinct event
    timestamps; with `hold_constant`, per entity and value) in time order, keeping per step k
    the best attempt that has reached step k so far: a later start leaves the most of the
    window, so it is the only attempt worth extending (see `funnel_step_reached`). The model
    description states the semantics and the cost.
-#}
{{ config(pre_hook="{{ funnel_engine_settings() }}") }}
{%- set funnels = funnel_definitions() %}

with
{% for funnel in funnels %}
    {%- set f = 'funnel_' ~ loop.index %}
    {%- set step_count = funnel.steps | length %}
    {%- set exclusion_count = funnel.get('exclusions', []) | length %}
    {%- set held = funnel.get('hold_constant', []) | length > 0 %}
    {%- set partition = 'entity_id, held_value' if held else 'entity_id' %}

    -- {{ funnel.name }}: its step and excluded events. (Read per funnel, so PostgreSQL plans
    -- only this funnel's branch of the matched events.)
    {{ f }}_step_events as (

        select * from {{ ref('int_funnel_events_matched_to_steps') }}
        where funnel_name = {{ funnel_literal(funnel.name) }}

    ),

    -- With hold_constant, those holding a value.
    {{ f }}_valued_events as (

        select
            entity_id,
            held_value,
            occurred_at,
            step_number,
            exclusion_number
        from {{ f }}_step_events
        where {{ 'held_value is not null' if held else 'true' }}

    ),

    {%- if held and exclusion_count %}

    -- {{ funnel.name }}: the values its entities hold (with hold_constant).
    {{ f }}_held_values as (

        select distinct
            entity_id,
            held_value
        from {{ f }}_step_events
        where
            step_number is not null
            and held_value is not null

    ),

    -- An excluded event without a value counts for every value of its entity.
    {{ f }}_unvalued_exclusions as (

        select
            exclusions.entity_id,
            held_values.held_value,
            exclusions.occurred_at,
            exclusions.step_number,
            exclusions.exclusion_number
        from {{ f }}_step_events as exclusions
        inner join {{ f }}_held_values as held_values
            on exclusions.entity_id = held_values.entity_id
        where
            exclusions.exclusion_number is not null
            and exclusions.held_value is null

    ),

    {%- endif %}

    {{ f }}_events as (

        select * from {{ f }}_valued_events
        {%- if held and exclusion_count %}
            union all
            select * from {{ f }}_unvalued_exclusions
        {%- endif %}

    ),

    -- One row per entity (and held value) x moment, counting its events per step and
    -- exclusion.
    {{ f }}_moments as (

        select
            {{ partition }},
            occurred_at,
            {%- for number in range(1, exclusion_count + 1) %}
                sum(case when exclusion_number = {{ number }} then 1 else 0 end)
                    as exclusion_{{ number }}_events,
            {%- endfor %}
            {%- for step in funnel.steps %}
                sum(case when step_number = {{ loop.index }} then 1 else 0 end)
                    as step_{{ loop.index }}_events,
            {%- endfor %}
            {{ funnel_epoch_microseconds('occurred_at') }} as moment_at
        from {{ f }}_events
        group by {{ partition }}, occurred_at

    ),

    {{ f }}_scan_1 as (

        select
            *,
            {{ funnel_step_reached(funnel, 1) }} as step_1_path
        from {{ f }}_moments

    ),

    {% for step_number in range(2, step_count + 1) %}
        {%- set previous = step_number - 1 %}

        {%- if previous == 1 and exclusion_count %}

        -- Each exclusion's latest moment before this one, over every moment (before the
        -- unusable ones are dropped), in the first step's pass.
        {%- endif %}
        {{ f }}_before_{{ previous }} as (

            select
                *,
                {%- if previous == 1 %}
                    {%- for number in range(1, exclusion_count + 1) %}
                        {%- set excluded_at = funnel_excluded_moment(number) %}
                        coalesce(
                            max({{ excluded_at }}) over moments_before,
                            {{ funnel_no_exclusion() }}
                        ) as exclusion_{{ number }}_before,
                    {%- endfor %}
                {%- endif %}
                max(step_{{ previous }}_path) over moments_before as step_{{ previous }}_path_before
            from {{ f }}_scan_{{ previous }}
            window moments_before as (
                partition by {{ partition }}
                order by occurred_at
                rows between unbounded preceding and 1 preceding
            )

        ),

        {{ f }}_scan_{{ step_number }} as (

            select
                *,
                {{ funnel_step_reached(funnel, step_number) }} as step_{{ step_number }}_path
            from {{ f }}_before_{{ previous }}
            {%- if previous == 1 %}
                -- A moment no attempt can use (no step-1 event, and none earlier whose window
                -- reaches it) fills no step and leaves the later passes, unless it holds an
                -- excluded event.
                where {{ funnel_moment_usable(funnel) }}
            {%- endif %}

        ),

    {% endfor %}

    -- Per entity (and held value): its first step-1 event, each exclusion's last moment and,
    -- per step, the greatest of its paths keyed by the eras of the exclusions that can end it.
    {{ f }}_partitions as (

        select
            {{ partition }},
            {%- for number in range(1, exclusion_count + 1) %}
                coalesce(
                    max({{ funnel_excluded_moment(number) }}),
                    {{ funnel_no_exclusion() }}
                ) as exclusion_{{ number }}_last,
            {%- endfor %}
            {%- for step_number in range(1, step_count + 1) %}
                max({{ funnel_step_key(funnel, step_number) }}) as step_{{ step_number }}_best,
            {%- endfor %}
            min(case when step_1_events >= 1 then occurred_at end) as entered_at
        from {{ f }}_scan_{{ step_count }}
        group by {{ partition }}
        having max(step_1_events) >= 1

    ),

    -- Each step's best path tagged with the step it is worth, so one max picks the entity's
    -- furthest step (over values, with hold_constant), then its best attempt.
    {{ f }}_entities as (

        select
            entity_id,
            min(entered_at) as entered_at,
            {%- set step_worths = [] %}
            {%- for step_number in range(1, step_count + 1) %}
                {%- do step_worths.append(funnel_step_worth(funnel, step_number)) %}
            {%- endfor %}
            max({{ funnel_greatest(step_worths) }}) as best_path
        from {{ f }}_partitions
        group by entity_id

    ),

    -- One row per step the best attempt reached (a union, not a join to the steps: the
    -- planner may turn such a join into a nested loop that rescans the entities).
    {{ f }}_steps as (

        {%- for step in funnel.steps %}
            select
                cast({{ funnel_literal(funnel.name) }} as {{ dbt.type_string() }}) as funnel_name,
                cast({{ funnel_literal(funnel.entity) }} as {{ dbt.type_string() }})
                    as entity_type,
                entity_id,
                entered_at,
                cast({{ funnel_path_element('best_path', 1) }} as {{ dbt.type_int() }})
                    as furthest_step,
                {{ loop.index }} as step_number,
                cast({{ funnel_literal(step) }} as {{ dbt.type_string() }}) as step_name,
                {{ funnel_timestamp_from_microseconds(
                    funnel_path_element('best_path', 2) if loop.first
                    else '-' ~ funnel_path_element('best_path', loop.index + 1)
                ) }} as reached_at
            from {{ f }}_entities
            where {{ funnel_path_element('best_path', 1) }} >= {{ loop.index }}
            {%- if not loop.last %}
                union all
            {%- endif %}
        {%- endfor %}

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
