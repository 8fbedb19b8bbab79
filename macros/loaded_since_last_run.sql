{#-
    The incremental filter of the event models, a manifest of the loads each model has
    processed: every raw row carries the `_dlt_load_id` of the dlt load that wrote it
    (`load_id`, one sequence per source, in time order), and the model keeps the load id of
    each row it holds. A row is reprocessed when its load is newer than every load the model
    holds for its source, so a run reads exactly the loads it has not seen: a Segment line
    sent by a device offline for days, filed late, comes in a new load however old its
    event. The lookback (var analytics__lookback_days, per source on its receipt clock) is
    kept only as a margin: a row received within it is reprocessed when the model holds no
    row of its load (a load dlt retried and committed after a newer one) or has no load id
    (rows not written by dlt). A source behind the others keeps its own clock.
-#}
{% macro loaded_since_last_run(load_id_column, received_at_column, source_column) -%}
    {%- set branches = [] -%}
    {%- for source in ['segment', 'amplitude', 'production'] -%}
        {%- do branches.append(
            "when '" ~ source ~ "' then "
            ~ loaded_since_last_run_of_source(load_id_column, received_at_column, source)
        ) -%}
    {%- endfor -%}
    case {{ source_column }} {{ branches | join(' ') }} else false end
{%- endmacro %}

{% macro loaded_since_last_run_of_source(load_id_column, received_at_column, source) -%}
    {%- set in_source = "where source = '" ~ source ~ "'" -%}
    {%- set from_margin = reprocess_from(in_source) -%}
    (
        {{ load_id_column }} > (
            select coalesce(max(load_id), '') from {{ this }} {{ in_source }}
        )
        or (
            {{ received_at_column }} >= {{ from_margin }}
            and (
                {{ load_id_column }} is null
                -- distinct: the planner, which cannot tell how many rows are within the
                -- margin, then knows a few loads fit in memory and hashes them.
                or {{ load_id_column }} not in (
                    select distinct load_id
                    from {{ this }}
                    where
                        source = '{{ source }}'
                        and load_id is not null
                        and received_at >= {{ from_margin }}
                )
            )
        )
    )
{%- endmacro %}

{#- The earliest moment the sources that identify devices (Segment, Amplitude) are
    reprocessed from: a device whose claims changed since then is re-stitched. Each source's
    latest receipt is read on its own, through the (source, received_at) index. -#}
{% macro identifications_reprocess_from() -%}
    {%- set latest = [] -%}
    {%- for source in ['segment', 'amplitude'] -%}
        {%- do latest.append(
            "(select max(received_at) from " ~ this ~ " where source = '" ~ source ~ "')"
        ) -%}
    {%- endfor -%}
    (select {{ reprocess_from_expression('least(' ~ latest | join(', ') ~ ')') }})
{%- endmacro %}

{% macro reprocess_from(where_clause) -%}
    (select {{ reprocess_from_expression('max(received_at)') }} from {{ this }} {{ where_clause }})
{%- endmacro %}

{#- A source the model does not hold yet is reprocessed whole. -#}
{% macro reprocess_from_expression(latest) -%}
    {{ dbt.dateadd(
        'day',
        '-' ~ var('analytics__lookback_days'),
        "coalesce(" ~ latest ~ ", cast('1970-01-01 00:00:00+00' as " ~ type_timestamptz() ~ "))",
    ) }}
{%- endmacro %}

{#-
    Whether a row of int_events_deduplicated (alias `deduplicated`) is an event an
    incremental model of the stitched events takes again: one of the loads it has not
    processed (loaded_since_last_run), of a device whose claims changed since, or carrying
    a user id an alias merged since (their stitching may change). Tested on the
    deduplicated events, whose columns these are (the user id the event carries is the
    stitched view's `source_user_id`): PostgreSQL pushes no filter holding subqueries into
    the stitched view, so filtering the view stitched every event first. The model then
    looks the ids up in the view (is_one_of).
-#}
{% macro is_event_to_restitch() -%}
    {{ loaded_since_last_run(
        'deduplicated.load_id', 'deduplicated.received_at', 'deduplicated.source'
    ) }}
    or deduplicated.anonymous_id in (
        select device_claims.anonymous_id
        from {{ ref('int_anonymous_ids_mapped_to_users') }} as device_claims
        where device_claims.claims_changed_received_at >= {{ identifications_reprocess_from() }}
    )
    or deduplicated.user_id in (
        select user_ids_merged.previous_user_id
        from {{ ref('int_user_ids_merged_by_alias') }} as user_ids_merged
        where user_ids_merged.merged_received_at >= {{ identifications_reprocess_from() }}
    )
{%- endmacro %}
