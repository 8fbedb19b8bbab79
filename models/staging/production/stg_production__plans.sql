with source as (

    {{ raw_rows('production', 'plans', 'id', '_dlt_load_id desc') }}

),

renamed as (

    select
        cast(id as {{ dbt.type_string() }}) as plan_id,
        cast(name as {{ dbt.type_string() }}) as name,
        cast(tier as {{ dbt.type_int() }}) as tier,
        cast(monthly_price_cents as {{ dbt.type_int() }}) as monthly_price_cents
    from source

)

select * from renamed
