{#- The var org_attribution, validated: `none` or `all_member_orgs`. -#}
{% macro org_attribution() -%}
    {%- set attribution = var('org_attribution') -%}
    {%- if execute and attribution not in ('none', 'all_member_orgs') -%}
        {{ exceptions.raise_compiler_error(
            "var org_attribution must be 'none' or 'all_member_orgs', not '"
            ~ attribution ~ "'"
        ) }}
    {%- endif -%}
    {{ return(attribution) }}
{%- endmacro %}
