with source as (

    {{ raw_rows('segment', 'aliases', 'id', '_receipt_order') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_string() }}) as message_id,
        cast(previous_id as {{ dbt.type_string() }}) as previous_id,
        cast(user_id as {{ dbt.type_string() }}) as user_id,
        cast(timestamp as {{ type_timestamptz() }}) as aliased_at,
        cast(received_at as {{ type_timestamptz() }}) as received_at
    from source

)

select * from renamed
