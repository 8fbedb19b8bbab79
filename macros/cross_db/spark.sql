{#-
    Spark SQL renderings of the project's PostgreSQL-only pieces (each macro's own file
    documents it and holds its PostgreSQL rendering). Used by the `spark` targets.
-#}

{#- `cross join {{ integer_series(n) }} as alias (column)`, n may name a column joined before. -#}
{% macro spark__integer_series(upper_bound) -%}
    lateral explode(sequence(0, cast({{ upper_bound }} as int)))
{%- endmacro %}

{% macro spark__funnel_epoch_microseconds(timestamp) -%}
    unix_micros({{ timestamp }})
{%- endmacro %}

{% macro spark__funnel_timestamp_from_microseconds(microseconds) -%}
    timestamp_micros({{ microseconds }})
{%- endmacro %}

{% macro spark__funnel_path_of(elements) -%}
    cast(array({{ elements | join(', ') }}) as array<bigint>)
{%- endmacro %}

{% macro spark__funnel_path_element(path, index) -%}
    element_at({{ path }}, cast({{ index }} as int))
{%- endmacro %}

{% macro spark__funnel_path_slice(path, first, last) -%}
    {%- if last is none -%}
        slice({{ path }}, {{ first }}, greatest(0, size({{ path }}) - ({{ first }}) + 1))
    {%- else -%}
        slice({{ path }}, {{ first }}, greatest(0, ({{ last }}) - ({{ first }}) + 1))
    {%- endif -%}
{%- endmacro %}

{#- The same stems as PostgreSQL's rendering: words split on case changes and non-letters,
    -ing/-ed, a plural -s and a final -e cut, sorted, joined by spaces; null without words. -#}
{% macro spark__normalise_event_name(name_expression) -%}
    nullif(array_join(array_sort(transform(
        filter(
            split(lower(regexp_replace({{ name_expression }}, '([a-z0-9])([A-Z])', '$1 $2')),
                '[^a-z0-9]+'),
            token -> token != ''
        ),
        token -> regexp_replace(
            regexp_replace(regexp_replace(token, '^(.{3,})(ing|ed)$', '$1'), '^(.{3,}[^s])s$', '$1'),
            '^(.{3,})e$',
            '$1'
        )
    )), ' '), '')
{%- endmacro %}
