-- One row per day for MetricFlow's metric_time (the semantic layer's calendar), 2015-2035.
with days as (

    select
        cast(
            {{ dbt.dateadd('day', 'day_numbers.day_number', "cast('2015-01-01' as date)") }}
            as date
        ) as date_day
    from {{ integer_series(7669) }} as day_numbers (day_number)

),

final as (

    select date_day
    from days

)

select * from final
