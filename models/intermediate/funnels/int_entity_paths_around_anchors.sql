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
{%- set path_settings = funnel_literal(anchor_events | unique | join('|') ~ '|' ~ path_length) %}
{#- A traced entity left without events: rows without a fingerprint until the run's end. -#}
{{ config(
    materialized='incremental',
    unique_key=['entity_type', 'entity_id'],
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    indexes=[{'columns': ['entity_type', 'entity_id']}],
    pre_hook="{{ event_paths_settings() }}",
    post_hook="{% if is_incremental() %}delete from {{ this }}"
    ~ " where fingerprint_event_count is null{% endif %}",
) }}

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

{% if is_incremental() %}

    -- The last run's fingerprint of each entity and which of its events it covers (every row
    -- of an entity holds the same), and which anchors it had done.
    previous_entities as (

        select
            entity_type,
            entity_id,
            max(fingerprint_event_count) as fingerprint_event_count,
            max(fingerprint_hash) as fingerprint_hash,
            max(case when is_path_open then 1 else 0 end) = 1 as is_path_open,
            max(settled_at) as settled_at,
        {%- for anchor_event in anchor_events | unique %}
            max(
                case
                    when anchor_event = {{ funnel_literal(anchor_event) }} and path is not null
                        then 1
                    else 0
                end
            ) = 1 as has_anchor_{{ loop.index }}
            {{- ',' if not loop.last }}
        {%- endfor %}
        from {{ this }}
        group by entity_type, entity_id

    ),

    -- Each entity's fingerprint over the events its paths depend on, as the last run drew
    -- them (see fingerprinted_entities), in one pass over every event.
    entity_fingerprints as (

        select
            entity_events.entity_type,
            entity_events.entity_id,
            {{ path_fingerprint(
                'entity_events', 'previous_entities', anchor_events, path_settings
            ) }}
        from entity_events
        left join previous_entities
            on
                entity_events.entity_type = previous_entities.entity_type
                and entity_events.entity_id = previous_entities.entity_id
        group by entity_events.entity_type, entity_events.entity_id

    ),

    -- An incremental run traces again the entities new since the last run, those whose
    -- fingerprint changed, and those left without any event (their rows are deleted).
    entities_to_trace as (

        select
            coalesce(entity_fingerprints.entity_type, previous_entities.entity_type)
                as entity_type,
            coalesce(entity_fingerprints.entity_id, previous_entities.entity_id) as entity_id,
            entity_fingerprints.entity_id is not null as has_events
        from entity_fingerprints
        full outer join previous_entities
            on
                entity_fingerprints.entity_type = previous_entities.entity_type
                and entity_fingerprints.entity_id = previous_entities.entity_id
        where
            entity_fingerprints.entity_id is null
            or previous_entities.entity_id is null
            or entity_fingerprints.fingerprint_event_count
            != previous_entities.fingerprint_event_count
            or entity_fingerprints.fingerprint_hash != previous_entities.fingerprint_hash

    ),

    events_to_trace as (

        select
            entity_events.entity_type,
            entity_events.entity_id,
            entity_events.event_id,
            entity_events.event_name,
            entity_events.occurred_at
        from entity_events
        where exists (
                select 1 from entities_to_trace
                where
                    entities_to_trace.entity_type = entity_events.entity_type
                    and entities_to_trace.entity_id = entity_events.entity_id
            )

    ),

{% else %}

    events_to_trace as (

        select * from entity_events

    ),

{% endif %}

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
    from events_to_trace

),

