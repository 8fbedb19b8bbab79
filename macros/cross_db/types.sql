{#-
    Types dbt's cross-database macros do not name. PostgreSQL: `timestamptz` (every time in
    the marts is UTC) and `jsonb`. Spark: `timestamp` (the session's time zone is UTC) and
    JSON as its text in a `string`.
-#}
{% macro type_timestamptz() -%}
    {{ return(adapter.dispatch('type_timestamptz', 'product_analytics')()) }}
{%- endmacro %}

{% macro default__type_timestamptz() -%}
    timestamptz
{%- endmacro %}

{% macro spark__type_timestamptz() -%}
    timestamp
{%- endmacro %}

{% macro type_json() -%}
    {{ return(adapter.dispatch('type_json', 'product_analytics')()) }}
{%- endmacro %}

{% macro default__type_json() -%}
    jsonb
{%- endmacro %}

{% macro spark__type_json() -%}
    string
{%- endmacro %}

{#- An array of text: PostgreSQL `text[]`, Spark `array<string>`. -#}
{% macro type_string_array() -%}
    {{ return(adapter.dispatch('type_string_array', 'product_analytics')()) }}
{%- endmacro %}

{% macro default__type_string_array() -%}
    {{ dbt.type_string() }}[]
{%- endmacro %}

{% macro spark__type_string_array() -%}
    array<{{ dbt.type_string() }}>
{%- endmacro %}

{#- dbt's `type_float` renders `float`: double precision on PostgreSQL, four bytes on Spark,
    where the marts' rates and seconds would lose digits. -#}
{% macro spark__type_float() -%}
    double
{%- endmacro %}
