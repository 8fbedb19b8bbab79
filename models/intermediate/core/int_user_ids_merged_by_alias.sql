with aliases as (

    select * from {{ ref('int_aliases_classified') }}

),

users as (

    select * from {{ ref('stg_production__users') }}

),

-- A user id production knows is an account of its own: no alias merges it into another.
-- Any other user id (an email an old client sent, a legacy id) follows its first alias, as
-- Mixpanel's alias does (an id is aliased once); later aliases of it are ignored.
first_aliases as (

    select
        aliases.previous_id as previous_user_id,
        aliases.user_id,
        aliases.received_at,
        row_number() over (
            partition by aliases.previous_id
            order by aliases.aliased_at, aliases.received_at, aliases.message_id
        ) as alias_number
    from aliases
    left join users
        on aliases.previous_id = users.user_id
    where aliases.previous_id_type = 'user_id' and users.user_id is null

),

applied as (

    select
        previous_user_id,
        user_id,
        received_at
    from first_aliases
    where alias_number = 1

),

-- A chain (a to b, then b to c) resolves to its end, up to three links; the merge changed
-- when its latest link was received. A loop (a to b, b to a) merges nothing.
resolved as (

    select
        first_link.previous_user_id,
        coalesce(third_link.user_id, second_link.user_id, first_link.user_id) as user_id,
        greatest(
            first_link.received_at,
            coalesce(second_link.received_at, first_link.received_at),
            coalesce(third_link.received_at, first_link.received_at)
        ) as merged_received_at
    from applied as first_link
    left join applied as second_link
        on first_link.user_id = second_link.previous_user_id
    left join applied as third_link
        on second_link.user_id = third_link.previous_user_id
    where
        (second_link.user_id is null or second_link.user_id != first_link.previous_user_id)
        and (third_link.user_id is null or third_link.user_id != first_link.previous_user_id)

),

final as (

    select * from resolved

)

select * from final