-- Each entity's stream with consecutive repeats collapsed, numbered from 1.
collapsed_events as (

    select
        entity_type,
        entity_id,
        event_name,
        occurred_at,
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
        occurred_at,
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
                max(occurred_at) as last_occurred_at,
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
        entity_id,
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

anchor_directions as (

    {%- for anchor_event in anchor_events | unique %}
        {%- set last_anchor = loop.last %}
        {%- for direction in ['before', 'after'] %}
            select
                cast({{ funnel_literal(anchor_event) }} as {{ dbt.type_string() }})
                    as anchor_event,
                '{{ direction }}' as direction
            {%- if not (last_anchor and loop.last) %}
                union all
            {%- endif %}
        {%- endfor %}
    {%- endfor %}

),

-- Which events a traced entity's paths depend on: while an after path ends in `(end)`, every
-- event (a later one extends it); else the events up to the last one its paths hold
-- (`settled_at`); and, either way, any event named after an anchor it has not done.
traced_entities as (

    select
        positioned_events.entity_type,
        positioned_events.entity_id,
        max(case when after_paths.has_stream_edge then 1 else 0 end) = 1 as is_path_open,
        max(after_paths.last_occurred_at) as settled_at,
    {%- for anchor_event in anchor_events | unique %}
        max(
            case
                when after_paths.anchor_event = {{ funnel_literal(anchor_event) }} then 1 else 0
            end
        ) = 1 as has_anchor_{{ loop.index }}
        {{- ',' if not loop.last }}
    {%- endfor %}
    from positioned_events
    left join entity_paths as after_paths
        on
            positioned_events.entity_type = after_paths.entity_type
            and positioned_events.entity_id = after_paths.entity_id
            and after_paths.direction = 'after'
    where positioned_events.position = 1
    group by positioned_events.entity_type, positioned_events.entity_id

),

-- The fingerprint of those events: the next run traces the entity again only when it
-- changes (an event among them added, taken away, renamed or moved in time; the path vars
-- changed).
fingerprinted_entities as (

    select
        traced_entities.entity_type,
        traced_entities.entity_id,
        traced_entities.is_path_open,
        traced_entities.settled_at,
        {{ path_fingerprint(
            'events_to_trace', 'traced_entities', anchor_events, path_settings
        ) }}
    from traced_entities
    inner join events_to_trace
        on
            traced_entities.entity_type = events_to_trace.entity_type
            and traced_entities.entity_id = events_to_trace.entity_id
    group by
        traced_entities.entity_type,
        traced_entities.entity_id,
        traced_entities.is_path_open,
        traced_entities.settled_at

),

-- One row per traced entity, anchor and direction, the path null where it never did the
-- anchor (so the entity keeps its fingerprint).
entity_rows as (

    select
        fingerprinted_entities.entity_type,
        fingerprinted_entities.entity_id,
        anchor_directions.anchor_event,
        anchor_directions.direction,
        marked_paths.path,
        marked_paths.path_length,
        fingerprinted_entities.fingerprint_event_count,
        fingerprinted_entities.fingerprint_hash,
        fingerprinted_entities.is_path_open,
        fingerprinted_entities.settled_at
    from fingerprinted_entities
    cross join anchor_directions
    left join marked_paths
        on
            fingerprinted_entities.entity_type = marked_paths.entity_type
            and fingerprinted_entities.entity_id = marked_paths.entity_id
            and anchor_directions.anchor_event = marked_paths.anchor_event
            and anchor_directions.direction = marked_paths.direction
    {%- if is_incremental() %}
        -- An entity left without events: rows without a fingerprint, which replace its old
        -- ones and which the model's post-hook deletes.
        union all
        select
            entities_to_trace.entity_type,
            entities_to_trace.entity_id,
            anchor_directions.anchor_event,
            anchor_directions.direction,
            null as path,
            null as path_length,
            null as fingerprint_event_count,
            null as fingerprint_hash,
            false as is_path_open,
            null as settled_at
        from entities_to_trace
        cross join anchor_directions
        where not entities_to_trace.has_events
    {%- endif %}

),

final as (

    select
        cast(entity_type as {{ dbt.type_string() }}) as entity_type,
        cast(entity_id as {{ dbt.type_string() }}) as entity_id,
        cast(anchor_event as {{ dbt.type_string() }}) as anchor_event,
        cast(direction as {{ dbt.type_string() }}) as direction,
        cast(path as {{ type_string_array() }}) as path,
        cast(path_length as {{ dbt.type_int() }}) as path_length,
        cast(fingerprint_event_count as {{ dbt.type_bigint() }}) as fingerprint_event_count,
        cast(fingerprint_hash as {{ dbt.type_bigint() }}) as fingerprint_hash,
        is_path_open,
        cast(settled_at as {{ type_timestamptz() }}) as settled_at
    from entity_rows

)

select * from final
