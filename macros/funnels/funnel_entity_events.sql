{#-
    The one place that says which events an entity did: `entity_id, event_id, event_name,
    occurred_at, properties` for users (the stitched user of each event) or orgs (the event's own org;
    events without one are left out unless `org_attribution` is
    `all_member_orgs`: then they count for every org the user belonged to at that moment, as
    int_events_attributed_to_orgs attributes them; `org_attribution` validates the var).
-#}
{% macro funnel_entity_events(entity_type) -%}
    {%- if entity_type == 'user' %}
    select
        user_id as entity_id,
        event_id,
        event_name,
        occurred_at,
        properties
    from {{ ref('fct_events') }}
    where user_id is not null
    {%- elif org_attribution() == 'none' %}
    select
        org_id as entity_id,
        event_id,
        event_name,
        occurred_at,
        properties
    from {{ ref('fct_events') }}
    where org_id is not null
    {%- else %}
    select
        org_id as entity_id,
        event_id,
        event_name,
        occurred_at,
        properties
    from {{ ref('int_events_attributed_to_orgs') }}
    {%- endif -%}
{%- endmacro %}
