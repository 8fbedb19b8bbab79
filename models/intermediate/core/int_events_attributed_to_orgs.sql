with events as (

    select * from {{ ref('int_events_stitched_to_users') }}

),

memberships as (

    select * from {{ ref('stg_production__memberships') }}

),

-- An event counts for the organization it happened in.
events_in_own_org as (

    select
        event_id,
        event_name,
        occurred_at,
        user_id,
        org_id
    from events
    where org_id is not null

),

-- An event without an organization (a view aggregating all of a user's orgs) counts for
-- every organization the user was a member of at that moment (joined at or before it, not
-- yet left), when the var org_attribution is `all_member_orgs`.
events_in_member_orgs as (

    select distinct
        events.event_id,
        events.event_name,
        events.occurred_at,
        events.user_id,
        memberships.org_id
    from events
    inner join memberships
        on
            events.user_id = memberships.user_id
            and {{ membership_active_at('memberships', 'events.occurred_at') }}
    where
        events.org_id is null
        and {{ 'true' if org_attribution() == 'all_member_orgs' else 'false' }}

),

final as (

    select * from events_in_own_org
    union all
    select * from events_in_member_orgs

)

select * from final
