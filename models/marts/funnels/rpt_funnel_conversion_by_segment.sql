{%- set segment_types = ['primary_language', 'vcs_provider', 'plan_at_entry'] %}

with entities as (

    select * from {{ ref('int_funnel_entities_segmented_at_entry') }}

),

funnel_steps as (

    {{ funnel_steps_spine() }}

),

entity_segments as (

    {%- for segment_type in segment_types %}
        select
            funnel_name,
            entity_id,
            furthest_step,
            '{{ segment_type }}' as segment_type,
            {{ segment_type }} as segment_value
        from entities
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}

),

-- Every step for every segment that entered, so a step nobody reached shows 0 entities.
segment_step_counts as (

    select
        funnel_steps.funnel_name,
        funnel_steps.entity_type,
        entity_segments.segment_type,
        entity_segments.segment_value,
        funnel_steps.step_number,
        funnel_steps.step_name,
        sum(
            case when entity_segments.furthest_step >= funnel_steps.step_number then 1 else 0 end
        ) as entities
    from funnel_steps
    inner join entity_segments
        on funnel_steps.funnel_name = entity_segments.funnel_name
    group by
        funnel_steps.funnel_name,
        funnel_steps.entity_type,
        entity_segments.segment_type,
        entity_segments.segment_value,
        funnel_steps.step_number,
        funnel_steps.step_name

),

final as (

    select
        funnel_name,
        entity_type,
        cast(segment_type as {{ dbt.type_string() }}) as segment_type,
        cast(segment_value as {{ dbt.type_string() }}) as segment_value,
        step_number,
        step_name,
        cast(entities as {{ dbt.type_bigint() }}) as entities,
        cast(
            1.0 * entities / first_value(entities) over segment_steps as {{ dbt.type_numeric() }}
        ) as conversion_from_start,
        cast(
            1.0 * entities / nullif(lag(entities) over segment_steps, 0)
            as {{ dbt.type_numeric() }}
        ) as conversion_from_previous
    from segment_step_counts
    window segment_steps as (
        partition by funnel_name, segment_type, segment_value
        order by step_number
    )

)

select * from final
