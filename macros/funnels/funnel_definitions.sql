{#-
    The funnels declared in the `funnels` var (contract section 7), checked once here so
    every funnel model can trust them: at least one funnel, each with a unique name, entity
    `user` or `org`, a positive `window_days` and 1 to 32 step names (as ClickHouse's
    windowFunnel), and only these optional keys:
    - `exclusions`: a list of {event, after_step, before_step}, 1 <= after_step < before_step
      <= the number of steps, the event not one of the funnel's steps (an event cannot both
      fill a step and end the attempt), the step ranges of two exclusions nested or apart;
    - `hold_constant`: a list of distinct property names of `fct_events.properties`
      (letters, digits and underscores);
    - `breakdown_attribution`: `first_touch` (the default) or `step_N`, N a step.
    A typo in a key is an error rather than a silently ignored option.
-#}
{% macro funnel_definitions() -%}
    {%- set funnels = var('funnels') -%}
    {%- if funnels is string or funnels is not iterable or funnels | length == 0 -%}
        {{ exceptions.raise_compiler_error('the `funnels` var must list at least one funnel') }}
    {%- endif -%}
    {%- set known_keys = [
        'name', 'entity', 'window_days', 'steps',
        'exclusions', 'hold_constant', 'breakdown_attribution'
    ] -%}
    {%- set seen_names = [] -%}
    {%- for funnel in funnels -%}
        {%- set label = 'funnel ' ~ (funnel.name if funnel is mapping else loop.index) -%}
        {%- if funnel is not mapping or funnel.name is not string or not funnel.name -%}
            {{ exceptions.raise_compiler_error(label ~ ': every funnel needs a `name`') }}
        {%- endif -%}
        {%- for key in funnel if key not in known_keys -%}
            {{ exceptions.raise_compiler_error(
                label ~ ': unknown key `' ~ key ~ '` (known: ' ~ known_keys | join(', ') ~ ')'
            ) }}
        {%- endfor -%}
        {%- if funnel.name in seen_names -%}
            {{ exceptions.raise_compiler_error(label ~ ': the name is declared twice') }}
        {%- endif -%}
        {%- do seen_names.append(funnel.name) -%}
        {%- if funnel.entity not in ['user', 'org'] -%}
            {{ exceptions.raise_compiler_error(label ~ ': `entity` must be user or org') }}
        {%- endif -%}
        {%- if funnel.window_days is not number or funnel.window_days <= 0 -%}
            {{ exceptions.raise_compiler_error(label ~ ': `window_days` must be positive') }}
        {%- endif -%}
        {%- if funnel.steps is string or funnel.steps is not iterable
            or funnel.steps | length == 0 or funnel.steps | length > 32 -%}
            {{ exceptions.raise_compiler_error(label ~ ': `steps` must list 1 to 32 events') }}
        {%- endif -%}
        {%- for step in funnel.steps if step is not string or not step -%}
            {{ exceptions.raise_compiler_error(label ~ ': every step is an event name') }}
        {%- endfor -%}
        {%- do funnel_check_exclusions(funnel, label) -%}
        {%- do funnel_check_hold_constant(funnel, label) -%}
        {%- do funnel_check_breakdown_attribution(funnel, label) -%}
    {%- endfor -%}
    {{ return(funnels) }}
{%- endmacro %}

