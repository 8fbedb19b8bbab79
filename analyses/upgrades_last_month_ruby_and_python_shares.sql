-- What share of the orgs that upgraded last month were Ruby shops, and what share Python
-- shops? "Last month" is the calendar month before today's, or the month the var
-- analytics__upgrades_month names (`--vars '{analytics__upgrades_month: 2024-01-01}'`).
-- Shares are of all orgs that upgraded that month (0 when none of a language did, null when
-- nobody upgraded).
with upgrades_by_segment as (

    select * from {{ ref('rpt_upgrades_by_segment') }}

),

last_month as (

    {%- set month_asked = var('analytics__upgrades_month') %}
    select
        cast(
            {{ dbt.date_trunc('month', dbt.dateadd('month', -1, dbt.current_timestamp())
            if month_asked is none else "cast('" ~ month_asked ~ "' as date)") }}
            as date
        ) as month

),

languages_asked as (

    select 'ruby' as primary_language
    union all
    select 'python' as primary_language

),

last_month_languages as (

    select
        upgrades_by_segment.segment_value as primary_language,
        upgrades_by_segment.upgraded_orgs,
        upgrades_by_segment.share_of_upgrades
    from upgrades_by_segment
    inner join last_month
        on upgrades_by_segment.month = last_month.month
    where upgrades_by_segment.segment_type = 'primary_language'

),

last_month_total as (

    select sum(upgraded_orgs) as upgraded_orgs
    from last_month_languages

),

final as (

    select
        last_month.month,
        languages_asked.primary_language,
        coalesce(last_month_languages.upgraded_orgs, 0) as upgraded_orgs,
        last_month_total.upgraded_orgs as all_upgraded_orgs,
        case
            when last_month_total.upgraded_orgs > 0
                then coalesce(last_month_languages.share_of_upgrades, 0)
        end as share_of_upgrades
    from languages_asked
    cross join last_month
    cross join last_month_total
    left join last_month_languages
        on languages_asked.primary_language = last_month_languages.primary_language

)

select * from final
