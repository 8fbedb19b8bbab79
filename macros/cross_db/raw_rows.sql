{#-
    The rows of a raw table, once each. In the warehouse the loaders merge, so the table holds
    each key once already. In the Spark engine's lake plain Parquet cannot merge: every load
    appends, and the loader's merge rule applies here instead: per `key`, the first row by
    `order_by` (the copy received first; for production's upserts, the latest version).
-#}
{% macro raw_rows(source_name, table_name, key, order_by) -%}
    {{ return(adapter.dispatch('raw_rows', 'product_analytics')(
        source_name, table_name, key, order_by
    )) }}
{%- endmacro %}

{% macro default__raw_rows(source_name, table_name, key, order_by) -%}
    select * from {{ source(source_name, table_name) }}
{%- endmacro %}

{% macro spark__raw_rows(source_name, table_name, key, order_by) -%}
    select ranked.*
    from (
        select
            loaded.*,
            row_number() over (partition by {{ key }} order by {{ order_by }}) as raw_row_rank
        from {{ source(source_name, table_name) }} as loaded
    ) as ranked
    where ranked.raw_row_rank = 1
{%- endmacro %}

{#- The Spark engine's raw tables: each source table is a Parquet table over its folder of
    the lake, its columns those the sources declare (a column no file holds yet reads null;
    a source whose `meta` says `lake_timestamps_as_text` has its timestamps as the ISO 8601
    text the loaders wrote), made again on every run so a newly declared column appears; the
    files stay. -#}
{% macro spark__create_missing_raw_tables() -%}
    {%- set lake = env_var('ANALYTICS_LAKE_PATH', '.lake') -%}
    {%- set statements = [] -%}
    {%- if execute -%}
        {%- for source_node in graph.sources.values()
            if source_node.package_name == project_name and source_node.columns -%}
            {%- set relation = source_node.schema ~ '.' ~ source_node.identifier -%}
            {%- do statements.append('create schema if not exists ' ~ source_node.schema) -%}
            {%- set column_definitions = [] -%}
            {%- set text_timestamps = source_node.config.meta.get('lake_timestamps_as_text') -%}
            {%- for column in source_node.columns.values() -%}
                {%- set data_type = 'text' if text_timestamps and column.data_type == 'timestamptz'
                    else column.data_type -%}
                {%- do column_definitions.append(
                    '`' ~ column.name ~ '` ' ~ spark_raw_type(data_type)
                ) -%}
            {%- endfor -%}
            {%- for name in ['_receipt_order', '_dlt_load_id']
                if name not in source_node.columns -%}
                {%- do column_definitions.append('`' ~ name ~ '` string') -%}
            {%- endfor -%}
            {%- do statements.append('drop table if exists ' ~ relation) -%}
            {%- do statements.append(
                'create table ' ~ relation ~ ' (' ~ column_definitions | join(', ') ~ ')'
                ~ " using parquet location '" ~ lake ~ '/' ~ source_node.schema ~ '/'
                ~ source_node.identifier ~ "'"
            ) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- for statement in statements -%}
        {%- do run_query(statement) -%}
    {%- endfor -%}
    select 1
{%- endmacro %}

{% macro spark_raw_type(data_type) -%}
    {{- {
        'text': 'string',
        'jsonb': 'string',
        'timestamptz': 'timestamp',
        'bigint': 'bigint',
        'integer': 'bigint',
        'boolean': 'boolean',
        'double precision': 'double',
    }.get(data_type, data_type) -}}
{%- endmacro %}

{% macro spark__grant_marts_to_reader() -%}
    select 1
{%- endmacro %}
