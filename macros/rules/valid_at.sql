{#-
    True when `moment` falls in the period [valid_from, valid_to): started at or before it,
    not yet ended (a null `valid_to` never ends). Memberships (joined_at, left_at), the plans
    an organization held (int_organization_plans_held) and snapshots all read it.
-#}
{% macro valid_at(valid_from, valid_to, moment) -%}
    ({{ valid_from }} <= {{ moment }} and ({{ valid_to }} is null or {{ moment }} < {{ valid_to }}))
{%- endmacro %}

{#- True when the membership `memberships` (a relation alias) was active at `moment`: joined
    at or before it and not yet left. -#}
{% macro membership_active_at(memberships, moment) -%}
    {{ valid_at(memberships ~ '.joined_at', memberships ~ '.left_at', moment) }}
{%- endmacro %}
