with subscription_changes as (

    select * from {{ ref('stg_production__subscription_changes') }}

),

plans as (

    select * from {{ ref('stg_production__plans') }}

),

-- No plan (before the first subscription, after a cancellation) counts as tier 0, free.
changes_with_plans as (

    select
        subscription_changes.change_id,
        subscription_changes.org_id,
        subscription_changes.changed_at,
        subscription_changes.from_plan_id,
        subscription_changes.to_plan_id,
        subscription_changes.changed_by_user_id,
        subscription_changes.updated_at,
        subscription_changes.load_id,
        coalesce(from_plans.tier, 0) as from_tier,
        coalesce(to_plans.tier, 0) as to_tier,
        coalesce(from_plans.monthly_price_cents, 0) as from_mrr_cents,
        coalesce(to_plans.monthly_price_cents, 0) as to_mrr_cents,
        lag(subscription_changes.change_id) over (
            partition by subscription_changes.org_id
            order by subscription_changes.changed_at, subscription_changes.change_id
        ) as previous_change_id,
        lag(subscription_changes.to_plan_id) over (
            partition by subscription_changes.org_id
            order by subscription_changes.changed_at, subscription_changes.change_id
        ) as previous_to_plan_id
    from subscription_changes
    left join plans as from_plans
        on subscription_changes.from_plan_id = from_plans.plan_id
    left join plans as to_plans
        on subscription_changes.to_plan_id = to_plans.plan_id

),

-- Precedence: a cancellation, then the tier comparison (contract: an upgrade is a move to a
-- higher tier, no plan counting as tier 0, so a paid return after a cancellation is an
-- upgrade), then a return to a free plan after a cancellation; a move between plans of the
-- same tier counts by its price.
classified as (

    select
        change_id,
        org_id,
        changed_at,
        from_plan_id,
        to_plan_id,
        changed_by_user_id,
        updated_at,
        load_id,
        from_tier,
        to_tier,
        to_mrr_cents - from_mrr_cents as mrr_delta_cents,
        case
            when to_plan_id is null then 'cancel'
            when to_tier > from_tier then 'upgrade'
            when to_tier < from_tier then 'downgrade'
            when previous_change_id is not null and previous_to_plan_id is null then 'reactivate'
            when from_plan_id is null then 'new'
            when to_mrr_cents > from_mrr_cents then 'upgrade'
            else 'downgrade'
        end as change_type
    from changes_with_plans

),

final as (

    select * from classified

)

select * from final
