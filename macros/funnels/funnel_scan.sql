{#-
    Pieces of the funnel scan in int_funnel_steps_reached.

    A path is the best attempt's moments (an entity's distinct event timestamps, numbered
    1, 2, ... in time order) written as fixed-width text, one 10-digit field per step:
    step 1's moment as is, later steps' moments subtracted from 9999999999. The greatest
    path (a plain text max) is then the attempt with the latest start, and among those the
    one reaching each later step earliest.
-#}
{% macro funnel_path_start(moment_number) -%}
    lpad(cast({{ moment_number }} as {{ dbt.type_string() }}), 10, '0')
{%- endmacro %}

{% macro funnel_path_later_step(moment_number) -%}
    lpad(cast(9999999999 - {{ moment_number }} as {{ dbt.type_string() }}), 10, '0')
{%- endmacro %}

{#- The moment at which the path reaches `step_number` (an expression). -#}
{% macro funnel_path_moment(path, step_number) -%}
    case
        when {{ step_number }} = 1
            then cast(substr({{ path }}, 1, 10) as {{ dbt.type_bigint() }})
        else 9999999999 - cast(
            substr({{ path }}, ({{ step_number }} - 1) * 10 + 1, 10) as {{ dbt.type_bigint() }}
        )
    end
{%- endmacro %}

{#-
    True when one moment holds distinct events for every step from `first_step` to
    `last_step` (1-based): `step_<n>_events` counts the moment's events matching step n, and
    a name repeated within the range needs as many events as it has steps there, since one
    event fills at most one step.
-#}
{% macro funnel_steps_fillable(steps, first_step, last_step) -%}
    {%- set conditions = [] -%}
    {%- for step_number in range(first_step, last_step + 1) -%}
        {%- set needed = steps[first_step - 1:step_number]
            | select('equalto', steps[step_number - 1]) | list | length -%}
        {%- do conditions.append('step_' ~ step_number ~ '_events >= ' ~ needed) -%}
    {%- endfor -%}
    {{ conditions | join(' and ') }}
{%- endmacro %}
