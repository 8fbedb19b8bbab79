with source as (

    {{ raw_rows('production', 'users', 'id', 'updated_at desc, _dlt_load_id desc') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_string() }}) as user_id,
        cast(email as {{ dbt.type_string() }}) as email,
        cast(created_at as {{ type_timestamptz() }}) as created_at,
        cast(updated_at as {{ type_timestamptz() }}) as updated_at
    from source

)

select * from renamed
