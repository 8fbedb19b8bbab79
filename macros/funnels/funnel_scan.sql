{#-
    Pieces of the funnel scan in int_funnel_steps_reached.

    A path is an attempt as an array of whole microseconds since 1970: its step-1 time as is,
    each later step's time negated, so the greatest path (a plain array max) is the attempt
    with the latest start and, among those, the one reaching each later step earliest. A
    path at step k > 1 starts with one era per exclusion in progress at step k (after_step <=
    k < before_step, see `funnel_path_eras`): the time of the latest moment of the excluded
    event at or before the attempt's after_step event (`funnel_no_exclusion()` when none).
    Eras come first because an attempt whose era is behind the excluded event seen since can
    never go on: at any moment the attempts that can all share the latest era. A step-1 path
    needs none: its era would grow with its start, so the latest start has the latest era.

    The scan reads two times per moment and exclusion n, both taken over every moment of the
    entity before the unusable ones are dropped (so that dropping them changes none):
    `exclusion_n_before`, the latest moment of its event strictly before this one, and
    `exclusion_n_at_or_before` (this one included). Its excluded moments stay to the end,
    where `exclusion_n_last`, the partition's last, decides which paths it ended.
-#}

{% macro funnel_epoch_microseconds(timestamp) -%}
    {{ return(adapter.dispatch('funnel_epoch_microseconds')(timestamp)) }}
{%- endmacro %}

{% macro postgres__funnel_epoch_microseconds(timestamp) -%}
    cast(extract(epoch from {{ timestamp }}) * 1000000 as bigint)
{%- endmacro %}

{% macro funnel_timestamp_from_microseconds(microseconds) -%}
    {{ return(adapter.dispatch('funnel_timestamp_from_microseconds')(microseconds)) }}
{%- endmacro %}

{% macro postgres__funnel_timestamp_from_microseconds(microseconds) -%}
    (timestamptz '1970-01-01 00:00:00+00' + {{ microseconds }} * interval '1 microsecond')
{%- endmacro %}

{#- An array of bigint from SQL expressions. -#}
{% macro funnel_path_of(elements) -%}
    {{ return(adapter.dispatch('funnel_path_of')(elements)) }}
{%- endmacro %}

{% macro postgres__funnel_path_of(elements) -%}
    cast(array[{{ elements | join(', ') }}] as bigint [])
{%- endmacro %}

{#- Element `index` (1-based, a SQL expression) of a path. -#}
{% macro funnel_path_element(path, index) -%}
    {{ return(adapter.dispatch('funnel_path_element')(path, index)) }}
{%- endmacro %}

{% macro postgres__funnel_path_element(path, index) -%}
    ({{ path }})[{{ index }}]
{%- endmacro %}

{#- Elements `first` to `last` (1-based, inclusive; `last` none: to the end) of a path. -#}
{% macro funnel_path_slice(path, first, last=none) -%}
    {{ return(adapter.dispatch('funnel_path_slice')(path, first, last)) }}
{%- endmacro %}

{% macro postgres__funnel_path_slice(path, first, last) -%}
    ({{ path }})[{{ first }}:{{ last if last is not none else '' }}]
{%- endmacro %}

{% macro funnel_path_concat(paths) -%}
    {{ paths | join(' || ') }}
{%- endmacro %}

{#- The window in whole microseconds (ClickHouse's windowFunnel counts whole seconds). -#}
{% macro funnel_window_microseconds(funnel) -%}
    {{ (funnel.window_days * 86400) | int * 1000000 }}
{%- endmacro %}

{#-
    The numbers (1-based) of the funnel's exclusions in progress at `step_number`: those an
    attempt at that step must still respect (after_step <= step_number < before_step).
-#}
{% macro funnel_exclusions_in_progress(funnel, step_number) -%}
    {%- set numbers = [] -%}
    {%- for exclusion in funnel.get('exclusions', []) -%}
        {%- if exclusion.after_step <= step_number < exclusion.before_step -%}
            {%- do numbers.append(loop.index) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(numbers) }}
{%- endmacro %}

{#- The exclusions whose eras a path at `step_number` carries: those in progress, none at 1. -#}
{% macro funnel_path_eras(funnel, step_number) -%}
    {{ return(funnel_exclusions_in_progress(funnel, step_number) if step_number > 1 else []) }}
{%- endmacro %}

{#- The era of no excluded event: before every moment. -#}
{% macro funnel_no_exclusion() -%}
    cast(-9223372036854775807 as bigint)
{%- endmacro %}

{#- The latest moment of exclusion `number`'s event at or before this moment. -#}
{% macro funnel_exclusion_at_or_before(number) -%}
    coalesce({{ funnel_excluded_moment(number) }}, exclusion_{{ number }}_before)
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
    The best path that reaches `step_number` at this moment: the greatest of, for every a
    whose steps a..step_number this moment can fill, the best path at step a - 1 before this
    moment (none for a = 1: an attempt starting here) extended by this moment, if this moment
    is within the window of its step-1 event and no excluded event in progress came strictly
    between its after_step event and this moment (its era is at or after the latest excluded
    moment strictly before this one; for a step-1 path, its start is).
-#}
{% macro funnel_step_reached(funnel, step_number) -%}
    {%- set candidates = [] -%}
    {%- for first_step in range(1, step_number + 1) -%}
        {%- do candidates.append(funnel_step_candidate(funnel, step_number, first_step)) -%}
    {%- endfor -%}
    {{ return(funnel_greatest(candidates)) }}
{%- endmacro %}

{#- The greatest of `expressions`; one as itself (Spark's `greatest` takes two or more). -#}
{% macro funnel_greatest(expressions) -%}
    {%- if expressions | length == 1 -%}
        {{ return(expressions[0]) }}
    {%- endif -%}
    {{ return('greatest(\n' ~ expressions | join(',\n') ~ '\n)') }}
{%- endmacro %}

{#- The path reaching `step_number` at this moment from the best path at `first_step` - 1. -#}
{% macro funnel_step_candidate(funnel, step_number, first_step) -%}
    {%- set path_eras = funnel_path_eras(funnel, step_number) -%}
    {%- set new_steps = ['-moment_at'] * (step_number - first_step) -%}
    {%- set fillable = funnel_steps_fillable(funnel.steps, first_step, step_number) -%}
    {%- if first_step == 1 -%}
        {%- set eras = [] -%}
        {%- for number in path_eras -%}
            {%- do eras.append(funnel_exclusion_at_or_before(number)) -%}
        {%- endfor -%}
        {{ return('case when ' ~ fillable ~ ' then '
            ~ funnel_path_of(eras + ['moment_at'] + new_steps) ~ ' end') }}
    {%- endif -%}
    {%- set before = 'step_' ~ (first_step - 1) ~ '_path_before' -%}
    {%- set before_eras = funnel_path_eras(funnel, first_step - 1) -%}
    {%- set start = funnel_path_element(before, before_eras | length + 1) -%}
    {%- set conditions = [fillable] -%}
    {%- do conditions.append(
        'moment_at <= ' ~ start ~ ' + ' ~ funnel_window_microseconds(funnel)
    ) -%}
    {#- An exclusion in progress at step 1 has the attempt's start for its after_step time. -#}
    {%- set carried = {} -%}
    {%- for number in funnel_exclusions_in_progress(funnel, first_step - 1) -%}
        {%- set era = funnel_path_element(before, before_eras.index(number) + 1)
            if number in before_eras else start -%}
        {%- do conditions.append(era ~ ' >= exclusion_' ~ number ~ '_before') -%}
        {#- Nothing excluded since the after_step event: its latest is the latest before. -#}
        {%- do carried.update({number: era if number in before_eras
            else 'exclusion_' ~ number ~ '_before'}) -%}
    {%- endfor -%}
    {%- set eras = [] -%}
    {%- for number in path_eras -%}
        {%- do eras.append(carried[number] if number in carried
            else funnel_exclusion_at_or_before(number)) -%}
    {%- endfor -%}
    {%- set parts = [funnel_path_of(eras)] if eras else [] -%}
    {%- do parts.append(funnel_path_slice(before, before_eras | length + 1)) -%}
    {%- do parts.append(funnel_path_of(['-moment_at'] + new_steps)) -%}
    {{ return('case when ' ~ conditions | join(' and ') ~ ' then '
        ~ funnel_path_concat(parts) ~ ' end') }}
{%- endmacro %}

{#-
    The exclusions that can end an attempt at `step_number` (carried in its path, after_step
    < step_number): one whose excluded event came after the attempt's after_step event (the
    partition's last excluded moment is after the era) ends it, as it never reached before_step.
-#}
{% macro funnel_exclusions_ending(funnel, step_number) -%}
    {%- set exclusions = funnel.get('exclusions', []) -%}
    {%- set numbers = [] -%}
    {%- for number in funnel_path_eras(funnel, step_number) -%}
        {%- if exclusions[number - 1].after_step < step_number -%}
            {%- do numbers.append(number) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(numbers) }}
{%- endmacro %}

{#-
    The path at `step_number` as the key its partition's max takes: the eras of the
    exclusions that can end it, then the attempt (the other eras dropped). The greatest key
    has each of those eras at its latest, so if any path at the step is not ended, the
    greatest is one that is not, with the best such attempt.
-#}
{% macro funnel_step_key(funnel, step_number) -%}
    {%- set path = 'step_' ~ step_number ~ '_path' -%}
    {%- set eras = funnel_path_eras(funnel, step_number) -%}
    {%- set endings = funnel_exclusions_ending(funnel, step_number) -%}
    {%- if endings == eras -%}
        {{ return(path) }}
    {%- endif -%}
    {%- set parts = [] -%}
    {%- if endings -%}
        {%- set ending_eras = [] -%}
        {%- for number in endings -%}
            {%- do ending_eras.append(funnel_path_element(path, eras.index(number) + 1)) -%}
        {%- endfor -%}
        {%- do parts.append(funnel_path_of(ending_eras)) -%}
    {%- endif -%}
    {%- do parts.append(funnel_path_slice(path, eras | length + 1)) -%}
    {{ return('case when ' ~ path ~ ' is not null then ' ~ funnel_path_concat(parts) ~ ' end') }}
{%- endmacro %}

{#-
    The partition's best path at `step_number` (`step_<n>_best`, keyed by `funnel_step_key`)
    tagged with the step it is worth, for the entity's result: `step_number` when no
    exclusion ended it, else null. An attempt that an exclusion ended at its after_step a is
    worth a, and so is the path at step a it extended (the same attempt and eras, since
    exclusions are nested or apart), so dropping it changes no entity's greatest. The eras
    are dropped, so the tagged paths of every step compare by step, then attempt.
-#}
{% macro funnel_step_worth(funnel, step_number) -%}
    {%- set best = 'step_' ~ step_number ~ '_best' -%}
    {%- set endings = funnel_exclusions_ending(funnel, step_number) -%}
    {%- set conditions = [best ~ ' is not null'] -%}
    {%- for number in endings -%}
        {%- do conditions.append(
            funnel_path_element(best, loop.index) ~ ' >= exclusion_' ~ number ~ '_last'
        ) -%}
    {%- endfor -%}
    {%- set attempt = funnel_path_slice(best, endings | length + 1) if endings else best -%}
    {{ return('case when ' ~ conditions | join(' and ') ~ ' then '
        ~ funnel_path_concat([funnel_path_of([step_number]), attempt]) ~ ' end') }}
{%- endmacro %}

{#-
    True when a moment stays in the scan after its first pass: it can fill a step of some
    attempt (it holds a step-1 event, or it is within the window of the latest step-1 event
    before it), or it holds an excluded event, for the partition's last one. Every attempt
    starts at a step-1 event no later than that one, so a moment past its window is past
    every attempt's, and one before any step-1 event has no attempt at all.
-#}
{% macro funnel_moment_usable(funnel) -%}
    {%- set start = funnel_path_element('step_1_path_before', 1) -%}
    step_1_events >= 1 or moment_at <= {{ start }} + {{ funnel_window_microseconds(funnel) }}
    {%- for exclusion in funnel.get('exclusions', []) %}
        or exclusion_{{ loop.index }}_events > 0
    {%- endfor %}
{%- endmacro %}

{#- The moment (microseconds) when it holds exclusion `number`'s event, else null. -#}
{% macro funnel_excluded_moment(number) -%}
    case when exclusion_{{ number }}_events > 0 then moment_at end
{%- endmacro %}

{#-
    The funnel engine's session settings (its pre-hook, for its transaction only): the memory
    its sorts may use before spilling, and no hash aggregate for the moments: grouped on the
    sort the window passes need anyway, they cost a fifth less than hashed then sorted (the
    plan the row estimates otherwise pick).
-#}
{% macro funnel_engine_settings() -%}
    {{ return(adapter.dispatch('funnel_engine_settings')()) }}
{%- endmacro %}

{% macro default__funnel_engine_settings() -%}
{%- endmacro %}

{% macro postgres__funnel_engine_settings() -%}
    set local work_mem = '{{ var("analytics__funnel_work_mem") }}';
    set local enable_hashagg = off
{%- endmacro %}
