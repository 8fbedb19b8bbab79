-- sqlfluff:render_variant_limit:1
-- (lint renders the default funnels only: forced renderings of option branches misplace lines)
{%- set funnels = funnel_definitions() %}
{%- set entity_types = funnels | map(attribute='entity') | unique | list %}

with funnel_steps as (

    {{ funnel_steps_spine() }}

),

funnel_exclusions as (

    {{ funnel_exclusions_spine() }}

),

-- The event names each funnel reads: its steps, then its exclusions.
funnel_event_names as (

    select
        funnel_name,
        entity_type,
        step_name as event_name,
        step_number,
        cast(null as {{ dbt.type_int() }}) as exclusion_number
    from funnel_steps
    union all
    select
        funnel_name,
        entity_type,
        event_name,
        cast(null as {{ dbt.type_int() }}) as step_number,
        exclusion_number
    from funnel_exclusions

),

{% for entity_type in entity_types %}
    {{ entity_type }}_events as (

        {{ funnel_entity_events(entity_type) }}

    ),

{% endfor %}

entity_events as (

    {%- for entity_type in entity_types %}
        select
            cast({{ funnel_literal(entity_type) }} as {{ dbt.type_string() }}) as entity_type,
            entity_id,
            event_id,
            event_name,
            occurred_at,
            properties
        from {{ entity_type }}_events
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}

),

-- An event whose name fills several steps (a repeated step) gives one row per step.
final as (

    select
        funnel_event_names.funnel_name,
        funnel_event_names.entity_type,
        entity_events.entity_id,
        entity_events.event_id,
        funnel_event_names.step_number,
        funnel_event_names.exclusion_number,
        entity_events.occurred_at,
        {%- set holding = funnels | selectattr('hold_constant', 'defined')
            | selectattr('hold_constant') | list %}
        {%- if holding %}
            case
                {%- for funnel in holding %}
                    when funnel_event_names.funnel_name = {{ funnel_literal(funnel.name) }}
                        then {{ funnel_held_value(funnel, 'entity_events.properties') }}
                {%- endfor %}
                else cast('' as {{ dbt.type_string() }})
            end
        {%- else %}
            cast('' as {{ dbt.type_string() }})
        {%- endif %} as held_value
    from entity_events
    inner join funnel_event_names
        on
            entity_events.entity_type = funnel_event_names.entity_type
            and entity_events.event_name = funnel_event_names.event_name

)

select * from final
