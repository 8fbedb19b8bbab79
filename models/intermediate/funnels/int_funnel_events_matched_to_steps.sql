{%- set entity_types = funnel_definitions() | map(attribute='entity') | unique | list %}

with funnel_steps as (

    {{ funnel_steps_spine() }}

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
            occurred_at
        from {{ entity_type }}_events
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}

),

-- An event whose name fills several steps (a repeated step) gives one row per step.
final as (

    select
        funnel_steps.funnel_name,
        funnel_steps.entity_type,
        entity_events.entity_id,
        entity_events.event_id,
        funnel_steps.step_number,
        entity_events.occurred_at
    from entity_events
    inner join funnel_steps
        on
            entity_events.entity_type = funnel_steps.entity_type
            and entity_events.event_name = funnel_steps.step_name

)

select * from final
