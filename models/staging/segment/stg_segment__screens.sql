with source as (

    select * from {{ source('segment', 'screens') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_string() }}) as message_id,
        cast(user_id as {{ dbt.type_string() }}) as user_id,
        cast(anonymous_id as {{ dbt.type_string() }}) as anonymous_id,
        cast(context_group_id as {{ dbt.type_string() }}) as context_group_id,
        cast(name as {{ dbt.type_string() }}) as name,
        cast(category as {{ dbt.type_string() }}) as category,
        cast(timestamp as timestamptz) as occurred_at,
        cast(received_at as timestamptz) as received_at,
        cast(_dlt_load_id as {{ dbt.type_string() }}) as load_id,
        cast(properties as jsonb) as properties
    from source

)

select * from renamed
