with organizations as (

    select * from {{ ref('stg_production__organizations') }}

),

plans_held as (

    select * from {{ ref('int_organization_plans_held') }}

),

memberships as (

    select * from {{ ref('stg_production__memberships') }}

),

group_traits as (

    select * from {{ ref('int_organization_traits_from_groups') }}

),

current_plans as (

    select
        org_id,
        plan_id,
        plan_tier
    from plans_held
    where valid_to is null

),

first_paid as (

    select
        org_id,
        min(valid_from) as first_paid_at
    from plans_held
    where plan_tier > 0
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
        current_plans.plan_id as current_plan_id,
        coalesce(current_plans.plan_tier, 0) as current_plan_tier,
        coalesce(current_plans.plan_tier, 0) > 0 as is_paying,
        first_paid.first_paid_at,
        coalesce(current_members.member_count, 0) as member_count
    from organizations
    left join current_plans
        on organizations.org_id = current_plans.org_id
    left join first_paid
        on organizations.org_id = first_paid.org_id
    left join current_members
        on organizations.org_id = current_members.org_id
    left join group_traits
        on organizations.org_id = group_traits.org_id

)

select * from final
