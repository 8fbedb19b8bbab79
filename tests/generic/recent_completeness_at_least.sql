{#- Fails on every row of a completeness report (day, check_name, source, expected,
    observed and the tested column) whose day is among the last `recent_days`, counted back
    from the report's latest day, and whose completeness is below `threshold`. The failing
    rows name the days, checks and sources. -#}
{% test recent_completeness_at_least(model, column_name, threshold, recent_days) %}

    with report as (

        select * from {{ model }}

    ),

    latest as (

        select max(day) as latest_day from report

    ),

    final as (

        select
            report.day,
            report.check_name,
            report.source,
            report.expected,
            report.observed,
            report.{{ column_name }} as completeness
        from report
        cross join latest
        where
            report.day > {{ dbt.dateadd('day', -1 * recent_days | int, 'latest.latest_day') }}
            and report.{{ column_name }} < {{ threshold }}

    )

    select * from final
    order by check_name, source, day

{% endtest %}
