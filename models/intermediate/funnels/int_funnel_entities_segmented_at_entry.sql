with steps_reached as (

    select * from {{ ref('int_funnel_steps_reached') }}

),

organizations as (

    select * from {{ ref('int_organizations_joined_to_first_upgrades') }}

),

memberships as (

    select * from {{ ref('stg_production__memberships') }}

),

organization_versions as (

    select * from {{ ref('int_organization_versions') }}

),

plans_held as (

    select * from {{ ref('int_organization_plans_held') }}

),

-- Which step's moment each funnel's breakdown reads (breakdown_attribution: first_touch is 1).
breakdown_steps as (

    {%- for funnel in funnel_definitions() %}
        select
            cast({{ funnel_literal(funnel.name) }} as {{ dbt.type_string() }}) as funnel_name,
            {{ funnel_breakdown_step(funnel) }} as breakdown_step
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}

),

-- One row per funnel x entity that entered (fct_funnel_progress's grain), with the moment its
-- segments are read at: its entry, or when its best attempt reached the breakdown step
-- (null when it never did).
funnel_progress as (

    select
        entries.funnel_name,
        entries.entity_type,
        entries.entity_id,
        entries.entered_at,
        entries.furthest_step,
        case
            when breakdown_steps.breakdown_step = 1 then entries.entered_at
            else attributed_steps.reached_at
        end as attributed_at
    from steps_reached as entries
    inner join breakdown_steps
        on entries.funnel_name = breakdown_steps.funnel_name
    left join steps_reached as attributed_steps
        on
            entries.funnel_name = attributed_steps.funnel_name
            and entries.entity_id = attributed_steps.entity_id
            and breakdown_steps.breakdown_step = attributed_steps.step_number
    where entries.step_number = 1

),

-- A user's org at the attribution moment: the membership active then (the latest joined, for
-- a member of several), else the first one joined after it (a signup is tracked before its
-- membership row is written).
user_orgs_ranked as (

    select
        funnel_progress.funnel_name,
        funnel_progress.entity_id,
        memberships.org_id,
        row_number() over (
            partition by funnel_progress.funnel_name, funnel_progress.entity_id
            order by
                case when memberships.joined_at <= funnel_progress.attributed_at then 0 else 1 end,
                case
                    when memberships.joined_at <= funnel_progress.attributed_at
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
            {{ membership_active_at('memberships', 'funnel_progress.attributed_at') }}
            or memberships.joined_at > funnel_progress.attributed_at
        )

),

entities_with_org as (

    select
        funnel_progress.funnel_name,
        funnel_progress.entity_type,
        funnel_progress.entity_id,
        funnel_progress.entered_at,
        funnel_progress.attributed_at,
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

-- An entity that never reached the breakdown step has no value there: `(not reached)`.
final as (

    select
        entities_with_org.funnel_name,
        entities_with_org.entity_type,
        entities_with_org.entity_id,
        entities_with_org.entered_at,
        entities_with_org.attributed_at,
        entities_with_org.furthest_step,
        entities_with_org.org_id,
        case
            when entities_with_org.attributed_at is null then '(not reached)'
            else coalesce(
                    organization_versions.primary_language,
                    organizations.primary_language,
                    'unknown'
                )
        end as primary_language,
        case
            when entities_with_org.attributed_at is null then '(not reached)'
            else coalesce(
                    organization_versions.vcs_provider, organizations.vcs_provider, 'unknown'
                )
        end as vcs_provider,
        case
            when entities_with_org.attributed_at is null then '(not reached)'
            when entities_with_org.org_id is null then 'unknown'
            else coalesce(plans_held.plan_id, 'none')
        end as plan_at_entry
    from entities_with_org
    left join organizations
        on entities_with_org.org_id = organizations.org_id
    -- The org's language and VCS provider as the history had them at the attribution moment
    -- (today's row where the history has no version of the org).
    left join organization_versions
        on
            entities_with_org.org_id = organization_versions.org_id
            and {{ valid_at(
                'organization_versions.valid_from',
                'organization_versions.valid_to',
                'entities_with_org.attributed_at',
            ) }}
    -- The plan the org held then; none before its first change or after a cancellation.
    left join plans_held
        on
            entities_with_org.org_id = plans_held.org_id
            and {{ valid_at(
                'plans_held.valid_from', 'plans_held.valid_to', 'entities_with_org.attributed_at'
            ) }}

)

select * from final
