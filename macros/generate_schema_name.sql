{#-
    The default target (and the Spark engine's, `spark` or `spark_server`) writes exactly
    `staging`, `intermediate` and `marts`, the names BI tools and the contract depend on. Any other target (a personal sandbox, say)
    prefixes them with its own schema so it never overwrites the shared ones.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- elif target.name in ('default', 'spark', 'spark_server') -%}
        {{ custom_schema_name | trim }}
    {%- else -%}
        {{ target.schema }}_{{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
