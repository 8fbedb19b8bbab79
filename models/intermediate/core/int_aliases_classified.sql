with aliases as (

    select * from {{ ref('stg_segment__aliases') }}

),

users as (

    select * from {{ ref('stg_production__users') }}

),

events as (

    select * from {{ ref('int_events_deduplicated') }}

),

-- Ids seen as a user id: production's users, and any event's user id.
known_user_ids as (

    select user_id from users
    union
    select user_id from events
    where user_id is not null

),

-- Segment's alias links `previousId` to `userId`. A previous id seen as a user id links two
-- user ids (a user id that changed); any other names a device or browser (an anonymous id).
classified as (

    select
        aliases.message_id,
        aliases.previous_id,
        aliases.user_id,
        aliases.aliased_at,
        aliases.received_at,
        case
            when known_user_ids.user_id is not null then 'user_id' else 'anonymous_id'
        end as previous_id_type
    from aliases
    left join known_user_ids
        on aliases.previous_id = known_user_ids.user_id
    where
        aliases.previous_id is not null
        and aliases.user_id is not null
        and aliases.previous_id != aliases.user_id

),

final as (

    select * from classified

)

select * from final
