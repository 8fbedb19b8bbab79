{#-
    The Spark engine's materializations on plain Parquet (README "Scale-out on Spark"). They
    live outside `macros/` because sqlfluff's jinja templater cannot parse a
    `materialization` block.
-#}

{#-
    Spark on plain Parquet has no MERGE, so dbt-spark's snapshots (Delta, Iceberg or Hudi
    only) cannot run. This one keeps today's version of each row, valid from its
    `updated_at` (what a first snapshot holds on PostgreSQL); the lake's append-only raw tables
    keep every version loaded. With Delta on a cluster, remove it to get dbt-spark's own.
-#}
{% materialization snapshot, adapter='spark' %}
    {%- set unique_key = config.get('unique_key') -%}
    {%- set updated_at = config.get('updated_at') -%}
    {%- set target_relation = api.Relation.create(
        schema=model.schema, identifier=model.alias, type='table'
    ) -%}
    {{ run_hooks(pre_hooks) }}
    {% do adapter.create_schema(target_relation) %}
    {% call statement('drop_previous') %}
        drop table if exists {{ target_relation }}
    {% endcall %}
    {% call statement('main') %}
        create table {{ target_relation }} using parquet as
        select
            versions.*,
            md5(concat_ws('|', cast(versions.{{ unique_key }} as string),
                cast(versions.{{ updated_at }} as string))) as dbt_scd_id,
            versions.{{ updated_at }} as dbt_updated_at,
            versions.{{ updated_at }} as dbt_valid_from,
            cast(null as timestamp) as dbt_valid_to
        from ({{ sql }}) as versions
    {% endcall %}
    {{ run_hooks(post_hooks) }}
    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}

{#-
    Spark on plain Parquet has no delete: the incremental models (`delete+insert` on
    PostgreSQL) are built whole as tables there, and `is_incremental()` is false, so their
    SQL reads all history.
-#}
{% materialization incremental, adapter='spark' %}
    {{ return(dbt.materialization_table_spark()) }}
{% endmaterialization %}

{% macro is_incremental() -%}
    {%- if target.type == 'spark' -%}
        {{ return(false) }}
    {%- endif -%}
    {{ return(dbt.is_incremental()) }}
{%- endmacro %}
