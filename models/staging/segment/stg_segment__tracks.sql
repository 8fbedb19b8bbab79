with source as (

    select * from {{ source('segment', 'tracks') }}

),

renamed as (

    select
        id as message_id,
        event_text as source_event_name,
        cast(user_id as {{ dbt.type_string() }}) as user_id,
        anonymous_id,
        cast(timestamp as timestamptz) as occurred_at,
        cast(received_at as timestamptz) as received_at,
        cast(properties as jsonb) as properties
    from source

)

select * from renamed
