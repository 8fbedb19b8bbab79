with source as (

    select * from {{ source('segment', 'identifies') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_string() }}) as message_id,
        cast(user_id as {{ dbt.type_string() }}) as user_id,
        cast(anonymous_id as {{ dbt.type_string() }}) as anonymous_id,
        cast(timestamp as timestamptz) as identified_at,
        cast(received_at as timestamptz) as received_at
    from source

)

select * from renamed
