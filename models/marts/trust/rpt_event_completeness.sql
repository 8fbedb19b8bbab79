{%- set checks = completeness_checks() -%}

with events as (

    select * from {{ ref('int_events_unioned') }}

),

users as (

    select * from {{ ref('stg_production__users') }}

),

organizations as (

    select * from {{ ref('stg_production__organizations') }}

),

-- The var analytics__completeness_checks: an event to expect once per production entity.
checks as (

    {% for check in checks %}
        select
            '{{ check.name | replace("'", "''") }}' as check_name,
            '{{ check.event_name | replace("'", "''") }}' as event_name,
            '{{ check.entity }}' as entity
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

production_entities as (

    select
        'user' as entity,
        user_id as entity_id,
        created_at
    from users
    union all
    select
        'org' as entity,
        org_id as entity_id,
        created_at
    from organizations

),

-- Events the product tracked; those derived from production would compare it with itself.
tracked_events as (

    select
        source,
        event_name,
        user_id,
        org_id,
        occurred_at
    from events
    where {{ is_tracked_event('source') }}

),

-- How far each source's events reach. Entities created after a source's latest event are
-- not expected of it yet: a source a few hours behind is stale (source freshness says so),
-- not incomplete.
source_watermarks as (

    select
        source,
        max(occurred_at) as latest_occurred_at
    from tracked_events
    group by source
    union all
    select
        'any' as source,
        max(occurred_at) as latest_occurred_at
    from tracked_events

),

check_events as (

    select
        checks.check_name,
        tracked_events.source,
        case checks.entity
            when 'user' then tracked_events.user_id
            else tracked_events.org_id
        end as entity_id
    from tracked_events
    inner join checks
        on tracked_events.event_name = checks.event_name

),

-- An entity counts once per source however many times (or on whichever day) it was sent.
observed_entities as (

    select
        check_name,
        source,
        entity_id
    from check_events
    where entity_id is not null
    union
    select
        check_name,
        'any' as source,
        entity_id
    from check_events
    where entity_id is not null

),

-- Production keeps microseconds, the sources milliseconds: an entity created at
-- 12:00:00.123456 whose signup the source stamped 12:00:00.123 is at the watermark, not after
-- it. And an entity the source has sent is due from it, whatever the clocks say.
expected_entities as (

    select
        checks.check_name,
        source_watermarks.source,
        production_entities.entity_id,
        cast({{ dbt.date_trunc('day', 'production_entities.created_at') }} as date) as day,
        observed_entities.entity_id is not null as is_observed
    from checks
    inner join production_entities
        on checks.entity = production_entities.entity
    cross join source_watermarks
    left join observed_entities
        on
            checks.check_name = observed_entities.check_name
            and source_watermarks.source = observed_entities.source
            and production_entities.entity_id = observed_entities.entity_id
    where
        {{ dbt.date_trunc('millisecond', 'production_entities.created_at') }}
        <= source_watermarks.latest_occurred_at
        or observed_entities.entity_id is not null

),

daily as (

    select
        day,
        check_name,
        source,
        count(*) as expected,
        sum(case when is_observed then 1 else 0 end) as observed
    from expected_entities
    group by
        day,
        check_name,
        source

),

final as (

    select
        day,
        check_name,
        source,
        expected,
        observed,
        cast(observed as {{ dbt.type_float() }}) / expected as completeness
    from daily

)

select * from final
