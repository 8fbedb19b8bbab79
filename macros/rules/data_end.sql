{#-
    The data end: a one-row query whose `last_event_at` is the latest event in fct_events.
    Reports call a cohort, a window or a week complete when it ends at or before it, so a
    recent period never reads as a drop. Marts only (it reads a mart). Read it as a scalar
    subquery, `(select data_end.last_event_at from data_end)`, computed once: joined to the
    rows, a plan made before statistics exist can rescan every event for each row.
-#}
{% macro data_end() -%}
    select max(occurred_at) as last_event_at
    from {{ ref('fct_events') }}
{%- endmacro %}
