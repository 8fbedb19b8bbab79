with source as (

    {{ raw_rows('segment', 'groups', 'id', '_receipt_order') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_string() }}) as message_id,
        cast(user_id as {{ dbt.type_string() }}) as user_id,
        cast(anonymous_id as {{ dbt.type_string() }}) as anonymous_id,
        cast(context_group_id as {{ dbt.type_string() }}) as context_group_id,
        cast(group_id as {{ dbt.type_string() }}) as group_id,
        cast(timestamp as {{ type_timestamptz() }}) as grouped_at,
        cast(received_at as {{ type_timestamptz() }}) as received_at,
        cast(traits as {{ type_json() }}) as traits
    from source

)

select * from renamed
