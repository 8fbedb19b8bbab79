with organizations as (

    select * from {{ ref('int_organizations_joined_to_first_upgrades') }}

),

plan_changes as (

    select * from {{ ref('fct_plan_changes') }}

),

organization_versions as (

    select * from {{ ref('int_organization_versions') }}

),

-- Each org counts once a month however many times it upgraded in it.
upgraded_org_months as (

    select
        org_id,
        cast({{ dbt.date_trunc('month', 'changed_at') }} as date) as month,
        min(changed_at) as first_upgraded_at
    from plan_changes
    where change_type = 'upgrade'
    group by
        org_id,
        cast({{ dbt.date_trunc('month', 'changed_at') }} as date)

),

-- One row per upgraded org x month x segment type, with the org's demographics when it
-- first upgraded that month (the history's version then; today's row where it has none).
upgraded_org_segments as (

    {%- for segment_type in ['primary_language', 'vcs_provider'] %}
        select
            upgraded_org_months.month,
            upgraded_org_months.org_id,
            '{{ segment_type }}' as segment_type,
            coalesce(
                organization_versions.{{ segment_type }},
                organizations.{{ segment_type }},
                'unknown'
            ) as segment_value
        from upgraded_org_months
        left join organizations
            on upgraded_org_months.org_id = organizations.org_id
        left join organization_versions
            on
                upgraded_org_months.org_id = organization_versions.org_id
                and {{ valid_at(
                    'organization_versions.valid_from',
                    'organization_versions.valid_to',
                    'upgraded_org_months.first_upgraded_at',
                ) }}
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}

),

segment_counts as (

    select
        month,
        segment_type,
        segment_value,
        count(*) as upgraded_orgs
    from upgraded_org_segments
    group by month, segment_type, segment_value

),

final as (

    select
        month,
        cast(segment_type as {{ dbt.type_string() }}) as segment_type,
        cast(segment_value as {{ dbt.type_string() }}) as segment_value,
        upgraded_orgs,
        cast(
            1.0 * upgraded_orgs
            / sum(upgraded_orgs) over (partition by month, segment_type)
            as {{ dbt.type_numeric() }}
        ) as share_of_upgrades
    from segment_counts

)

select * from final
