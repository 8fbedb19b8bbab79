{#- The var analytics__completeness_checks, validated: each check has a unique `name`, an
    `event_name` and an `entity` of `user` or `org`. -#}
{% macro completeness_checks() -%}
    {%- set checks = var('analytics__completeness_checks') -%}
    {%- set names = [] -%}
    {%- for check in checks -%}
        {%- if check.get('entity') not in ('user', 'org')
            or not check.get('name') or not check.get('event_name') -%}
            {{ exceptions.raise_compiler_error(
                "each of var analytics__completeness_checks needs a name, an event_name and "
                ~ "an entity of 'user' or 'org': " ~ check
            ) }}
        {%- endif -%}
        {%- if check['name'] in names -%}
            {{ exceptions.raise_compiler_error(
                "var analytics__completeness_checks names '" ~ check['name'] ~ "' twice"
            ) }}
        {%- endif -%}
        {%- do names.append(check['name']) -%}
    {%- endfor -%}
    {{ return(checks) }}
{%- endmacro %}