{% macro funnel_check_exclusions(funnel, label) -%}
    {%- set exclusions = funnel.get('exclusions', []) -%}
    {%- if exclusions is string or exclusions is mapping or exclusions is not iterable -%}
        {{ exceptions.raise_compiler_error(
            label ~ ': `exclusions` must be a list of {event, after_step, before_step}'
        ) }}
    {%- endif -%}
    {%- set step_count = funnel.steps | length -%}
    {%- for exclusion in exclusions -%}
        {%- set where = label ~ ': exclusion ' ~ loop.index -%}
        {%- if exclusion is not mapping
            or exclusion.keys() | list | sort != ['after_step', 'before_step', 'event'] -%}
            {{ exceptions.raise_compiler_error(
                where ~ ' must have exactly the keys event, after_step and before_step'
            ) }}
        {%- endif -%}
        {%- if exclusion.event is not string or not exclusion.event -%}
            {{ exceptions.raise_compiler_error(where ~ ': `event` must be an event name') }}
        {%- endif -%}
        {%- if exclusion.event in funnel.steps -%}
            {{ exceptions.raise_compiler_error(
                where ~ ': `' ~ exclusion.event ~ '` is a step of the funnel; an event cannot'
                ~ ' both fill a step and end the attempt'
            ) }}
        {%- endif -%}
        {%- for bound in ['after_step', 'before_step'] -%}
            {%- set value = exclusion[bound] -%}
            {%- if value is not number or value is sameas true or value is sameas false
                or value != value | int or value < 1 or value > step_count -%}
                {{ exceptions.raise_compiler_error(
                    where ~ ': `' ~ bound ~ '` must be a step number from 1 to ' ~ step_count
                ) }}
            {%- endif -%}
        {%- endfor -%}
        {%- if exclusion.after_step >= exclusion.before_step -%}
            {{ exceptions.raise_compiler_error(
                where ~ ': `after_step` must come before `before_step`'
            ) }}
        {%- endif -%}
    {%- endfor -%}
    {#- Partly overlapping ranges would let one exclusion cut an attempt short of another's
        before_step after the engine stopped watching it; nested or apart, they cannot. -#}
    {%- for first in exclusions -%}
        {%- for second in exclusions if first.after_step < second.after_step
            < first.before_step < second.before_step -%}
            {{ exceptions.raise_compiler_error(
                label ~ ': exclusions ' ~ first.after_step ~ '-' ~ first.before_step ~ ' and '
                ~ second.after_step ~ '-' ~ second.before_step ~ ' overlap in part; make their'
                ~ ' step ranges nested or apart'
            ) }}
        {%- endfor -%}
    {%- endfor -%}
{%- endmacro %}

{% macro funnel_check_hold_constant(funnel, label) -%}
    {%- set properties = funnel.get('hold_constant', []) -%}
    {%- if properties is string or properties is mapping or properties is not iterable -%}
        {{ exceptions.raise_compiler_error(
            label ~ ': `hold_constant` must be a list of property names'
        ) }}
    {%- endif -%}
    {%- for property in properties -%}
        {%- if property is not string
            or not modules.re.fullmatch('[A-Za-z_][A-Za-z0-9_]*', property) -%}
            {{ exceptions.raise_compiler_error(
                label ~ ': `hold_constant` lists property names (letters, digits, _), not '
                ~ property
            ) }}
        {%- endif -%}
    {%- endfor -%}
    {%- if properties | unique | list | length != properties | length -%}
        {{ exceptions.raise_compiler_error(label ~ ': `hold_constant` names a property twice') }}
    {%- endif -%}
{%- endmacro %}

{% macro funnel_check_breakdown_attribution(funnel, label) -%}
    {%- set attribution = funnel.get('breakdown_attribution', 'first_touch') -%}
    {%- set allowed = ['first_touch'] -%}
    {%- for step in funnel.steps -%}
        {%- do allowed.append('step_' ~ loop.index) -%}
    {%- endfor -%}
    {%- if attribution not in allowed -%}
        {{ exceptions.raise_compiler_error(
            label ~ ': `breakdown_attribution` must be first_touch or step_1 to step_'
            ~ funnel.steps | length ~ ', not ' ~ attribution
        ) }}
    {%- endif -%}
{%- endmacro %}

{#- The step number whose moment supplies a funnel's breakdown values (1 for first_touch). -#}
{% macro funnel_breakdown_step(funnel) -%}
    {%- set attribution = funnel.get('breakdown_attribution', 'first_touch') -%}
    {{ return(1 if attribution == 'first_touch' else attribution[5:] | int) }}
{%- endmacro %}
