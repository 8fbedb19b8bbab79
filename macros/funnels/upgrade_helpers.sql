{#-
    Rows `number` = 0 .. `upper_bound` (a SQL integer expression that may name columns of the
    tables joined before it: `cross join {{ integer_series(...) }} as alias (column)`).
-#}
{% macro integer_series(upper_bound) -%}
    {{ return(adapter.dispatch('integer_series')(upper_bound)) }}
{%- endmacro %}

{% macro postgres__integer_series(upper_bound) -%}
    generate_series(0, cast({{ upper_bound }} as {{ dbt.type_int() }}))
{%- endmacro %}

{#- One row per number in a list var of positive whole numbers, as a column `column_name`. -#}
{% macro positive_numbers_from_var(var_name, column_name) -%}
    {%- set numbers = var(var_name) -%}
    {%- if numbers is string or numbers is not iterable or numbers | length == 0 -%}
        {{ exceptions.raise_compiler_error('the `' ~ var_name ~ '` var must list numbers') }}
    {%- endif -%}
    {%- for number in numbers -%}
        {%- if number is not number or number <= 0 or number != number | int -%}
            {{ exceptions.raise_compiler_error(
                'the `' ~ var_name ~ '` var lists positive whole numbers, not ' ~ number
            ) }}
        {%- endif -%}
    {%- endfor -%}
    {%- set selects = [] -%}
    {%- for number in numbers | unique -%}
        {%- do selects.append('select ' ~ (number | int) ~ ' as ' ~ column_name) -%}
    {%- endfor -%}
    {{ selects | join('\nunion all\n') }}
{%- endmacro %}

{#- Fails on every value outside [0, 1] (rates are fractions); nulls pass. -#}
{% test is_fraction(model, column_name) %}

    select {{ column_name }}
    from {{ model }}
    where {{ column_name }} < 0 or {{ column_name }} > 1

{% endtest %}
