{#- dlt's load id is the load's start as a unix timestamp in seconds ("1712345678.123456"). -#}
{% macro load_id_to_timestamp(load_id) -%}
    {{ dbt.dateadd(
        'second',
        'cast(' ~ load_id ~ ' as ' ~ dbt.type_numeric() ~ ')',
        "cast('1970-01-01 00:00:00+00' as timestamptz)",
    ) }}
{%- endmacro %}
