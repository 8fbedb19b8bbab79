with source as (

    select * from {{ source('segment', 'aliases') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_string() }}) as message_id,
        cast(previous_id as {{ dbt.type_string() }}) as previous_id,
        cast(user_id as {{ dbt.type_string() }}) as user_id,
        cast(timestamp as timestamptz) as aliased_at,
        cast(received_at as timestamptz) as received_at
    from source

)

select * from renamed
