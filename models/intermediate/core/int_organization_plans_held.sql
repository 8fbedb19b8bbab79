with plan_changes as (

    select * from {{ ref('int_subscription_changes_classified') }}

),

-- Each change starts a period that lasts until the org's next change (changes at the same
-- moment ordered by id: the last one holds from then on, the others hold for no time).
-- Before an org's first change it held no plan, tier 0: no row says so.
periods as (

    select
        change_id,
        org_id,
        to_plan_id as plan_id,
        to_tier as plan_tier,
        changed_at as valid_from,
        lead(changed_at) over (
            partition by org_id order by changed_at, change_id
        ) as valid_to
    from plan_changes

),

final as (

    select * from periods

)

select * from final
