with snapshots as (

    select * from {{ ref('snp_production__organizations') }}

),

group_traits as (

    select * from {{ ref('int_organization_traits_from_groups') }}

),

-- Each version of an org the warehouse has seen, valid over [valid_from, valid_to). The
-- first version also stands for the time before it (production kept no older one): it is
-- the closest known value, and today's row for an org that never changed. Production wins;
-- a trait it lacks comes from the org's group calls.
versions as (

    select
        snapshots.org_id,
        coalesce(snapshots.name, group_traits.name) as name,
        coalesce(snapshots.primary_language, group_traits.primary_language) as primary_language,
        coalesce(snapshots.vcs_provider, group_traits.vcs_provider) as vcs_provider,
        case
            when
                row_number() over (
                    partition by snapshots.org_id order by snapshots.dbt_valid_from
                ) = 1
                then cast('0001-01-01 00:00:00+00' as {{ type_timestamptz() }})
            else snapshots.dbt_valid_from
        end as valid_from,
        snapshots.dbt_valid_to as valid_to
    from snapshots
    left join group_traits
        on snapshots.org_id = group_traits.org_id

),

final as (

    select * from versions

)

select * from final
