{#- A 32-bit integer hash of a text: PostgreSQL's `hashtext`, Spark's `hash`. Sums of it
    fingerprint a set of rows without sorting them. -#}
{% macro text_hash_number(expression) -%}
    {{ return(adapter.dispatch('text_hash_number', 'product_analytics')(expression)) }}
{%- endmacro %}

{% macro default__text_hash_number(expression) -%}
    hashtext({{ expression }})
{%- endmacro %}

{% macro spark__text_hash_number(expression) -%}
    hash({{ expression }})
{%- endmacro %}
