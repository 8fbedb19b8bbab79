with source as (

    select * from {{ source('amplitude', 'events') }}

),

renamed as (

    select
        cast(insert_id as {{ dbt.type_string() }}) as insert_id,
        cast(uuid as {{ dbt.type_string() }}) as event_uuid,
        cast(event_type as {{ dbt.type_string() }}) as source_event_name,
        cast(user_id as {{ dbt.type_string() }}) as user_id,
        cast(device_id as {{ dbt.type_string() }}) as device_id,
        cast(amplitude_id as {{ dbt.type_bigint() }}) as amplitude_id,
        cast(session_id as {{ dbt.type_bigint() }}) as session_id,
        cast(event_time as timestamptz) as occurred_at,
        cast(server_upload_time as timestamptz) as received_at,
        cast(_dlt_load_id as {{ dbt.type_string() }}) as load_id,
        cast(client_event_time as timestamptz) as client_occurred_at,
        cast(event_properties as jsonb) as event_properties,
        cast(user_properties as jsonb) as user_properties,
        cast(groups as jsonb) as groups,
        cast(group_properties as jsonb) as group_properties,
        cast(platform as {{ dbt.type_string() }}) as platform,
        cast(library as {{ dbt.type_string() }}) as library
    from source

)

select * from renamed
