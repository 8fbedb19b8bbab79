with source as (

    select * from {{ source('production', 'users') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_string() }}) as user_id,
        cast(email as {{ dbt.type_string() }}) as email,
        cast(created_at as timestamptz) as created_at,
        cast(updated_at as timestamptz) as updated_at
    from source

)

select * from renamed
