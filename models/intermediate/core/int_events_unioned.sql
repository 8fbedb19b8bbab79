with segment_tracks as (

    select * from {{ ref('stg_segment__tracks') }}

),

segment_pages as (

    select * from {{ ref('stg_segment__pages') }}

),

segment_screens as (

    select * from {{ ref('stg_segment__screens') }}

),

amplitude_events as (

    select * from {{ ref('stg_amplitude__events') }}

),

plan_changes as (

    select * from {{ ref('int_subscription_changes_classified') }}

),

tracking_plan_event_names as (

    select * from {{ ref('tracking_plan_event_names') }}

),

-- Organization context (contract section 4): `properties.org_id`, else `context.groupId`.
segment_events as (

    select
        message_id as event_id,
        'segment' as source,
        source_event_name,
        cast(null as {{ dbt.type_string() }}) as planned_name,
        occurred_at,
        received_at,
        load_id,
        user_id,
        anonymous_id,
        coalesce({{ json_text('properties', 'org_id') }}, context_group_id) as org_id,
        properties
    from segment_tracks

),

-- Every `page` call is a `Page Viewed`, every `screen` call a `Screen Viewed` (contract
-- section 4), the call's `name` and `category` kept in the properties.
segment_views as (

    {% for views, event_name in [
        ('segment_pages', 'Page Viewed'), ('segment_screens', 'Screen Viewed')
    ] %}
        select
            message_id as event_id,
            'segment' as source,
            '{{ event_name }}' as source_event_name,
            cast(null as {{ dbt.type_string() }}) as planned_name,
            occurred_at,
            received_at,
            load_id,
            user_id,
            anonymous_id,
            coalesce({{ json_text('properties', 'org_id') }}, context_group_id) as org_id,
            {{ json_with_keys('properties', {'name': 'name', 'category': 'category'}) }}
                as properties
        from {{ views }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

-- `$insert_id` is Segment's `messageId` for forwarded events; `uuid` stands in when absent.
-- Organization context: `groups.org_id` (a string or a one-element list), else
-- `event_properties.org_id`. Segment's Amplitude destination renames the page and screen
-- calls it forwards (`Viewed <category> <name> Page`, `Loaded a Page`, `Viewed <name>
-- Screen`, `Loaded a Screen`): those are the same Page Viewed and Screen Viewed events.
amplitude_stream as (

    select
        coalesce(insert_id, event_uuid) as event_id,
        'amplitude' as source,
        source_event_name,
        case
            when library is null or library != 'segment' then null
            when
                source_event_name = 'Loaded a Page'
                or source_event_name like 'Viewed % Page'
                then 'Page Viewed'
            when
                source_event_name = 'Loaded a Screen'
                or source_event_name like 'Viewed % Screen'
                then 'Screen Viewed'
        end as planned_name,
        occurred_at,
        received_at,
        load_id,
        user_id,
        device_id as anonymous_id,
        coalesce(
            {{ json_text_or_first_element('groups', 'org_id') }},
            {{ json_text('event_properties', 'org_id') }}
        ) as org_id,
        event_properties as properties
    from amplitude_events

),

-- Plan changes are tracked by no client: the tracking plan's `derived` events come from
-- production. New subscriptions and reactivations have no event of their own. A corrected
-- row is received again: its `updated_at` is when production last changed it.
production_events as (

    select
        {{ dbt.concat(["'subscription_change:'", 'change_id']) }} as event_id,
        'production' as source,
        case change_type
            when 'upgrade' then 'Plan Upgraded'
            when 'downgrade' then 'Plan Downgraded'
            when 'cancel' then 'Subscription Cancelled'
        end as source_event_name,
        cast(null as {{ dbt.type_string() }}) as planned_name,
        changed_at as occurred_at,
        coalesce(updated_at, changed_at) as received_at,
        load_id,
        changed_by_user_id as user_id,
        cast(null as {{ dbt.type_string() }}) as anonymous_id,
        org_id,
        {{ json_object({
            'org_id': 'org_id',
            'change_id': 'change_id',
            'from_plan_id': 'from_plan_id',
            'to_plan_id': 'to_plan_id',
        }) }} as properties
    from plan_changes
    where change_type in ('upgrade', 'downgrade', 'cancel')

),

unioned as (

    select * from segment_events
    union all
    select * from segment_views
    union all
    select * from amplitude_stream
    union all
    select * from production_events

),

-- Names the plan does not know keep their raw name and are flagged as unplanned; a page or
-- screen forwarded by Segment is matched under the name it had before Amplitude renamed it.
named as (

    select
        unioned.event_id,
        unioned.source,
        coalesce(tracking_plan_event_names.event_name, unioned.source_event_name) as event_name,
        unioned.source_event_name,
        tracking_plan_event_names.event_name is not null as is_planned,
        unioned.occurred_at,
        unioned.received_at,
        unioned.load_id,
        unioned.user_id,
        unioned.anonymous_id,
        unioned.org_id,
        unioned.properties
    from unioned
    left join tracking_plan_event_names
        on
            coalesce(unioned.planned_name, unioned.source_event_name)
            = tracking_plan_event_names.source_event_name

),

final as (

    select * from named

)

select * from final
