with source as (

    select * from {{ source('production', 'organizations') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_string() }}) as org_id,
        cast(name as {{ dbt.type_string() }}) as name,
        cast(created_at as timestamptz) as created_at,
        cast(primary_language as {{ dbt.type_string() }}) as primary_language,
        cast(vcs_provider as {{ dbt.type_string() }}) as vcs_provider,
        cast(updated_at as timestamptz) as updated_at
    from source

)

select * from renamed
