with funnel_steps_reached as (

    select * from {{ ref('fct_funnel_steps') }}

),

funnel_steps as (

    {{ funnel_steps_spine() }}

),

bucket_bounds as (

    {{ positive_numbers_from_var('analytics__time_to_convert_bucket_seconds', 'upper_seconds') }}

),

-- Buckets [lower, upper) from 0 through the bounds, the last one open-ended.
buckets as (

    select
        coalesce(
            lag(upper_seconds) over (order by upper_seconds), 0
        ) as lower_seconds,
        upper_seconds
    from bucket_bounds
    union all
    select
        max(upper_seconds) as lower_seconds,
        cast(null as {{ dbt.type_int() }}) as upper_seconds
    from bucket_bounds

),

seconds_from_start as (

    select
        funnel_steps_reached.funnel_name,
        funnel_steps_reached.step_number,
        {{ dbt.datediff('entry.reached_at', 'funnel_steps_reached.reached_at', 'second') }}
            as seconds_from_step_1
    from funnel_steps_reached
    inner join funnel_steps_reached as entry
        on
            funnel_steps_reached.funnel_name = entry.funnel_name
            and funnel_steps_reached.entity_id = entry.entity_id
            and entry.step_number = 1
    where funnel_steps_reached.step_number > 1

),

bucket_counts as (

    select
        seconds_from_start.funnel_name,
        seconds_from_start.step_number,
        buckets.lower_seconds,
        count(*) as entities
    from seconds_from_start
    inner join buckets
        on
            seconds_from_start.seconds_from_step_1 >= buckets.lower_seconds
            and (
                buckets.upper_seconds is null
                or seconds_from_start.seconds_from_step_1 < buckets.upper_seconds
            )
    group by seconds_from_start.funnel_name, seconds_from_start.step_number, buckets.lower_seconds

),

-- Every bucket of every step after the first, so an empty bucket shows 0 entities.
final as (

    select
        funnel_steps.funnel_name,
        funnel_steps.entity_type,
        funnel_steps.step_number,
        funnel_steps.step_name,
        cast(buckets.lower_seconds as {{ dbt.type_int() }}) as lower_seconds,
        cast(buckets.upper_seconds as {{ dbt.type_int() }}) as upper_seconds,
        cast(coalesce(bucket_counts.entities, 0) as {{ dbt.type_bigint() }}) as entities,
        cast(
            1.0 * coalesce(bucket_counts.entities, 0)
            / nullif(sum(coalesce(bucket_counts.entities, 0)) over (
                partition by funnel_steps.funnel_name, funnel_steps.step_number
            ), 0)
            as {{ dbt.type_numeric() }}
        ) as share
    from funnel_steps
    cross join buckets
    left join bucket_counts
        on
            funnel_steps.funnel_name = bucket_counts.funnel_name
            and funnel_steps.step_number = bucket_counts.step_number
            and buckets.lower_seconds = bucket_counts.lower_seconds
    where funnel_steps.step_number > 1

)

select * from final
