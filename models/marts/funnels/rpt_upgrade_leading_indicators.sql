{%- set within_days = var('analytics__leading_indicator_days') %}
{%- if within_days is not number or within_days <= 0 or within_days != within_days | int %}
    {{ exceptions.raise_compiler_error('analytics__leading_indicator_days must be positive') }}
{%- endif %}

with organizations as (

    select * from {{ ref('int_organizations_joined_to_first_upgrades') }}

),

org_events as (

    {{ funnel_entity_events('org') }}

),

data_end as (

    {{ data_end() }}

),

-- Orgs that have had their whole first days before the latest event.
mature_orgs as (

    select
        organizations.org_id,
        organizations.created_at,
        organizations.first_upgraded_at,
        organizations.first_upgraded_at is not null as is_upgraded
    from organizations
    where
        {{ dbt.dateadd('day', within_days, 'organizations.created_at') }}
        <= (select data_end.last_event_at from data_end)

),

min_events_thresholds as (

    {{ positive_numbers_from_var('analytics__leading_indicator_min_events', 'min_events') }}

),

-- Activity in the org's first days that came before its first upgrade, counted per event.
early_event_counts as (

    select
        mature_orgs.org_id,
        org_events.event_name,
        count(*) as events
    from mature_orgs
    inner join org_events
        on
            mature_orgs.org_id = org_events.entity_id
            and {{ dbt.dateadd('day', within_days, 'mature_orgs.created_at') }}
            > org_events.occurred_at
            and (
                mature_orgs.first_upgraded_at is null
                or mature_orgs.first_upgraded_at > org_events.occurred_at
            )
    group by mature_orgs.org_id, org_events.event_name

),

-- The orgs that did each event at least min_events times.
early_activity as (

    select
        early_event_counts.org_id,
        early_event_counts.event_name,
        min_events_thresholds.min_events
    from early_event_counts
    inner join min_events_thresholds
        on early_event_counts.events >= min_events_thresholds.min_events

),

totals as (

    select
        count(*) as orgs,
        sum(case when is_upgraded then 1 else 0 end) as upgraded_orgs
    from mature_orgs

),

orgs_with_event as (

    select
        early_activity.event_name,
        early_activity.min_events,
        count(*) as orgs_with,
        sum(case when mature_orgs.is_upgraded then 1 else 0 end) as upgraded_orgs_with
    from early_activity
    inner join mature_orgs
        on early_activity.org_id = mature_orgs.org_id
    group by early_activity.event_name, early_activity.min_events

),

groups_compared as (

    select
        orgs_with_event.event_name,
        orgs_with_event.min_events,
        orgs_with_event.orgs_with,
        orgs_with_event.upgraded_orgs_with,
        totals.orgs - orgs_with_event.orgs_with as orgs_without,
        totals.upgraded_orgs - orgs_with_event.upgraded_orgs_with as upgraded_orgs_without,
        1.0 * orgs_with_event.upgraded_orgs_with / orgs_with_event.orgs_with
            as upgrade_rate_with,
        1.0 * (totals.upgraded_orgs - orgs_with_event.upgraded_orgs_with)
        / nullif(totals.orgs - orgs_with_event.orgs_with, 0) as upgrade_rate_without
    from orgs_with_event
    cross join totals

),

final as (

    select
        cast(event_name as {{ dbt.type_string() }}) as event_name,
        {{ within_days }} as within_days,
        min_events,
        cast(orgs_with as {{ dbt.type_bigint() }}) as orgs_with,
        cast(upgraded_orgs_with as {{ dbt.type_bigint() }}) as upgraded_orgs_with,
        cast(upgrade_rate_with as {{ dbt.type_numeric() }}) as upgrade_rate_with,
        cast(orgs_without as {{ dbt.type_bigint() }}) as orgs_without,
        cast(upgraded_orgs_without as {{ dbt.type_bigint() }}) as upgraded_orgs_without,
        cast(upgrade_rate_without as {{ dbt.type_numeric() }}) as upgrade_rate_without,
        cast(upgrade_rate_with / nullif(upgrade_rate_without, 0) as {{ dbt.type_numeric() }})
            as lift,
        cast(upgrade_rate_with - upgrade_rate_without as {{ dbt.type_numeric() }})
            as upgrade_rate_difference,
        -- Amplitude Compass's predictive values: of the orgs that did the event, the share
        -- that upgraded; of those that did not, the share that did not upgrade.
        cast(upgrade_rate_with as {{ dbt.type_numeric() }}) as positive_predictive_value,
        cast(1 - upgrade_rate_without as {{ dbt.type_numeric() }}) as negative_predictive_value,
        -- The phi coefficient of "did the event" and "upgraded": unlike lift, it does not
        -- explode when few orgs without the event upgraded.
        cast(
            (
                1.0 * upgraded_orgs_with * (orgs_without - upgraded_orgs_without)
                - 1.0 * (orgs_with - upgraded_orgs_with) * upgraded_orgs_without
            )
            / nullif(sqrt(
                1.0 * orgs_with * orgs_without
                * (upgraded_orgs_with + upgraded_orgs_without)
                * (orgs_with + orgs_without - upgraded_orgs_with - upgraded_orgs_without)
            ), 0)
            as {{ dbt.type_numeric() }}
        ) as correlation
    from groups_compared

)

select * from final
