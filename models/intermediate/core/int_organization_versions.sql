with snapshots as (

    select * from {{ ref('snp_production__organizations') }}

),

-- Each version of an org the warehouse has seen, valid over [valid_from, valid_to). The
-- first version also stands for the time before it (production kept no older one): it is
-- the closest known value, and today's row for an org that never changed.
versions as (

    select
        org_id,
        name,
        primary_language,
        vcs_provider,
        case
            when
                row_number() over (partition by org_id order by dbt_valid_from) = 1
                then cast('0001-01-01 00:00:00+00' as timestamptz)
            else dbt_valid_from
        end as valid_from,
        dbt_valid_to as valid_to
    from snapshots

),

final as (

    select * from versions

)

select * from final
