{#-
    Runs first (on-run-start). Every raw table a staging model reads is documented with its
    columns and their `data_type` in `_<source>__sources.yml`; this creates whichever of those
    tables does not exist yet, empty, and adds any documented column a table lacks (dlt
    only creates a column once it has seen a value for it). So `dbt build`, unit tests
    included, works on a fresh warehouse before any loader has run, and never changes a
    column that exists.
-#}
{% macro create_missing_raw_tables() -%}
    {{ return(adapter.dispatch('create_missing_raw_tables', 'product_analytics')()) }}
{%- endmacro %}

{% macro default__create_missing_raw_tables() -%}
    {%- set statements = [] -%}
    {%- if execute -%}
        {%- for source_node in graph.sources.values()
            if source_node.package_name == project_name and source_node.columns -%}
            {%- set relation = api.Relation.create(
                database=source_node.database,
                schema=source_node.schema,
                identifier=source_node.identifier,
            ) -%}
            {%- do statements.append(
                'create schema if not exists ' ~ adapter.quote(source_node.schema)
            ) -%}
            {%- set column_definitions = [] -%}
            {%- for column in source_node.columns.values() -%}
                {%- do column_definitions.append(
                    adapter.quote(column.name) ~ ' ' ~ column.data_type
                ) -%}
            {%- endfor -%}
            {%- do statements.append(
                'create table if not exists ' ~ relation ~ ' ('
                ~ column_definitions | join(', ') ~ ')'
            ) -%}
            {%- for column in source_node.columns.values() -%}
                {%- do statements.append(add_missing_column(relation, column)) -%}
            {%- endfor -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if statements -%}
        {{ statements | join(';\n') }}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{% macro add_missing_column(relation, column) -%}
    {{ return(adapter.dispatch('add_missing_column', 'product_analytics')(relation, column)) }}
{%- endmacro %}

{% macro default__add_missing_column(relation, column) -%}
    alter table {{ relation }} add column if not exists
    {{ adapter.quote(column.name) }} {{ column.data_type }}
{%- endmacro %}
