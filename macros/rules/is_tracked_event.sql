{#-
    True for an event the product's tracking sent (Segment, Amplitude): the plan changes
    derived from production (`source` = production) are not the user or org being active.
-#}
{% macro is_tracked_event(source_column) -%}
    {{ source_column }} != 'production'
{%- endmacro %}
