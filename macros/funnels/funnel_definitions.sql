{#-
    The funnels declared in the `funnels` var (contract section 7), checked once here so
    every funnel model can trust them: a unique name, entity `user` or `org`, a positive
    `window_days` and one or more step names (at most 32, as ClickHouse's windowFunnel).
-#}
{% macro funnel_definitions() -%}
    {%- set funnels = var('funnels') -%}
    {%- set seen_names = [] -%}
    {%- for funnel in funnels -%}
        {%- set label = 'funnel ' ~ (funnel.name if funnel is mapping else loop.index) -%}
        {%- if funnel is not mapping or funnel.name is not string or not funnel.name -%}
            {{ exceptions.raise_compiler_error(label ~ ': every funnel needs a `name`') }}
        {%- endif -%}
        {%- if funnel.name in seen_names -%}
            {{ exceptions.raise_compiler_error(label ~ ': the name is declared twice') }}
        {%- endif -%}
        {%- do seen_names.append(funnel.name) -%}
        {%- if funnel.entity not in ['user', 'org'] -%}
            {{ exceptions.raise_compiler_error(label ~ ': `entity` must be user or org') }}
        {%- endif -%}
        {%- if funnel.window_days is not number or funnel.window_days <= 0 -%}
            {{ exceptions.raise_compiler_error(label ~ ': `window_days` must be positive') }}
        {%- endif -%}
        {%- if funnel.steps is string or funnel.steps is not iterable
            or funnel.steps | length == 0 or funnel.steps | length > 32 -%}
            {{ exceptions.raise_compiler_error(label ~ ': `steps` must list 1 to 32 events') }}
        {%- endif -%}
        {%- for step in funnel.steps if step is not string or not step -%}
            {{ exceptions.raise_compiler_error(label ~ ': every step is an event name') }}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(funnels) }}
{%- endmacro %}

{#- A SQL string literal for a name from the funnels var. -#}
{% macro funnel_literal(text) -%}
    '{{ text | replace("'", "''") }}'
{%- endmacro %}

{#- The window in whole seconds, as ClickHouse's windowFunnel counts it on DateTime. -#}
{% macro funnel_window_seconds(funnel) -%}
    {{ (funnel.window_days * 86400) | int }}
{%- endmacro %}

{#-
    One row per funnel x step: funnel_name, entity_type, step_number, step_name. A step
    spine (funnel x step), so the marts can list every step, reached or not.
-#}
{% macro funnel_steps_spine() -%}
    {%- if funnel_definitions() | length == 0 %}
    select
        cast(null as {{ dbt.type_string() }}) as funnel_name,
        cast(null as {{ dbt.type_string() }}) as entity_type,
        0 as step_number,
        cast(null as {{ dbt.type_string() }}) as step_name
    where 1 = 0
    {%- endif -%}
    {%- for funnel in funnel_definitions() -%}
        {%- set funnel_loop = loop -%}
        {%- for step in funnel.steps %}
    select
        cast({{ funnel_literal(funnel.name) }} as {{ dbt.type_string() }}) as funnel_name,
        cast({{ funnel_literal(funnel.entity) }} as {{ dbt.type_string() }}) as entity_type,
        {{ loop.index }} as step_number,
        cast({{ funnel_literal(step) }} as {{ dbt.type_string() }}) as step_name
            {%- if not (funnel_loop.last and loop.last) %}
    union all
            {%- endif -%}
        {%- endfor -%}
    {%- endfor %}
{%- endmacro %}
