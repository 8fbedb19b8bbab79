with groups as (

    select * from {{ ref('stg_segment__groups') }}

),

memberships as (

    select * from {{ ref('stg_production__memberships') }}

),

user_ids_merged as (

    select * from {{ ref('int_user_ids_merged_by_alias') }}

),

-- A group call is evidence that its user (after alias merges) belongs to the organization:
-- when first and last seen, and whether production has a membership row for the pair.
seen as (

    select
        coalesce(user_ids_merged.user_id, groups.user_id) as user_id,
        groups.group_id as org_id,
        min(groups.grouped_at) as first_seen_at,
        max(groups.grouped_at) as last_seen_at,
        count(*) as group_calls
    from groups
    left join user_ids_merged
        on groups.user_id = user_ids_merged.previous_user_id
    where groups.user_id is not null and groups.group_id is not null
    group by
        coalesce(user_ids_merged.user_id, groups.user_id),
        groups.group_id

),

final as (

    select
        seen.user_id,
        seen.org_id,
        seen.first_seen_at,
        seen.last_seen_at,
        seen.group_calls,
        count(memberships.membership_id) > 0 as is_in_production
    from seen
    left join memberships
        on
            seen.user_id = memberships.user_id
            and seen.org_id = memberships.org_id
    group by
        seen.user_id,
        seen.org_id,
        seen.first_seen_at,
        seen.last_seen_at,
        seen.group_calls

)

select * from final
