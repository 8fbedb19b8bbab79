with organizations as (

    select * from {{ ref('stg_production__organizations') }}

),

plan_changes as (

    select * from {{ ref('int_subscription_changes_classified') }}

),

first_upgrades as (

    select
        org_id,
        min(changed_at) as first_upgraded_at
    from plan_changes
    where change_type = 'upgrade'
    group by org_id

),

final as (

    select
        organizations.org_id,
        organizations.created_at,
        cast({{ dbt.date_trunc('month', 'organizations.created_at') }} as date) as cohort_month,
        organizations.primary_language,
        organizations.vcs_provider,
        first_upgrades.first_upgraded_at
    from organizations
    left join first_upgrades
        on organizations.org_id = first_upgrades.org_id
    where organizations.created_at is not null

)

select * from final
