with events as (

    select * from {{ ref('int_events_unioned') }}

),

-- One row per event_id. Within a source, a message delivered twice keeps its first
-- receipt. Across sources, an event Segment forwarded to Amplitude ($insert_id =
-- messageId) keeps the Segment copy, the one sent by the tracking code itself.
ranked as (

    select
        *,
        row_number() over (
            partition by event_id
            order by
                case source when 'segment' then 1 when 'amplitude' then 2 else 3 end,
                received_at,
                loaded_at
        ) as copy_number
    from events

),

final as (

    select
        event_id,
        source,
        event_name,
        source_event_name,
        is_planned,
        occurred_at,
        received_at,
        loaded_at,
        user_id,
        anonymous_id,
        org_id,
        properties
    from ranked
    where copy_number = 1

)

select * from final
