-- A table: every consumer of the stitched events joins it, and it is rebuilt once per run.
{{ config(materialized='table') }}

with identifies as (

    select * from {{ ref('stg_segment__identifies') }}

),

events as (

    select * from {{ ref('int_events_deduplicated') }}

),

-- Every moment a device was seen with a known user: `identify` calls and any event that
-- carries both ids.
identifications as (

    select
        anonymous_id,
        user_id,
        identified_at,
        loaded_at
    from identifies
    where anonymous_id is not null and user_id is not null
    union all
    select
        anonymous_id,
        user_id,
        occurred_at as identified_at,
        loaded_at
    from events
    where anonymous_id is not null and user_id is not null

),

-- When the device's latest identification was loaded: incremental runs of fct_events
-- re-stitch the device's events when it is recent (a late identify call).
with_next_user as (

    select
        anonymous_id,
        user_id,
        identified_at,
        max(loaded_at) over (partition by anonymous_id) as identifications_loaded_at,
        lead(user_id) over (
            partition by anonymous_id order by identified_at, user_id
        ) as next_user_id
    from identifications

),

-- The last identification of each run of the same user on a device ends that user's claim.
run_ends as (

    select
        anonymous_id,
        user_id,
        identified_at,
        identifications_loaded_at
    from with_next_user
    where next_user_id is null or next_user_id != user_id

),

-- Anonymous activity belongs to the next user identified on the device; after the device's
-- last identification, to that last user. Claims are (claimed_after, claimed_until], null
-- meaning unbounded, and never overlap.
claims as (

    select
        anonymous_id,
        user_id,
        lag(identified_at) over (
            partition by anonymous_id order by identified_at, user_id
        ) as claimed_after,
        case
            when
                lead(identified_at) over (
                    partition by anonymous_id order by identified_at, user_id
                ) is not null
                then identified_at
        end as claimed_until,
        identifications_loaded_at
    from run_ends

),

final as (

    select * from claims

)

select * from final
