{%- set segment_types = ['primary_language', 'vcs_provider', 'plan_at_entry'] %}

with entities as (

    select * from {{ ref('int_funnel_entities_segmented_at_entry') }}

),

funnel_progress as (

    select * from {{ ref('fct_funnel_progress') }}

),

funnel_steps as (

    {{ funnel_steps_spine() }}

),

-- Entities whose window is still open are counted apart (is_complete false), so their
-- steps not reached yet never read as drop-off.
entities_with_completeness as (

    select
        entities.funnel_name,
        entities.entity_id,
        entities.furthest_step,
        {%- for segment_type in segment_types %}
            entities.{{ segment_type }},
        {%- endfor %}
        funnel_progress.is_window_complete as is_complete
    from entities
    inner join funnel_progress
        on
            entities.funnel_name = funnel_progress.funnel_name
            and entities.entity_id = funnel_progress.entity_id

),

entity_segments as (

    {%- for segment_type in segment_types %}
        select
            funnel_name,
            entity_id,
            furthest_step,
            is_complete,
            '{{ segment_type }}' as segment_type,
            {{ segment_type }} as segment_value
        from entities_with_completeness
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
        entity_segments.is_complete,
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
        entity_segments.is_complete,
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
        ) as conversion_from_previous,
        is_complete
    from segment_step_counts
    window segment_steps as (
        partition by funnel_name, segment_type, segment_value, is_complete
        order by step_number
    )

)

select * from final
