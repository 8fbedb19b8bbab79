{#-
    The one place that says which events an entity did: `entity_id, event_id, event_name,
    occurred_at, properties` for users (the stitched user of each event,
    int_events_stitched_to_users) or orgs (int_events_attributed_to_orgs: the event's own org,
    and with `org_attribution` `all_member_orgs` every org the user belonged to at that moment
    for events without one).
-#}
{% macro funnel_entity_events(entity_type) -%}
    {%- if entity_type == 'user' %}
    select
        user_id as entity_id,
        event_id,
        event_name,
        occurred_at,
        properties
    from {{ ref('int_events_stitched_to_users') }}
    where user_id is not null
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
