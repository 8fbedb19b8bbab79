with steps_reached as (

    select * from {{ ref('int_funnel_steps_reached') }}

),

organizations as (

    select * from {{ ref('int_organizations_joined_to_first_upgrades') }}

),

memberships as (

    select * from {{ ref('stg_production__memberships') }}

),

plans_held as (

    select * from {{ ref('int_organization_plans_held') }}

),

-- One row per funnel x entity that entered (fct_funnel_progress's grain).
funnel_progress as (

    select
        funnel_name,
        entity_type,
        entity_id,
        entered_at,
        furthest_step
    from steps_reached
    where step_number = 1

),

-- A user's org at entry: the membership active then (the latest joined, for a member of
-- several), else the first one joined after it (a signup is tracked before its membership
-- row is written).
user_orgs_ranked as (

    select
        funnel_progress.funnel_name,
        funnel_progress.entity_id,
        memberships.org_id,
        row_number() over (
            partition by funnel_progress.funnel_name, funnel_progress.entity_id
            order by
                case when memberships.joined_at <= funnel_progress.entered_at then 0 else 1 end,
                case
                    when memberships.joined_at <= funnel_progress.entered_at
                        then memberships.joined_at
                end desc,
                memberships.joined_at asc,
                memberships.org_id asc
        ) as org_rank
    from funnel_progress
    inner join memberships
        on funnel_progress.entity_id = memberships.user_id
    where
        funnel_progress.entity_type = 'user'
        and (
            {{ membership_active_at('memberships', 'funnel_progress.entered_at') }}
            or memberships.joined_at > funnel_progress.entered_at
        )

),

entities_with_org as (

    select
        funnel_progress.funnel_name,
        funnel_progress.entity_type,
        funnel_progress.entity_id,
        funnel_progress.entered_at,
        funnel_progress.furthest_step,
        case
            when funnel_progress.entity_type = 'org' then funnel_progress.entity_id
            else user_orgs_ranked.org_id
        end as org_id
    from funnel_progress
    left join user_orgs_ranked
        on
            funnel_progress.funnel_name = user_orgs_ranked.funnel_name
            and funnel_progress.entity_id = user_orgs_ranked.entity_id
            and user_orgs_ranked.org_rank = 1

),

final as (

    select
        entities_with_org.funnel_name,
        entities_with_org.entity_type,
        entities_with_org.entity_id,
        entities_with_org.entered_at,
        entities_with_org.furthest_step,
        entities_with_org.org_id,
        coalesce(organizations.primary_language, 'unknown') as primary_language,
        coalesce(organizations.vcs_provider, 'unknown') as vcs_provider,
        case
            when entities_with_org.org_id is null then 'unknown'
            else coalesce(plans_held.plan_id, 'none')
        end as plan_at_entry
    from entities_with_org
    left join organizations
        on entities_with_org.org_id = organizations.org_id
    -- The plan the org held at entry; none before its first change or after a cancellation.
    left join plans_held
        on
            entities_with_org.org_id = plans_held.org_id
            and {{ valid_at(
                'plans_held.valid_from', 'plans_held.valid_to', 'entities_with_org.entered_at'
            ) }}

)

select * from final
