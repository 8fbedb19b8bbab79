{#-
    Pieces of the funnel scan in int_funnel_steps_reached.

    A path is an attempt's moments (an entity's distinct event timestamps, numbered 1, 2, ...
    in time order) written as text, one 10-digit field per step: step 1's moment as is, later
    steps' moments subtracted from 9999999999. The greatest path (a plain text max) is then the
    attempt with the latest start, and among those the one reaching each later step earliest.
-#}
{% macro funnel_path_start(moment_number) -%}
    lpad(cast({{ moment_number }} as {{ dbt.type_string() }}), 10, '0')
{%- endmacro %}

{% macro funnel_path_later_step(moment_number) -%}
    lpad(cast(9999999999 - {{ moment_number }} as {{ dbt.type_string() }}), 10, '0')
{%- endmacro %}

{#- The moment at which `path` reaches `step_number` (both SQL expressions). -#}
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
    True when the moment holds distinct events for every step from `first_step` to
    `last_step` (1-based): `step_<n>_events` counts the moment's events matching step n, and a
    name repeated within the range needs as many events as it has steps there, since one event
    fills at most one step.
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

{#-
    The attempt that reaches `step_number` at this moment, as `what` (`start`: its step-1
    time, or `path`): the attempt that reached step a - 1 before this moment (or one starting
    here, a = 1) for the smallest a whose steps a..step_number this moment can fill, if this
    moment is within the window of that attempt's step-1 event. The smallest a is the best:
    attempts that got further before this moment started no earlier.
-#}
{% macro funnel_step_reached(funnel, step_number, what) -%}
    {%- set later_step = funnel_path_later_step('moment_number') -%}
    {%- set branches = [] -%}
    {%- for first_step in range(1, step_number + 1) -%}
        {%- if first_step == 1 and what == 'start' -%}
            {%- set reached = 'occurred_at' -%}
        {%- elif first_step == 1 -%}
            {%- set reached = ([funnel_path_start('moment_number')]
                + [later_step] * (step_number - 1)) | join(' || ') -%}
        {%- else -%}
            {%- set attempt = 'step_' ~ (first_step - 1) ~ '_' ~ what ~ '_before' -%}
            {%- set new_steps = [later_step] * (step_number - first_step + 1)
                if what == 'path' else [] -%}
            {%- set window_end = dbt.dateadd(
                'second', funnel_window_seconds(funnel),
                'step_' ~ (first_step - 1) ~ '_start_before') | trim -%}
            {%- set reached = 'case when occurred_at <= ' ~ window_end ~ ' then '
                ~ ([attempt] + new_steps) | join(' || ') ~ ' end' -%}
        {%- endif -%}
        {%- do branches.append(
            'when ' ~ funnel_steps_fillable(funnel.steps, first_step, step_number)
            ~ ' then ' ~ reached
        ) -%}
    {%- endfor -%}
    case
        {{ branches | join('\n        ') }}
    end
{%- endmacro %}
