with source as (

    {{ raw_rows('segment', 'identifies', 'id', '_receipt_order') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_string() }}) as message_id,
        cast(user_id as {{ dbt.type_string() }}) as user_id,
        cast(anonymous_id as {{ dbt.type_string() }}) as anonymous_id,
        cast(timestamp as {{ type_timestamptz() }}) as identified_at,
        cast(received_at as {{ type_timestamptz() }}) as received_at
    from source

)

select * from renamed
