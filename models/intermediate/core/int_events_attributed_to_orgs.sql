{%- set counts_member_orgs = org_attribution() == 'all_member_orgs' %}

with events as (

    select * from {{ ref('int_events_stitched_to_users') }}

),

{% if counts_member_orgs %}
    memberships as ( -- noqa: ST03

        select * from {{ ref('stg_production__memberships') }}

    ),
{% endif %}

-- With org_attribution `all_member_orgs`, an event without an organization (a view
-- aggregating all of a user's orgs) also counts for every organization the user was a member
-- of at that moment (joined at or before it, not yet left). Otherwise the branch is left out
-- of the query: PostgreSQL computes a CTE read twice in full, before the filters of the
-- funnels that read this model by event name.
{% if counts_member_orgs %}
    events_in_member_orgs as ( -- noqa: ST03

        select distinct
            events.event_id,
            events.event_name,
            events.occurred_at,
            events.user_id,
            memberships.org_id,
            events.properties
        from events
        inner join memberships
            on
                events.user_id = memberships.user_id
                and {{ membership_active_at('memberships', 'events.occurred_at') }}
        where events.org_id is null

    ),
{% endif %}

-- An event counts for the organization it happened in.
final as (

    select
        event_id,
        event_name,
        occurred_at,
        user_id,
        org_id,
        properties
    from events
    where org_id is not null
    {%- if counts_member_orgs %}
        union all
        select * from events_in_member_orgs
    {%- endif %}

)

select * from final -- noqa: AM04
