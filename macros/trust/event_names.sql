{#-
    Near-duplicate event names (rpt_event_catalog). A name is normalised to its tokens:
    camelCase split, lower-cased, split on anything not a letter or digit, each token
    stemmed (a trailing `ing`/`ed`, then `s`, then `e` removed), sorted and joined by
    spaces. So `click-plan-update`, `update-plan-clicked` and `Plan Update Clicked` all
    become `click plan updat`.
-#}
{% macro normalise_event_name(name_expression) -%}
    {{ return(adapter.dispatch('normalise_event_name', 'product_analytics')(name_expression)) }}
{%- endmacro %}

{% macro postgres__normalise_event_name(name_expression) -%}
    (
        select string_agg(stems.stem, ' ' order by stems.stem)
        from (
            select
                regexp_replace(
                    regexp_replace(
                        regexp_replace(tokens.token, '^(.{3,})(ing|ed)$', '\1'),
                        '^(.{3,}[^s])s$',
                        '\1'
                    ),
                    '^(.{3,})e$',
                    '\1'
                ) as stem
            from regexp_split_to_table(
                lower(regexp_replace({{ name_expression }}, '([a-z0-9])([A-Z])', '\1 \2', 'g')),
                '[^a-z0-9]+'
            ) as tokens (token)
            where tokens.token != ''
        ) as stems
    )
{%- endmacro %}

{#- The Levenshtein distance between two strings (PostgreSQL: the fuzzystrmatch extension,
    which reads at most 255 characters). -#}
{% macro edit_distance(first_expression, second_expression) -%}
    {{ return(adapter.dispatch('edit_distance', 'product_analytics')(
        first_expression, second_expression
    )) }}
{%- endmacro %}

{% macro default__edit_distance(first_expression, second_expression) -%}
    levenshtein({{ first_expression }}, {{ second_expression }})
{%- endmacro %}

{% macro postgres__edit_distance(first_expression, second_expression) -%}
    levenshtein(left({{ first_expression }}, 255), left({{ second_expression }}, 255))
{%- endmacro %}

{#- Runs first (on-run-start). fuzzystrmatch ships with PostgreSQL and is a trusted
    extension: the database owner can create it without being a superuser. -#}
{% macro create_edit_distance_function() -%}
    {{ return(adapter.dispatch('create_edit_distance_function', 'product_analytics')()) }}
{%- endmacro %}

{% macro default__create_edit_distance_function() -%}
    select 1
{%- endmacro %}

{% macro postgres__create_edit_distance_function() -%}
    create extension if not exists fuzzystrmatch
{%- endmacro %}
