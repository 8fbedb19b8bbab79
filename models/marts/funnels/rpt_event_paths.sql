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

anchors as (

    {%- for anchor_event in anchor_events | unique %}
        select cast({{ funnel_literal(anchor_event) }} as {{ dbt.type_string() }}) as anchor_event
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}

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

stream_lengths as (

    select
        entity_type,
        entity_id,
        max(position) as last_position
    from collapsed_events
    group by entity_type, entity_id

),

-- Each entity's first occurrence of each anchor event.
entity_anchors as (

    select
        collapsed_events.entity_type,
        collapsed_events.entity_id,
        anchors.anchor_event,
        min(collapsed_events.position) as anchor_position
    from collapsed_events
    inner join anchors
        on collapsed_events.event_name = anchors.anchor_event
    group by collapsed_events.entity_type, collapsed_events.entity_id, anchors.anchor_event

),

directions as (

    select 'before' as direction
    union all
    select 'after' as direction

),

-- The anchor and up to path_length events after it (or before it), in stream order.
entity_paths as (

    select
        entity_anchors.entity_type,
        entity_anchors.entity_id,
        entity_anchors.anchor_event,
        directions.direction,
        array_agg(collapsed_events.event_name order by collapsed_events.position) as events,
        case
            when directions.direction = 'after'
                then stream_lengths.last_position
                    - entity_anchors.anchor_position < {{ path_length }}
            else entity_anchors.anchor_position <= {{ path_length }}
        end as has_stream_edge,
        count(*) - 1 as path_length
    from entity_anchors
    cross join directions
    inner join stream_lengths
        on
            entity_anchors.entity_type = stream_lengths.entity_type
            and entity_anchors.entity_id = stream_lengths.entity_id
    inner join collapsed_events
        on
            entity_anchors.entity_type = collapsed_events.entity_type
            and entity_anchors.entity_id = collapsed_events.entity_id
            and (
                (
                    directions.direction = 'after'
                    and collapsed_events.position
                    between entity_anchors.anchor_position
                    and entity_anchors.anchor_position + {{ path_length }}
                )
                or (
                    directions.direction = 'before'
                    and collapsed_events.position
                    between entity_anchors.anchor_position - {{ path_length }}
                    and entity_anchors.anchor_position
                )
            )
    group by
        entity_anchors.entity_type,
        entity_anchors.entity_id,
        entity_anchors.anchor_event,
        entity_anchors.anchor_position,
        directions.direction,
        stream_lengths.last_position

),

-- `(start)` / `(end)` where the entity's stream stops within the path.
marked_paths as (

    select
        entity_type,
        anchor_event,
        direction,
        path_length,
        case
            when has_stream_edge and direction = 'after' then events || array['(end)']
            when has_stream_edge then array['(start)'] || events
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
        cast(path as {{ dbt.type_string() }}[]) as path,
        cast(path_length as {{ dbt.type_int() }}) as path_length,
        cast(entities as {{ dbt.type_bigint() }}) as entities,
        cast(1.0 * entities / sum(entities) over anchor_paths as {{ dbt.type_numeric() }})
            as share
    from path_counts
    window anchor_paths as (partition by anchor_event, direction, entity_type)

)

select * from final
