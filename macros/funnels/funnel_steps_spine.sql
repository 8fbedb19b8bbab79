{#- A SQL string literal for a name from the funnels var. -#}
{% macro funnel_literal(text) -%}
    '{{ text | replace("'", "''") }}'
{%- endmacro %}

{#- The window in whole seconds, as ClickHouse's windowFunnel counts it on DateTime. -#}
{% macro funnel_window_seconds(funnel) -%}
    {{ (funnel.window_days * 86400) | int }}
{%- endmacro %}

{#-
    One row per funnel x step (funnel_name, entity_type, step_number, step_name), so the
    marts can list every step, reached or not.
-#}
{% macro funnel_steps_spine() -%}
    {%- set rows = [] -%}
    {%- for funnel in funnel_definitions() -%}
        {%- for step in funnel.steps -%}
            {%- do rows.append(
                'select cast(' ~ funnel_literal(funnel.name) ~ ' as ' ~ dbt.type_string()
                ~ ') as funnel_name, cast(' ~ funnel_literal(funnel.entity) ~ ' as '
                ~ dbt.type_string() ~ ') as entity_type, ' ~ loop.index ~ ' as step_number, cast('
                ~ funnel_literal(step) ~ ' as ' ~ dbt.type_string() ~ ') as step_name'
            ) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ rows | join('\nunion all\n') }}
{%- endmacro %}

{#-
    One row per event name a funnel reads (event_name, step_number, exclusion_number): a step
    name once per step it fills, an excluded name once per exclusion naming it.
-#}
{% macro funnel_event_names(funnel) -%}
    {%- set rows = [] -%}
    {%- for step in funnel.steps -%}
        {%- do rows.append(
            'select cast(' ~ funnel_literal(step) ~ ' as ' ~ dbt.type_string() ~ ') as event_name, '
            ~ loop.index ~ ' as step_number, cast(null as ' ~ dbt.type_int() ~ ') as exclusion_number'
        ) -%}
    {%- endfor -%}
    {%- for exclusion in funnel.get('exclusions', []) -%}
        {%- do rows.append(
            'select cast(' ~ funnel_literal(exclusion.event) ~ ' as ' ~ dbt.type_string()
            ~ ') as event_name, cast(null as ' ~ dbt.type_int() ~ ') as step_number, '
            ~ loop.index ~ ' as exclusion_number'
        ) -%}
    {%- endfor -%}
    {{ rows | join('\nunion all\n') }}
{%- endmacro %}

{#-
    The value of a funnel's `hold_constant` properties in an event's `properties` (a SQL
    expression): the one property's text, or the properties' texts each prefixed by its
    length (so no two tuples share a value); null when any is missing or JSON null; '' for a
    funnel that holds nothing constant.
-#}
{% macro funnel_held_value(funnel, properties) -%}
    {%- set names = funnel.get('hold_constant', []) -%}
    {%- if not names -%}
        cast('' as {{ dbt.type_string() }})
    {%- elif names | length == 1 -%}
        {{ json_text(properties, names[0]) }}
    {%- else -%}
        {%- set parts = [] -%}
        {%- for name in names -%}
            {%- set value = json_text(properties, name) -%}
            {%- do parts.append('cast(length(' ~ value ~ ') as ' ~ dbt.type_string() ~ ')') -%}
            {%- do parts.append("':'") -%}
            {%- do parts.append(value) -%}
        {%- endfor -%}
        {{ dbt.concat(parts) }}
    {%- endif -%}
{%- endmacro %}

{#- One row per funnel (funnel_name, step_count, window_seconds). -#}
{% macro funnel_windows() -%}
    {%- set rows = [] -%}
    {%- for funnel in funnel_definitions() -%}
        {%- do rows.append(
            'select cast(' ~ funnel_literal(funnel.name) ~ ' as ' ~ dbt.type_string()
            ~ ') as funnel_name, ' ~ funnel.steps | length ~ ' as step_count, '
            ~ funnel_window_seconds(funnel) ~ ' as window_seconds'
        ) -%}
    {%- endfor -%}
    {{ return(rows | join('\nunion all\n')) }}
{%- endmacro %}
