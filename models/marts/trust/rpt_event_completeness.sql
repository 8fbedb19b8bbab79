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

expected_entities as (

    select
        checks.check_name,
        source_watermarks.source,
        production_entities.entity_id,
        cast({{ dbt.date_trunc('day', 'production_entities.created_at') }} as date) as day
    from checks
    inner join production_entities
        on checks.entity = production_entities.entity
    inner join source_watermarks
        on production_entities.created_at <= source_watermarks.latest_occurred_at

),

daily as (

    select
        expected_entities.day,
        expected_entities.check_name,
        expected_entities.source,
        count(*) as expected,
        count(observed_entities.entity_id) as observed
    from expected_entities
    left join observed_entities
        on
            expected_entities.check_name = observed_entities.check_name
            and expected_entities.source = observed_entities.source
            and expected_entities.entity_id = observed_entities.entity_id
    group by
        expected_entities.day,
        expected_entities.check_name,
        expected_entities.source

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
