with organizations as (

    select * from {{ ref('int_organizations_joined_to_first_upgrades') }}

),

data_end as (

    {{ data_end() }}

),

cohorts as (

    select
        cohort_month,
        count(*) as orgs
    from organizations
    group by cohort_month

),

-- Calendar months from the signup month to the first upgrade's (an upgrade dated before the
-- org's creation counts in month 0).
first_upgrades_by_month as (

    select
        cohort_month,
        greatest(
            cast(
                {{ dbt.datediff('cohort_month', 'first_upgraded_at', 'month') }}
                as {{ dbt.type_int() }}
            ),
            0
        ) as months_since_signup,
        count(*) as first_upgrades
    from organizations
    where first_upgraded_at is not null
    group by cohort_month, months_since_signup

),

-- One cell per cohort and month from its signup month to the month of the latest event.
cells as (

    select
        cohorts.cohort_month,
        cohorts.orgs,
        month_offsets.months_since_signup,
        {{ dbt.dateadd('month', 'month_offsets.months_since_signup + 1', 'cohorts.cohort_month') }}
        <= (select data_end.last_event_at from data_end) as is_complete
    from cohorts
    cross join {{ integer_series(
        dbt.datediff('cohorts.cohort_month', '(select data_end.last_event_at from data_end)', 'month')
    ) }} as month_offsets (months_since_signup)

),

final as (

    select
        cells.cohort_month,
        cells.months_since_signup,
        cells.orgs,
        cast(
            sum(coalesce(first_upgrades_by_month.first_upgrades, 0)) over cohort_months
            as {{ dbt.type_bigint() }}
        ) as upgraded_orgs,
        cast(
            1.0 * sum(coalesce(first_upgrades_by_month.first_upgrades, 0)) over cohort_months
            / cells.orgs
            as {{ dbt.type_numeric() }}
        ) as upgrade_rate,
        cells.is_complete
    from cells
    left join first_upgrades_by_month
        on
            cells.cohort_month = first_upgrades_by_month.cohort_month
            and cells.months_since_signup = first_upgrades_by_month.months_since_signup
    window cohort_months as (
        partition by cells.cohort_month
        order by cells.months_since_signup
        rows between unbounded preceding and current row
    )

)

select * from final
