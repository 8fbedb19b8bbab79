with source as (

    {{ raw_rows('production', 'memberships', 'id', 'updated_at desc, _dlt_load_id desc') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_string() }}) as membership_id,
        cast(user_id as {{ dbt.type_string() }}) as user_id,
        cast(organization_id as {{ dbt.type_string() }}) as org_id,
        cast(role as {{ dbt.type_string() }}) as role,
        cast(created_at as {{ type_timestamptz() }}) as joined_at,
        cast(deleted_at as {{ type_timestamptz() }}) as left_at,
        cast(updated_at as {{ type_timestamptz() }}) as updated_at
    from source

)

select * from renamed
