with organizations as (

    select * from {{ ref('int_organizations_joined_to_first_upgrades') }}

),

data_end as (

    {{ data_end() }}

),

conversion_windows as (

    {{ positive_numbers_from_var('analytics__upgrade_conversion_windows_days', 'window_days') }}

),

-- A cohort is mature for a window once its last possible signup (the end of its month) has
-- had the whole window before the latest event: every org in it had the same chance.
mature_cohort_windows as (

    select distinct
        organizations.cohort_month,
        conversion_windows.window_days
    from organizations
    cross join conversion_windows
    where
        {{ dbt.dateadd(
            'day', 'conversion_windows.window_days',
            dbt.dateadd('month', 1, 'organizations.cohort_month')
        ) }} <= (select data_end.last_event_at from data_end)

),

orgs_in_windows as (

    select
        mature_cohort_windows.cohort_month,
        mature_cohort_windows.window_days,
        organizations.org_id,
        {{ dbt.datediff('organizations.created_at', 'organizations.first_upgraded_at', 'second') }}
        / 86400.0 as days_to_first_upgrade,
        coalesce(
            organizations.first_upgraded_at <= {{ dbt.dateadd(
                'day', 'mature_cohort_windows.window_days', 'organizations.created_at'
            ) }},
            false
        ) as is_upgraded_within_window
    from mature_cohort_windows
    inner join organizations
        on mature_cohort_windows.cohort_month = organizations.cohort_month

),

final as (

    select
        cohort_month,
        window_days,
        count(*) as orgs,
        sum(case when is_upgraded_within_window then 1 else 0 end) as upgraded_orgs,
        cast(
            1.0 * sum(case when is_upgraded_within_window then 1 else 0 end) / count(*)
            as {{ dbt.type_numeric() }}
        ) as conversion_rate,
        cast(
            percentile_cont(0.5) within group (
                order by case when is_upgraded_within_window then days_to_first_upgrade end
            ) as {{ dbt.type_float() }}
        ) as median_days_to_first_upgrade
    from orgs_in_windows
    group by cohort_month, window_days

)

select * from final
