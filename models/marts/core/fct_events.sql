with segment_tracks as (

    select * from {{ ref('stg_segment__tracks') }}

),

final as (

    select
        message_id as event_id,
        source_event_name as event_name,
        source_event_name,
        'segment' as source,
        occurred_at,
        user_id,
        anonymous_id,
        properties ->> 'org_id' as org_id,
        properties
    from segment_tracks

)

select * from final
