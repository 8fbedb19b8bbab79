with source as (

    {{ raw_rows('production', 'subscription_changes', 'id', 'updated_at desc, _dlt_load_id desc') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_string() }}) as change_id,
        cast(organization_id as {{ dbt.type_string() }}) as org_id,
        cast(changed_at as {{ type_timestamptz() }}) as changed_at,
        cast(from_plan_id as {{ dbt.type_string() }}) as from_plan_id,
        cast(to_plan_id as {{ dbt.type_string() }}) as to_plan_id,
        cast(changed_by_user_id as {{ dbt.type_string() }}) as changed_by_user_id,
        cast(updated_at as {{ type_timestamptz() }}) as updated_at,
        cast(_dlt_load_id as {{ dbt.type_string() }}) as load_id
    from source

)

select * from renamed
