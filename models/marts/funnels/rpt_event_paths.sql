{%- set anchor_events = var('analytics__path_anchor_events') %}
{%- set path_length = var('analytics__path_length') %}
{%- if anchor_events is string or anchor_events is not iterable or anchor_events | length == 0
    or anchor_events | reject('string') | list %}
    {{ exceptions.raise_compiler_error(
        'analytics__path_anchor_events must list event names, not ' ~ anchor_events
    ) }}
{%- endif %}
{%- if path_length is not number or path_length < 1 or path_length != path_length | int %}
    {{ exceptions.raise_compiler_error(
        'analytics__path_length must be a positive whole number, not ' ~ path_length
    ) }}
{%- endif %}

with user_events as (

    {{ funnel_entity_events('user') }}

),

org_events as (

    {{ funnel_entity_events('org') }}

),

entity_events as (

    select
        'user' as entity_type,
        entity_id,
        event_id,
        event_name,
        occurred_at
    from user_events
    union all
    select
        'org' as entity_type,
        entity_id,
        event_id,
        event_name,
        occurred_at
    from org_events

),

events_with_previous as (

    select
        entity_type,
        entity_id,
        event_id,
        event_name,
        occurred_at,
        lag(event_name) over (
            partition by entity_type, entity_id order by occurred_at, event_id
        ) as previous_event_name
    from entity_events

),

-- Each entity's stream with consecutive repeats collapsed, numbered from 1.
collapsed_events as (

    select
        entity_type,
        entity_id,
        event_name,
        row_number() over (
            partition by entity_type, entity_id order by occurred_at, event_id
        ) as position
    from events_with_previous
    where previous_event_name is null or previous_event_name != event_name

),

-- Each entity's collapsed events with the stream's length and, for each anchor event, the
-- first position where the entity did it (null when it never did).
positioned_events as (

    select
        entity_type,
        entity_id,
        event_name,
        position,
        max(position) over entity_stream as last_position,
    {%- for anchor_event in anchor_events | unique %}
        min(case when event_name = {{ funnel_literal(anchor_event) }} then position end)
            over entity_stream as anchor_{{ loop.index }}_position
        {{- ',' if not loop.last }}
    {%- endfor %}
    from collapsed_events
    window entity_stream as (partition by entity_type, entity_id)

),

-- The anchor and up to path_length events after it (or before it), in stream order: one pass
-- over the positioned events per anchor and direction, keeping the events near the anchor.
entity_paths as (

    {%- for anchor_event in anchor_events | unique %}
        {%- set anchor_position = 'anchor_' ~ loop.index ~ '_position' %}
        {%- set last_anchor = loop.last %}
        {%- for direction in ['before', 'after'] %}
            select
                entity_type,
                entity_id,
                cast({{ funnel_literal(anchor_event) }} as {{ dbt.type_string() }})
                    as anchor_event,
                '{{ direction }}' as direction,
                {{ ordered_array_agg('event_name', 'position') }} as events,
                {%- if direction == 'after' %}
                    max(last_position) - max({{ anchor_position }}) < {{ path_length }}
                        as has_stream_edge,
                {%- else %}
                    max({{ anchor_position }}) <= {{ path_length }} as has_stream_edge,
                {%- endif %}
                count(*) - 1 as path_length
            from positioned_events
            where
                {%- if direction == 'after' %}
                    position between {{ anchor_position }}
                    and {{ anchor_position }} + {{ path_length }}
                {%- else %}
                    position between {{ anchor_position }} - {{ path_length }}
                    and {{ anchor_position }}
                {%- endif %}
            group by entity_type, entity_id
            {%- if not (last_anchor and loop.last) %}
                union all
            {%- endif %}
        {%- endfor %}
    {%- endfor %}

),

-- `(start)` / `(end)` where the entity's stream stops within the path.
marked_paths as (

    select
        entity_type,
        anchor_event,
        direction,
        path_length,
        case
            when has_stream_edge and direction = 'after'
                then {{ array_with_text('events', '(end)') }}
            when has_stream_edge then {{ array_with_text('events', '(start)', at_start=true) }}
            else events
        end as path
    from entity_paths

),

path_counts as (

    select
        anchor_event,
        direction,
        entity_type,
        path,
        path_length,
        count(*) as entities
    from marked_paths
    group by anchor_event, direction, entity_type, path, path_length

),

final as (

    select
        cast(anchor_event as {{ dbt.type_string() }}) as anchor_event,
        cast(direction as {{ dbt.type_string() }}) as direction,
        cast(entity_type as {{ dbt.type_string() }}) as entity_type,
        cast(path as {{ type_string_array() }}) as path,
        cast(path_length as {{ dbt.type_int() }}) as path_length,
        cast(entities as {{ dbt.type_bigint() }}) as entities,
        cast(1.0 * entities / sum(entities) over anchor_paths as {{ dbt.type_numeric() }})
            as share
    from path_counts
    window anchor_paths as (partition by anchor_event, direction, entity_type)

)

select * from final
