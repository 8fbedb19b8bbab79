with source as (

    select * from {{ source('segment', 'groups') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_string() }}) as message_id,
        cast(user_id as {{ dbt.type_string() }}) as user_id,
        cast(anonymous_id as {{ dbt.type_string() }}) as anonymous_id,
        cast(context_group_id as {{ dbt.type_string() }}) as context_group_id,
        cast(group_id as {{ dbt.type_string() }}) as group_id,
        cast(timestamp as timestamptz) as grouped_at,
        cast(received_at as timestamptz) as received_at,
        cast(traits as jsonb) as traits
    from source

)

select * from renamed
