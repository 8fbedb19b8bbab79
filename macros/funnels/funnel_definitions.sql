{#-
    The funnels declared in the `funnels` var (contract section 7), checked once here so
    every funnel model can trust them: at least one funnel, each with a unique name, entity
    `user` or `org`, a positive `window_days` and 1 to 32 step names (as ClickHouse's
    windowFunnel).
-#}
{% macro funnel_definitions() -%}
    {%- set funnels = var('funnels') -%}
    {%- if funnels is string or funnels is not iterable or funnels | length == 0 -%}
        {{ exceptions.raise_compiler_error('the `funnels` var must list at least one funnel') }}
    {%- endif -%}
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
