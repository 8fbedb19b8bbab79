with source as (

    {{ raw_rows('amplitude', 'events', 'insert_id', '_receipt_order') }}

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
        cast(event_time as {{ type_timestamptz() }}) as occurred_at,
        cast(server_upload_time as {{ type_timestamptz() }}) as received_at,
        cast(_dlt_load_id as {{ dbt.type_string() }}) as load_id,
        cast(client_event_time as {{ type_timestamptz() }}) as client_occurred_at,
        cast(event_properties as {{ type_json() }}) as event_properties,
        cast(user_properties as {{ type_json() }}) as user_properties,
        cast(groups as {{ type_json() }}) as groups,
        cast(group_properties as {{ type_json() }}) as group_properties,
        cast(platform as {{ dbt.type_string() }}) as platform,
        cast(library as {{ dbt.type_string() }}) as library
    from source

)

select * from renamed
