{#-
    JSON access differs between warehouses; models call these and each adapter renders its
    own syntax (PostgreSQL: jsonb operators).
-#}

{#- The text of `key` in a JSON object; null when absent. -#}
{% macro json_text(json_expression, key) -%}
    {{ return(adapter.dispatch('json_text', 'product_analytics')(json_expression, key)) }}
{%- endmacro %}

{% macro postgres__json_text(json_expression, key) -%}
    ({{ json_expression }} ->> '{{ key }}')
{%- endmacro %}

{#- The text of `key` when it holds a scalar, or of its first element when it holds a list
    (Amplitude's `groups` values may be either). -#}
{% macro json_text_or_first_element(json_expression, key) -%}
    {{ return(adapter.dispatch('json_text_or_first_element', 'product_analytics')(
        json_expression, key
    )) }}
{%- endmacro %}

{% macro postgres__json_text_or_first_element(json_expression, key) -%}
    (case
        when jsonb_typeof({{ json_expression }} -> '{{ key }}') = 'array'
            then {{ json_expression }} -> '{{ key }}' ->> 0
        else {{ json_expression }} ->> '{{ key }}'
    end)
{%- endmacro %}

{#- A JSON object from alternating key literals and value expressions; null values kept. -#}
{% macro json_object(pairs) -%}
    {{ return(adapter.dispatch('json_object', 'product_analytics')(pairs)) }}
{%- endmacro %}

{% macro postgres__json_object(pairs) -%}
    {%- set arguments = [] -%}
    {%- for key, value in pairs.items() -%}
        {%- do arguments.append("'" ~ key ~ "', " ~ value) -%}
    {%- endfor -%}
    jsonb_build_object({{ arguments | join(', ') }})
{%- endmacro %}

{#- A JSON object with keys added from value expressions (null values left out); a key the
    object already has is overwritten. -#}
{% macro json_with_keys(json_expression, pairs) -%}
    {{ return(adapter.dispatch('json_with_keys', 'product_analytics')(json_expression, pairs)) }}
{%- endmacro %}

{% macro postgres__json_with_keys(json_expression, pairs) -%}
    (coalesce({{ json_expression }}, '{}'::jsonb) || jsonb_strip_nulls({{ json_object(pairs) }}))
{%- endmacro %}

{#- Spark: JSON is its text in a string column (`type_json`), read with JSON paths. -#}
{% macro spark__json_text(json_expression, key) -%}
    get_json_object({{ json_expression }}, '$.{{ key }}')
{%- endmacro %}

{% macro spark__json_text_or_first_element(json_expression, key) -%}
    (case
        when left(ltrim(get_json_object({{ json_expression }}, '$.{{ key }}')), 1) = '['
            then get_json_object({{ json_expression }}, '$.{{ key }}[0]')
        else get_json_object({{ json_expression }}, '$.{{ key }}')
    end)
{%- endmacro %}

{% macro spark__json_object(pairs) -%}
    {%- set arguments = [] -%}
    {%- for key, value in pairs.items() -%}
        {%- do arguments.append("'" ~ key ~ "', " ~ value) -%}
    {%- endfor -%}
    to_json(named_struct({{ arguments | join(', ') }}), map('ignoreNullFields', 'false'))
{%- endmacro %}

{#- The object's keys as text (Spark has no JSON type to merge), then the added ones. -#}
{% macro spark__json_with_keys(json_expression, pairs) -%}
    {%- set arguments = [] -%}
    {%- for key, value in pairs.items() -%}
        {%- do arguments.append("'" ~ key ~ "', cast(" ~ value ~ " as string)") -%}
    {%- endfor -%}
    to_json(map_filter(
        map_concat(
            from_json(coalesce({{ json_expression }}, '{}'), 'map<string, string>'),
            map({{ arguments | join(', ') }})
        ),
        (name, value) -> value is not null
    ))
{%- endmacro %}
