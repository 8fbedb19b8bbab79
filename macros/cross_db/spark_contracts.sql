{#-
    Spark: the public marts' contracts declare PostgreSQL types (`text`, `timestamptz`,
    `numeric`), which PostgreSQL checks on every build. On Spark the contract still selects
    and orders the columns; their types are Spark's own.
-#}
{% macro spark__get_assert_columns_equivalent(sql) -%}
{%- endmacro %}
