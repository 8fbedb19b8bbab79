{#- Arrays: PostgreSQL's ordered `array_agg` and `||`; Spark's `collect_list` and `concat`. -#}

{#- The values of `expression` in the order of `order_by` (one expression). -#}
{% macro ordered_array_agg(expression, order_by) -%}
    {{ return(adapter.dispatch('ordered_array_agg', 'product_analytics')(expression, order_by)) }}
{%- endmacro %}

{% macro default__ordered_array_agg(expression, order_by) -%}
    array_agg({{ expression }} order by {{ order_by }})
{%- endmacro %}

{% macro spark__ordered_array_agg(expression, order_by) -%}
    transform(
        array_sort(collect_list(struct({{ order_by }} as sort_key, {{ expression }} as element))),
        entry -> entry.element
    )
{%- endmacro %}

{#- An array with a text literal added at its end (or, `at_start`, at its start). -#}
{% macro array_with_text(array_expression, text, at_start=false) -%}
    {{ return(adapter.dispatch('array_with_text', 'product_analytics')(
        array_expression, text, at_start
    )) }}
{%- endmacro %}

{% macro default__array_with_text(array_expression, text, at_start) -%}
    {%- if at_start -%}
        array['{{ text }}'] || {{ array_expression }}
    {%- else -%}
        {{ array_expression }} || array['{{ text }}']
    {%- endif -%}
{%- endmacro %}

{% macro spark__array_with_text(array_expression, text, at_start) -%}
    {%- if at_start -%}
        concat(array('{{ text }}'), {{ array_expression }})
    {%- else -%}
        concat({{ array_expression }}, array('{{ text }}'))
    {%- endif -%}
{%- endmacro %}

{#-
    `expression`, an indexed column, is one of the values `subquery` returns. PostgreSQL
    reads them into an array first: it estimates an array it cannot see as a few values, so
    it looks each up through the index, where it hashes the whole table for an
    `in (subquery)` whose rows it overestimates (a few changed rows among many, behind a
    filter on the last run's state). Without an index, keep `in`: the array is searched
    row by row.
-#}
{% macro is_one_of(expression, subquery) -%}
    {{ return(adapter.dispatch('is_one_of', 'product_analytics')(expression, subquery)) }}
{%- endmacro %}

{% macro default__is_one_of(expression, subquery) -%}
    {{ expression }} in ({{ subquery }})
{%- endmacro %}

{% macro postgres__is_one_of(expression, subquery) -%}
    {{ expression }} = any(array({{ subquery }}))
{%- endmacro %}
