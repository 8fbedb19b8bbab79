with source as (

    {{ raw_rows('segment', 'pages', 'id', '_receipt_order') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_string() }}) as message_id,
        cast(user_id as {{ dbt.type_string() }}) as user_id,
        cast(anonymous_id as {{ dbt.type_string() }}) as anonymous_id,
        cast(context_group_id as {{ dbt.type_string() }}) as context_group_id,
        cast(name as {{ dbt.type_string() }}) as name,
        cast(category as {{ dbt.type_string() }}) as category,
        cast(timestamp as {{ type_timestamptz() }}) as occurred_at,
        cast(received_at as {{ type_timestamptz() }}) as received_at,
        cast(_dlt_load_id as {{ dbt.type_string() }}) as load_id,
        cast(properties as {{ type_json() }}) as properties
    from source

)

select * from renamed
