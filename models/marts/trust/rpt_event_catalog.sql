with counted_by_load as (

    select * from {{ ref('int_event_names_counted_by_load') }}

),

events as (

    select * from {{ ref('int_events_unioned') }}

),

plan_names as (

    select * from {{ ref('tracking_plan_event_names') }}

),

-- The tracked sources' names come counted load by load; production's few derived events are
-- counted here, whole (a corrected change replaces its row).
counts as (

    select
        source_event_name,
        source,
        event_name,
        is_planned,
        events,
        first_seen_at,
        last_seen_at
    from counted_by_load
    union all
    select
        source_event_name,
        source,
        event_name,
        is_planned,
        count(distinct event_id) as events,
        min(occurred_at) as first_seen_at,
        max(occurred_at) as last_seen_at
    from events
    where source = 'production'
    group by
        source_event_name,
        source,
        event_name,
        is_planned

),

names_by_source as (

    select
        source_event_name,
        source,
        event_name,
        is_planned,
        cast(sum(events) as {{ dbt.type_bigint() }}) as events,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at
    from counts
    group by
        source_event_name,
        source,
        event_name,
        is_planned

),

names as (

    select
        source_event_name,
        is_planned,
        sum(events) as events,
        {{ normalise_event_name('source_event_name') }} as normalised_name
    from names_by_source
    group by
        source_event_name,
        is_planned

),

-- What an unplanned name may duplicate: any name the plan knows (canonical or alias,
-- reported by its canonical name), else an unplanned name sent more often (the ties broken
-- by name, so two spellings never point at each other).
candidates as (

    select
        source_event_name as candidate_name,
        event_name as duplicate_of,
        true as is_planned,
        cast(null as {{ dbt.type_bigint() }}) as events,
        {{ normalise_event_name('source_event_name') }} as normalised_name
    from plan_names
    union all
    select
        source_event_name as candidate_name,
        source_event_name as duplicate_of,
        false as is_planned,
        events,
        normalised_name
    from names
    where not is_planned

),

-- Near: the normalised names are equal or within the allowed share of edits.
pairs as (

    select
        names.source_event_name,
        candidates.duplicate_of,
        candidates.is_planned as is_planned_candidate,
        candidates.events as candidate_events,
        candidates.candidate_name,
        {{ edit_distance('names.normalised_name', 'candidates.normalised_name') }} as edits,
        greatest(
            length(names.normalised_name), length(candidates.normalised_name)
        ) as longest_length
    from names
    inner join candidates
        on
            names.source_event_name != candidates.candidate_name
            and (
                candidates.is_planned
                or names.events < candidates.events
                or (
                    names.events = candidates.events
                    and names.source_event_name > candidates.candidate_name
                )
            )
    where not names.is_planned

),

-- The closest candidate, preferring the plan's names.
nearest as (

    select
        source_event_name,
        duplicate_of,
        row_number() over (
            partition by source_event_name
            order by
                is_planned_candidate desc,
                edits asc,
                candidate_events desc nulls first,
                candidate_name asc
        ) as closeness_rank
    from pairs
    where edits <= floor({{ var('analytics__near_duplicate_max_edit_share') }} * longest_length)

),

-- A declared alias duplicates its canonical name by definition.
final as (

    select
        names_by_source.source_event_name,
        names_by_source.source,
        names_by_source.event_name,
        names_by_source.is_planned,
        names_by_source.events,
        names_by_source.first_seen_at,
        names_by_source.last_seen_at,
        case
            when names_by_source.source_event_name != names_by_source.event_name
                then names_by_source.event_name
            else nearest.duplicate_of
        end as near_duplicate_of
    from names_by_source
    left join nearest
        on
            names_by_source.source_event_name = nearest.source_event_name
            and nearest.closeness_rank = 1

)

select * from final
