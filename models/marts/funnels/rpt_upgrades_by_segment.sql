with organizations as (

    select * from {{ ref('int_organizations_joined_to_first_upgrades') }}

),

plan_changes as (

    select * from {{ ref('fct_plan_changes') }}

),

-- Each org counts once a month however many times it upgraded in it.
upgraded_org_months as (

    select distinct
        org_id,
        cast({{ dbt.date_trunc('month', 'changed_at') }} as date) as month
    from plan_changes
    where change_type = 'upgrade'

),

-- One row per upgraded org x month x segment type, with the org's current demographics.
upgraded_org_segments as (

    {%- for segment_type in ['primary_language', 'vcs_provider'] %}
        select
            upgraded_org_months.month,
            upgraded_org_months.org_id,
            '{{ segment_type }}' as segment_type,
            coalesce(organizations.{{ segment_type }}, 'unknown') as segment_value
        from upgraded_org_months
        left join organizations
            on upgraded_org_months.org_id = organizations.org_id
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
