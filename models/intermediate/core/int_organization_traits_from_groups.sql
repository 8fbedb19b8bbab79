with groups as (

    select * from {{ ref('stg_segment__groups') }}

),

{% set traits = ['name', 'primary_language', 'vcs_provider'] %}

-- Each trait's latest value a group call sent for the organization (calls without it, or
-- with an empty value, say nothing about it).
{% for trait in traits %}
    latest_{{ trait }} as (

        select
            group_id as org_id,
            trait_value as {{ trait }}
        from (
            select
                group_id,
                {{ json_text('traits', trait) }} as trait_value,
                row_number() over (
                    partition by group_id
                    order by grouped_at desc, received_at desc, message_id desc
                ) as recency
            from groups
            where
                group_id is not null
                and {{ json_text('traits', trait) }} is not null
                and {{ json_text('traits', trait) }} != ''
        ) as valued
        where recency = 1

    ),
{% endfor %}

organizations as (

    select distinct group_id as org_id
    from groups
    where group_id is not null

),

final as (

    select
        organizations.org_id,
        {% for trait in traits %}
            latest_{{ trait }}.{{ trait }}{% if not loop.last %},{% endif %}
        {% endfor %}
    from organizations
    {% for trait in traits %}
        left join latest_{{ trait }}
            on organizations.org_id = latest_{{ trait }}.org_id
    {% endfor %}

)

select * from final
