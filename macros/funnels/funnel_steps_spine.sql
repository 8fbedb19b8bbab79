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
