with source as (

    {{ raw_rows('segment', 'tracks', 'id', '_receipt_order') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_string() }}) as message_id,
        cast(event_text as {{ dbt.type_string() }}) as source_event_name,
        cast(user_id as {{ dbt.type_string() }}) as user_id,
        cast(anonymous_id as {{ dbt.type_string() }}) as anonymous_id,
        cast(context_group_id as {{ dbt.type_string() }}) as context_group_id,
        cast(context_library_name as {{ dbt.type_string() }}) as library_name,
        cast(timestamp as {{ type_timestamptz() }}) as occurred_at,
        cast(received_at as {{ type_timestamptz() }}) as received_at,
        cast(_dlt_load_id as {{ dbt.type_string() }}) as load_id,
        cast(properties as {{ type_json() }}) as properties
    from source

)

select * from renamed
