with users as (

    select * from {{ ref('stg_production__users') }}

),

memberships as (

    select * from {{ ref('stg_production__memberships') }}

),

events as (

    select * from {{ ref('int_events_stitched_to_users') }}

),

current_orgs as (

    select
        user_id,
        count(distinct org_id) as org_count
    from memberships
    where left_at is null
    group by user_id

),

-- Product activity only: plan changes derived from production are not the user being seen.
activity as (

    select
        user_id,
        min(occurred_at) as first_seen_at,
        max(occurred_at) as last_seen_at
    from events
    where user_id is not null and {{ is_tracked_event('source') }}
    group by user_id

),

-- The email stays in staging: only its domain (the company) reaches the marts.
final as (

    select
        users.user_id,
        users.created_at as signed_up_at,
        lower({{ dbt.split_part('users.email', "'@'", 2) }}) as email_domain,
        coalesce(current_orgs.org_count, 0) as org_count,
        activity.first_seen_at,
        activity.last_seen_at
    from users
    left join current_orgs
        on users.user_id = current_orgs.user_id
    left join activity
        on users.user_id = activity.user_id

)

select * from final
