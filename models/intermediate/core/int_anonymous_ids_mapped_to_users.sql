-- A table: every consumer of the stitched events joins it, and it is rebuilt once per run.
{{ config(materialized='table') }}

with identifies as (

    select * from {{ ref('stg_segment__identifies') }}

),

events as (

    select * from {{ ref('int_events_deduplicated') }}

),

aliases as (

    select * from {{ ref('int_aliases_classified') }}

),

user_ids_merged as (

    select * from {{ ref('int_user_ids_merged_by_alias') }}

),

-- Every moment a device was seen with a known user: `identify` calls, any event that carries
-- both ids (Segment's anonymousId and userId, Amplitude's device_id and user_id), and aliases
-- whose previous id is a device's.
device_links as (

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
    union all
    select
        previous_id as anonymous_id,
        user_id,
        aliased_at as identified_at,
        received_at
    from aliases
    where previous_id_type = 'anonymous_id'

),

-- A user id merged into another by an alias counts as that user; the device's claims may
-- have changed when the merge was received.
identifications as (

    select
        device_links.anonymous_id,
        coalesce(user_ids_merged.user_id, device_links.user_id) as user_id,
        device_links.identified_at,
        device_links.received_at,
        user_ids_merged.merged_received_at
    from device_links
    left join user_ids_merged
        on device_links.user_id = user_ids_merged.previous_user_id

),

-- A device linked to more users than analytics__max_users_per_device (a demo kiosk, a shared
-- office machine) is not merged with any of them: its anonymous events stay anonymous.
device_users as (

    select
        anonymous_id,
        count(distinct user_id) as users,
        max(
            case
                when merged_received_at > received_at then merged_received_at else received_at
            end
        ) as latest_received_at
    from identifications
    group by anonymous_id

),

merged_identifications as (

    select identifications.*
    from identifications
    inner join device_users
        on identifications.anonymous_id = device_users.anonymous_id
    where device_users.users <= {{ var('analytics__max_users_per_device') }}

),

with_neighbours as (

    select
        anonymous_id,
        user_id,
        identified_at,
        received_at,
        merged_received_at,
        lag(user_id) over (
            partition by anonymous_id order by identified_at, user_id
        ) as previous_user_id,
        lead(user_id) over (
            partition by anonymous_id order by identified_at, user_id
        ) as next_user_id
    from merged_identifications

),

-- A run is a stretch of identifications of the same user on a device.
numbered_runs as (

    select
        anonymous_id,
        user_id,
        identified_at,
        received_at,
        merged_received_at,
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

-- A device's claims change when an identification outside its last run is received, when
-- that last run is new, or when an alias merged one of its user ids; a new identification
-- extending the last run changes nothing. Incremental runs of fct_events re-stitch the
-- device's events when this is recent.
device_changes as (

    select
        anonymous_id,
        max(case when run_number < last_run_number then received_at end)
            as earlier_runs_received_at,
        min(case when run_number = last_run_number then received_at end)
            as last_run_first_received_at,
        max(merged_received_at) as merges_received_at
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
        greatest(
            device_changes.earlier_runs_received_at,
            device_changes.last_run_first_received_at,
            device_changes.merges_received_at
        ) as claims_changed_received_at
    from run_ends
    inner join device_changes
        on run_ends.anonymous_id = device_changes.anonymous_id

),

-- One row without a user per device shared too widely, so a run that makes a device cross
-- the limit re-stitches its events (to none).
unmerged_devices as (

    select
        anonymous_id,
        cast(null as {{ dbt.type_string() }}) as user_id,
        cast(null as {{ type_timestamptz() }}) as claimed_after,
        cast(null as {{ type_timestamptz() }}) as claimed_until,
        latest_received_at as claims_changed_received_at
    from device_users
    where users > {{ var('analytics__max_users_per_device') }}

),

final as (

    select * from claims
    union all
    select * from unmerged_devices

)

select * from final
