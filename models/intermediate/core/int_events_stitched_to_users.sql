with events as (

    select * from {{ ref('int_events_deduplicated') }}

),

anonymous_id_claims as (

    select * from {{ ref('int_anonymous_ids_mapped_to_users') }}

),

user_ids_merged as (

    select * from {{ ref('int_user_ids_merged_by_alias') }}

),

-- A user id the event carries is kept, unless an alias merged it into another (a legacy id
-- renamed); only anonymous events are stitched to their device's claim.
stitched as (

    select
        events.event_id,
        events.source,
        events.event_name,
        events.source_event_name,
        events.is_planned,
        events.occurred_at,
        events.received_at,
        events.load_id,
        coalesce(
            user_ids_merged.user_id, events.user_id, anonymous_id_claims.user_id
        ) as user_id,
        events.user_id as source_user_id,
        user_ids_merged.user_id is not null
        or (events.user_id is null and anonymous_id_claims.user_id is not null) as is_stitched,
        events.anonymous_id,
        events.org_id,
        events.properties
    from events
    left join user_ids_merged
        on events.user_id = user_ids_merged.previous_user_id
    left join anonymous_id_claims
        on
            events.user_id is null
            and events.anonymous_id = anonymous_id_claims.anonymous_id
            and (
                anonymous_id_claims.claimed_after is null
                or events.occurred_at > anonymous_id_claims.claimed_after
            )
            and (
                anonymous_id_claims.claimed_until is null
                or events.occurred_at <= anonymous_id_claims.claimed_until
            )

),

final as (

    select * from stitched

)

select * from final
