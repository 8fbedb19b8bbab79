with organizations as (

    select * from {{ ref('stg_production__organizations') }}

),

plan_changes as (

    select * from {{ ref('int_subscription_changes_classified') }}

),

plans as (

    select * from {{ ref('stg_production__plans') }}

),

memberships as (

    select * from {{ ref('stg_production__memberships') }}

),

group_traits as (

    select * from {{ ref('int_organization_traits_from_groups') }}

),

latest_changes as (

    select
        org_id,
        to_plan_id,
        row_number() over (
            partition by org_id order by changed_at desc, change_id desc
        ) as recency_rank
    from plan_changes

),

first_paid as (

    select
        org_id,
        min(changed_at) as first_paid_at
    from plan_changes
    where to_tier > 0
    group by org_id

),

current_members as (

    select
        org_id,
        count(distinct user_id) as member_count
    from memberships
    where left_at is null
    group by org_id

),

-- An organization that never subscribed, or cancelled, has no current plan: tier 0.
-- Production's attributes win; one it lacks comes from the org's group calls.
final as (

    select
        organizations.org_id,
        coalesce(organizations.name, group_traits.name) as name,
        organizations.created_at,
        coalesce(
            organizations.primary_language, group_traits.primary_language
        ) as primary_language,
        coalesce(organizations.vcs_provider, group_traits.vcs_provider) as vcs_provider,
        latest_changes.to_plan_id as current_plan_id,
        coalesce(plans.tier, 0) as current_plan_tier,
        coalesce(plans.tier, 0) > 0 as is_paying,
        first_paid.first_paid_at,
        coalesce(current_members.member_count, 0) as member_count
    from organizations
    left join latest_changes
        on
            organizations.org_id = latest_changes.org_id
            and latest_changes.recency_rank = 1
    left join plans
        on latest_changes.to_plan_id = plans.plan_id
    left join first_paid
        on organizations.org_id = first_paid.org_id
    left join current_members
        on organizations.org_id = current_members.org_id
    left join group_traits
        on organizations.org_id = group_traits.org_id

)

select * from final
