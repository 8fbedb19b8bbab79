with plan_changes as (

    select * from {{ ref('int_subscription_changes_classified') }}

),

memberships as (

    select * from {{ ref('stg_production__memberships') }}

),

-- The role the user who made the change held in the organization at that moment; null
-- when they were not a member then (support staff acting for a customer, say).
roles_at_change as (

    select
        plan_changes.change_id,
        memberships.role,
        row_number() over (
            partition by plan_changes.change_id
            order by memberships.joined_at desc, memberships.membership_id desc
        ) as membership_rank
    from plan_changes
    inner join memberships
        on
            plan_changes.changed_by_user_id = memberships.user_id
            and plan_changes.org_id = memberships.org_id
            and {{ membership_active_at('memberships', 'plan_changes.changed_at') }}

),

final as (

    select
        plan_changes.change_id,
        plan_changes.org_id,
        plan_changes.changed_at,
        plan_changes.from_plan_id,
        plan_changes.to_plan_id,
        plan_changes.change_type,
        plan_changes.changed_by_user_id,
        roles_at_change.role as changed_by_role,
        plan_changes.mrr_delta_cents
    from plan_changes
    left join roles_at_change
        on
            plan_changes.change_id = roles_at_change.change_id
            and roles_at_change.membership_rank = 1

)

select * from final
