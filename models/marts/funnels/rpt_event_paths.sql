with entity_paths as (

    select * from {{ ref('int_entity_paths_around_anchors') }}

),

path_counts as (

    select
        anchor_event,
        direction,
        entity_type,
        path,
        path_length,
        count(*) as entities
    from entity_paths
    where path is not null
    group by anchor_event, direction, entity_type, path, path_length

),

final as (

    select
        cast(anchor_event as {{ dbt.type_string() }}) as anchor_event,
        cast(direction as {{ dbt.type_string() }}) as direction,
        cast(entity_type as {{ dbt.type_string() }}) as entity_type,
        cast(path as {{ type_string_array() }}) as path,
        cast(path_length as {{ dbt.type_int() }}) as path_length,
        cast(entities as {{ dbt.type_bigint() }}) as entities,
        cast(1.0 * entities / sum(entities) over anchor_paths as {{ dbt.type_numeric() }})
            as share
    from path_counts
    window anchor_paths as (partition by anchor_event, direction, entity_type)

)

select * from final
