{#-
    The incremental filter of the event models. Each source is followed on its own clock:
    a row is reprocessed when its source received it (Segment `receivedAt`, Amplitude
    `server_upload_time`, production `updated_at`) no earlier than the latest such time the
    model holds for that source, less var analytics__lookback_days (the longest a received
    row may take to reach the warehouse). A Segment line sent by a device offline for days is
    received, and filed, late: it is picked up however old its event. A source behind the
    others (an export paused for a week) does not lose rows to their progress.
-#}
{% macro received_since_last_run(received_at_column, source_column) -%}
    {%- set branches = [] -%}
    {%- for source in ['segment', 'amplitude', 'production'] -%}
        {%- do branches.append(
            "when '" ~ source ~ "' then " ~ reprocess_from("where source = '" ~ source ~ "'")
        ) -%}
    {%- endfor -%}
    {{ received_at_column }} >= case {{ source_column }} {{ branches | join(' ') }} end
{%- endmacro %}

{#- The earliest moment the sources that identify devices (Segment, Amplitude) are
    reprocessed from: a device whose claims changed since then is re-stitched. -#}
{% macro identifications_reprocess_from() -%}
    (
        select {{ reprocess_from_expression('min(latest_received_at)') }}
        from (
            select max(received_at) as latest_received_at
            from {{ this }}
            where source in ('segment', 'amplitude')
            group by source
        ) as sources
    )
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
