{#-
    The incremental filter of the event models: rows loaded since the latest load the model
    already holds, less var analytics__lookback_days for loads that committed out of order.
    Rows arrive by load, not by event time: a Segment file days late has a new load time.
-#}
{% macro loaded_since_last_run(loaded_at_column) -%}
    {{ loaded_at_column }} >= (
        select
            {{ dbt.dateadd(
                'day',
                '-' ~ var('analytics__lookback_days'),
                "coalesce(max(loaded_at), cast('1970-01-01 00:00:00+00' as timestamptz))",
            ) }}
        from {{ this }}
    )
{%- endmacro %}
