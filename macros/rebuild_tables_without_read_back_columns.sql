{#-
    Runs first (on-run-start). An incremental model whose `meta` lists `read_back_columns`
    reads those columns back from its own table; a table built before the model held them (by
    an earlier version of the project) is dropped here when the run selects the model, so the
    run builds it whole, its indexes included, as a full refresh does. Spark builds its
    incremental models whole anyway.
-#}
{% macro rebuild_tables_without_read_back_columns() -%}
    {%- if execute and target.type != 'spark' -%}
        {%- for node in graph.nodes.values()
            if node.unique_id in selected_resources
            and node.config.meta.get('read_back_columns') -%}
            {%- set relation = adapter.get_relation(
                database=node.database, schema=node.schema, identifier=node.alias
            ) -%}
            {%- if relation is not none and relation.is_table -%}
                {%- set held = adapter.get_columns_in_relation(relation)
                    | map(attribute='name') | map('lower') | list -%}
                {%- if node.config.meta.read_back_columns | reject('in', held) | list -%}
                    {%- do log('rebuilding ' ~ relation ~ ': built before it held '
                        ~ node.config.meta.read_back_columns | join(', '), info=true) -%}
                    {%- do adapter.drop_relation(relation) -%}
                {%- endif -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    select 1
{%- endmacro %}
