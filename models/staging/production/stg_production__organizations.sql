with source as (

    {{ raw_rows('production', 'organizations', 'id', 'updated_at desc, _dlt_load_id desc') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_string() }}) as org_id,
        cast(name as {{ dbt.type_string() }}) as name,
        cast(created_at as {{ type_timestamptz() }}) as created_at,
        cast(primary_language as {{ dbt.type_string() }}) as primary_language,
        cast(vcs_provider as {{ dbt.type_string() }}) as vcs_provider,
        cast(updated_at as {{ type_timestamptz() }}) as updated_at
    from source

)

select * from renamed
