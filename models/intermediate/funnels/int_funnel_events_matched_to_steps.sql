-- sqlfluff:render_variant_limit:1
-- (lint renders the default funnels only: forced renderings of option branches misplace lines)
{#-
    One branch per funnel, reading only its entity's events with its step and excluded
    names: a model filtering on one funnel_name reads that funnel's branch alone (PostgreSQL
    drops the others at planning), with row estimates from the event names' statistics.
-#}
{%- set funnels = funnel_definitions() %}

with
{% for funnel in funnels %}
    {%- set f = 'funnel_' ~ loop.index %}
    {%- set names = funnel.steps + funnel.get('exclusions', []) | map(attribute='event') | list %}

    -- {{ funnel.name }}: the step each of its event names fills, or the exclusion it is for.
    {{ f }}_event_names as (

        {{ funnel_event_names(funnel) }}

    ),

    {{ f }}_entity_events as (

        {{ funnel_entity_events(funnel.entity) }}

    ),

    -- An event whose name fills several steps (a repeated step) gives one row per step.
    {{ f }}_events as (

        select
            cast({{ funnel_literal(funnel.name) }} as {{ dbt.type_string() }}) as funnel_name,
            cast({{ funnel_literal(funnel.entity) }} as {{ dbt.type_string() }}) as entity_type,
            entity_events.entity_id,
            entity_events.event_id,
            event_names.step_number,
            event_names.exclusion_number,
            entity_events.occurred_at,
            {{ funnel_held_value(funnel, 'entity_events.properties') }} as held_value
        from {{ f }}_entity_events as entity_events
        inner join {{ f }}_event_names as event_names
            on entity_events.event_name = event_names.event_name
        where
            entity_events.event_name in (
                {%- for name in names | unique %}
                    {{ funnel_literal(name) }}{{ ',' if not loop.last }}
                {%- endfor %}
            )

    ),

{% endfor %}

final as (

    {%- for funnel in funnels %}
        select * from funnel_{{ loop.index }}_events
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}

)

select * from final
