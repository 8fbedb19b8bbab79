{#-
    BI tools connect as the reader role. It can read `marts` and nothing else: raw and
    staging schemas hold personal data. The run's first hook creates the role, its last
    grants it every relation in `marts` (dbt recreates tables, which drops their grants).
-#}
{% macro create_reader_role() -%}
    {{ return(adapter.dispatch('create_reader_role', 'product_analytics')()) }}
{%- endmacro %}

{% macro default__create_reader_role() -%}
    select 1
{%- endmacro %}

{% macro postgres__create_reader_role() -%}
    do $$
    begin
        if not exists (
            select from pg_catalog.pg_roles where rolname = '{{ var("analytics__reader_role") }}'
        ) then
            create role {{ adapter.quote(var("analytics__reader_role")) }} login;
        end if;
    exception
        -- A dbt user without CREATEROLE (a managed server): warn, build the marts anyway.
        when insufficient_privilege then
            raise warning 'cannot create role {{ var("analytics__reader_role") }}: %', sqlerrm;
        -- Another run created it at the same moment.
        when duplicate_object or unique_violation then
            null;
    end
    $$
{%- endmacro %}

{% macro grant_marts_to_reader() -%}
    {{ return(adapter.dispatch('grant_marts_to_reader', 'product_analytics')()) }}
{%- endmacro %}

{% macro default__grant_marts_to_reader() -%}
    {%- set marts_schema = adapter.quote(generate_schema_name('marts', none)) -%}
    {%- set reader = adapter.quote(var("analytics__reader_role")) -%}
    {%- if execute and generate_schema_name('marts', none) in schemas -%}
        grant usage on schema {{ marts_schema }} to {{ reader }};
        grant select on all tables in schema {{ marts_schema }} to {{ reader }}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{% macro postgres__grant_marts_to_reader() -%}
    {%- set marts_schema = adapter.quote(generate_schema_name('marts', none)) -%}
    {%- set reader = adapter.quote(var("analytics__reader_role")) -%}
    {%- if execute and generate_schema_name('marts', none) in schemas -%}
        do $$
        begin
            if exists (
                select from pg_catalog.pg_roles where rolname = '{{ var("analytics__reader_role") }}'
            ) then
                grant usage on schema {{ marts_schema }} to {{ reader }};
                grant select on all tables in schema {{ marts_schema }} to {{ reader }};
            end if;
        end
        $$
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}
