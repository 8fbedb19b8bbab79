{#-
    The one place that says which events an entity did: `entity_id, event_id, event_name,
    occurred_at` for users (the stitched user of each event) or orgs (the event's own org;
    events without one are left out unless `analytics__org_attribution` is
    `all_member_orgs`, which reads the events attributed to every org the user belonged to).
-#}
{% macro funnel_entity_events(entity_type) -%}
    {%- if entity_type == 'user' %}
    select
        user_id as entity_id,
        event_id,
        event_name,
        occurred_at
    from {{ ref('fct_events') }}
    where user_id is not null
    {%- elif var('analytics__org_attribution') == 'none' %}
    select
        org_id as entity_id,
        event_id,
        event_name,
        occurred_at
    from {{ ref('fct_events') }}
    where org_id is not null
    {%- elif var('analytics__org_attribution') == 'all_member_orgs' -%}
        {{ exceptions.raise_compiler_error(
            'analytics__org_attribution all_member_orgs needs int_events_attributed_to_orgs,'
            ~ ' which this branch does not have yet'
        ) }}
    {%- else -%}
        {{ exceptions.raise_compiler_error(
            'analytics__org_attribution must be none or all_member_orgs, not '
            ~ var('analytics__org_attribution')
        ) }}
    {%- endif -%}
{%- endmacro %}
