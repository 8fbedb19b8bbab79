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
        received_at
    from identifies
    where anonymous_id is not null and user_id is not null
    union all
    select
        anonymous_id,
        user_id,
        occurred_at as identified_at,
        received_at
    from events
    where anonymous_id is not null and user_id is not null

),

with_neighbours as (

    select
        anonymous_id,
        user_id,
        identified_at,
        received_at,
        lag(user_id) over (
            partition by anonymous_id order by identified_at, user_id
        ) as previous_user_id,
        lead(user_id) over (
            partition by anonymous_id order by identified_at, user_id
        ) as next_user_id
    from identifications

),

-- A run is a stretch of identifications of the same user on a device.
numbered_runs as (

    select
        anonymous_id,
        user_id,
        identified_at,
        received_at,
        next_user_id,
        sum(
            case when previous_user_id is null or previous_user_id != user_id then 1 else 0 end
        ) over (
            partition by anonymous_id
            order by identified_at, user_id
            rows between unbounded preceding and current row
        ) as run_number
    from with_neighbours

),

runs_with_last as (

    select
        *,
        max(run_number) over (partition by anonymous_id) as last_run_number
    from numbered_runs

),

-- A device's claims change when an identification outside its last run is received, or
-- when that last run is new; a new identification extending the last run changes nothing.
-- Incremental runs of fct_events re-stitch the device's events when this is recent.
device_changes as (

    select
        anonymous_id,
        max(case when run_number < last_run_number then received_at end)
            as earlier_runs_received_at,
        min(case when run_number = last_run_number then received_at end)
            as last_run_first_received_at
    from runs_with_last
    group by anonymous_id

),

-- The last identification of each run ends that user's claim.
run_ends as (

    select
        anonymous_id,
        user_id,
        identified_at
    from runs_with_last
    where next_user_id is null or next_user_id != user_id

),

-- Anonymous activity belongs to the next user identified on the device; after the device's
-- last identification, to that last user. Claims are (claimed_after, claimed_until], null
-- meaning unbounded, and never overlap.
claims as (

    select
        run_ends.anonymous_id,
        run_ends.user_id,
        lag(run_ends.identified_at) over (
            partition by run_ends.anonymous_id
            order by run_ends.identified_at, run_ends.user_id
        ) as claimed_after,
        case
            when
                lead(run_ends.identified_at) over (
                    partition by run_ends.anonymous_id
                    order by run_ends.identified_at, run_ends.user_id
                ) is not null
                then run_ends.identified_at
        end as claimed_until,
        case
            when device_changes.earlier_runs_received_at > device_changes.last_run_first_received_at
                then device_changes.earlier_runs_received_at
            else device_changes.last_run_first_received_at
        end as claims_changed_received_at
    from run_ends
    inner join device_changes
        on run_ends.anonymous_id = device_changes.anonymous_id

),

final as (

    select * from claims

)

select * from final
