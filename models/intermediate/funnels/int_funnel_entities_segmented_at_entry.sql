with funnel_progress as (

    select * from {{ ref('fct_funnel_progress') }}

),

organizations as (

    select * from {{ ref('int_organizations_with_first_upgrade') }}

),

memberships as (

    select * from {{ ref('stg_production__memberships') }}

),

organization_versions as (

    select * from {{ ref('int_organization_versions') }}

),

plan_changes as (

    select * from {{ ref('fct_plan_changes') }}

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
        and (memberships.left_at is null or memberships.left_at > funnel_progress.entered_at)

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

-- The org's plan at entry: the one its latest change at or before then moved it to.
plans_at_entry as (

    select
        entities_with_org.funnel_name,
        entities_with_org.entity_id,
        plan_changes.to_plan_id,
        row_number() over (
            partition by entities_with_org.funnel_name, entities_with_org.entity_id
            order by plan_changes.changed_at desc, plan_changes.change_id desc
        ) as change_rank
    from entities_with_org
    inner join plan_changes
        on
            entities_with_org.org_id = plan_changes.org_id
            and entities_with_org.entered_at >= plan_changes.changed_at

),

final as (

    select
        entities_with_org.funnel_name,
        entities_with_org.entity_type,
        entities_with_org.entity_id,
        entities_with_org.entered_at,
        entities_with_org.furthest_step,
        entities_with_org.org_id,
        coalesce(
            organization_versions.primary_language, organizations.primary_language, 'unknown'
        ) as primary_language,
        coalesce(
            organization_versions.vcs_provider, organizations.vcs_provider, 'unknown'
        ) as vcs_provider,
        case
            when entities_with_org.org_id is null then 'unknown'
            else coalesce(plans_at_entry.to_plan_id, 'none')
        end as plan_at_entry
    from entities_with_org
    left join organizations
        on entities_with_org.org_id = organizations.org_id
    -- The org's language and VCS provider as the history had them at entry (today's row
    -- where the history has no version of the org).
    left join organization_versions
        on
            entities_with_org.org_id = organization_versions.org_id
            and entities_with_org.entered_at >= organization_versions.valid_from
            and (
                organization_versions.valid_to is null
                or entities_with_org.entered_at < organization_versions.valid_to
            )
    left join plans_at_entry
        on
            entities_with_org.funnel_name = plans_at_entry.funnel_name
            and entities_with_org.entity_id = plans_at_entry.entity_id
            and plans_at_entry.change_rank = 1

)

select * from final
