{#- Whether an event of `events` is one its entity's paths depend on, as `entities` says
    (int_entity_paths_around_anchors): every event while an after path still ends in `(end)`
    (`is_path_open`), else those up to `settled_at`, and any event named after an anchor the
    entity has not done (`has_anchor_<n>`, n its place in `anchor_events`). -#}
{% macro path_fingerprint_covers(events, entities, anchor_events) -%}
    (
        {{ entities }}.is_path_open
        or {{ events }}.occurred_at <= {{ entities }}.settled_at
    {%- for anchor_event in anchor_events | unique %}
        or (
            {{ events }}.event_name = {{ funnel_literal(anchor_event) }}
            and not {{ entities }}.has_anchor_{{ loop.index }}
        )
    {%- endfor %}
    )
{%- endmacro %}

{#- An entity's fingerprint, as two aggregates over its `events` (joined to `entities`, see
    path_fingerprint_covers): `fingerprint_event_count` and `fingerprint_hash`, the count and
    the hash sum of the events its paths depend on. Every run computes it this one way, so
    the last run's and this run's compare. -#}
{% macro path_fingerprint(events, entities, anchor_events, path_settings) -%}
    {%- set covered = path_fingerprint_covers(events, entities, anchor_events) -%}
    sum(case when {{ covered }} then 1 else 0 end) as fingerprint_event_count,
    sum(case when {{ covered }} then {{ path_fingerprint_hash(events, path_settings) }} else 0 end)
        as fingerprint_hash
{%- endmacro %}

{#- One event's share of its entity's fingerprint: its id, name and time, and the path vars
    (`path_settings`, a text literal), so a change of the vars changes every fingerprint. -#}
{% macro path_fingerprint_hash(events, path_settings) -%}
    {{ text_hash_number(dbt.concat([
        path_settings,
        events ~ '.event_id',
        "'|'",
        events ~ '.event_name',
        "'|'",
        dbt.cast(events ~ '.occurred_at', dbt.type_string()),
    ])) }}
{%- endmacro %}

{#-
    int_entity_paths_around_anchors' session settings (its pre-hook, for its transaction
    only): `analytics__path_work_mem` of memory, and no merge join. Its CTEs carry no
    statistics, so with the default memory PostgreSQL sorts every event, spilling to disk, to
    merge them with the last run's entities and group them, where hashing costs a third.
-#}
{% macro event_paths_settings() -%}
    {{ return(adapter.dispatch('event_paths_settings')()) }}
{%- endmacro %}

{% macro default__event_paths_settings() -%}
{%- endmacro %}

{% macro postgres__event_paths_settings() -%}
    set local work_mem = '{{ var("analytics__path_work_mem") }}';
    set local enable_mergejoin = off
{%- endmacro %}
