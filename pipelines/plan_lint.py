"""`analytics plan lint`: the tracking plan's own rules, then the event names and properties
the warehouse holds against it.

Levels: anything that breaks the plan is an error (exit 1); a legacy alias the plan declares
is a warning (it maps to its canonical name; the tracking code should still migrate). Name
findings read `rpt_event_catalog`, where dbt computes near duplicates (one place for that
rule); property findings read `fct_events`. Both are as of the last `dbt build`, in the
schemas dbt's manifest names for the target that build used (`marts` by default).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import psycopg2
from psycopg2.extras import execute_values
from rich.console import Console
from rich.markup import escape

from pipelines import tracking_plan
from pipelines.errors import UserError
from pipelines.tracking_plan import TITLE_CASE, EventProperty, TrackingPlan
from pipelines.transform import MANIFEST_PATH, built_relations
from pipelines.warehouse import Connection

ERROR = "error"
WARNING = "warning"
MAX_EXAMPLES = 3

CATALOG_QUERY = """
    select source_event_name, source, events, near_duplicate_of, is_planned
    from {rpt_event_catalog}
    order by source_event_name, source
"""

# One row per planned (event, property) rule, with the values its enum allows (a jsonb array,
# null without an enum); `org_id` absent from the properties is read from the event's
# organization context (contract section 4: Segment `context.groupId`, Amplitude `groups`),
# which dbt resolved into `fct_events.org_id`.
PROPERTY_QUERY = """
    with rules (event_name, property_name, property_type, is_required, allowed_values) as (
        values %s
    ),

    checked as (
        select
            events.event_id,
            events.source,
            rules.event_name,
            rules.property_name,
            rules.property_type,
            rules.is_required,
            rules.allowed_values::jsonb as allowed_values,
            coalesce(
                nullif(events.properties -> rules.property_name, 'null'::jsonb),
                case when rules.property_name = 'org_id' then to_jsonb(events.org_id) end
            ) as value
        from {fct_events} as events
        inner join rules on events.event_name = rules.event_name
    ),

    judged as (
        select
            *,
            value is null and is_required as is_missing,
            value is not null and not (
                jsonb_typeof(value) = property_type
                or (
                    property_type = 'integer'
                    and jsonb_typeof(value) = 'number'
                    and value::text::numeric = trunc(value::text::numeric)
                )
            ) as is_wrong_type,
            value is not null
            and allowed_values is not null
            and not allowed_values @> jsonb_build_array(value) as is_not_allowed
        from checked
    )

    select
        event_name,
        property_name,
        property_type,
        count(*) as events,
        count(*) filter (where is_missing) as missing,
        count(*) filter (where is_wrong_type) as wrong_type,
        count(*) filter (where is_not_allowed and not is_wrong_type) as not_allowed,
        (array_agg(source || ' ' || event_id order by event_id)
            filter (where is_missing))[1:{max_examples}] as missing_examples,
        (array_agg(source || ' ' || event_id || ': ' || value::text order by event_id)
            filter (where is_wrong_type))[1:{max_examples}] as wrong_type_examples,
        (array_agg(source || ' ' || event_id || ': ' || value::text order by event_id)
            filter (where is_not_allowed and not is_wrong_type))[1:{max_examples}]
            as not_allowed_examples
    from judged
    group by event_name, property_name, property_type
    having count(*) filter (where is_missing or is_wrong_type or is_not_allowed) > 0
    order by event_name, property_name
"""


@dataclass(frozen=True)
class Finding:
    level: str
    rule: str
    message: str
    count: int = 0
    examples: tuple[str, ...] = ()


@dataclass(frozen=True)
class CatalogRow:
    source_event_name: str
    source: str
    events: int
    near_duplicate_of: str | None
    is_planned: bool = False  # dbt matched it to a planned event (a destination's rename)


@dataclass(frozen=True)
class LintReport:
    findings: tuple[Finding, ...]

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(finding for finding in self.findings if finding.level == ERROR)

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(finding for finding in self.findings if finding.level == WARNING)

    @property
    def exit_code(self) -> int:
        return 1 if self.errors else 0

    def summary(self) -> str:
        return f"{_counted(len(self.errors), 'error')}, {_counted(len(self.warnings), 'warning')}"


def lint(
    target: Connection,
    plan_path: Path = tracking_plan.PLAN_PATH,
    manifest_path: Path = MANIFEST_PATH,
) -> LintReport:
    """Check the plan file, then the warehouse against it."""
    plan, problems = tracking_plan.check(plan_path)
    relations = built_relations(["rpt_event_catalog", "fct_events"], manifest_path)
    findings = [Finding(ERROR, "plan", problem) for problem in problems]
    findings.extend(name_findings(plan, read_catalog(target, relations["rpt_event_catalog"])))
    findings.extend(property_findings(target, plan, relations["fct_events"]))
    return LintReport(tuple(findings))


def read_catalog(target: Connection, rpt_event_catalog: str) -> list[CatalogRow]:
    sql = CATALOG_QUERY.format(rpt_event_catalog=rpt_event_catalog)
    return [CatalogRow(*row) for row in _query(target, sql)]


def name_findings(plan: TrackingPlan, catalog: list[CatalogRow]) -> list[Finding]:
    """At most one finding per name sent, the most specific: a declared legacy alias
    (warning), else an unplanned name that nearly duplicates another, one that is not
    Object Action in Title Case, or any other unplanned name (errors). A name dbt matched to
    a planned event without the plan listing it (a page Segment forwarded to Amplitude) is
    not a finding."""
    by_name: dict[str, list[CatalogRow]] = defaultdict(list)
    for row in catalog:
        by_name[row.source_event_name].append(row)
    canonical_names = plan.canonical_names()
    findings = []
    for name, rows in by_name.items():
        canonical = canonical_names.get(name)
        if canonical == name or (canonical is None and all(row.is_planned for row in rows)):
            # Planned, or a planned event renamed by a destination (Segment's Amplitude
            # destination forwards a page as `Viewed <category> <name> Page`): nothing to fix.
            continue
        count = sum(row.events for row in rows)
        examples = tuple(f"{row.source}: {row.events} events" for row in rows)
        near = next((row.near_duplicate_of for row in rows if row.near_duplicate_of), None)
        if canonical is not None:
            level, rule = WARNING, "legacy alias"
            message = f"`{name}` is a declared alias of `{canonical}`: migrate the tracking code"
        elif near is not None:
            level, rule = ERROR, "near duplicate"
            message = (
                f"`{name}` is not in the plan and nearly duplicates `{near}`: "
                "fix the tracking code or declare it as an alias"
            )
        elif not TITLE_CASE.match(name):
            level, rule = ERROR, "name format"
            message = f"`{name}` is not in the plan and not Object Action in Title Case"
        else:
            level, rule = ERROR, "unplanned"
            message = f"`{name}` is not in the plan: add it or stop sending it"
        findings.append(Finding(level, rule, message, count, examples))
    return findings


def property_findings(target: Connection, plan: TrackingPlan, fct_events: str) -> list[Finding]:
    """Required properties missing, properties of the wrong type and values outside an
    enum, per event (the top-level properties; nested shapes are the generated code's and
    the JSON Schemas' to enforce)."""
    rules = [
        (event.name, prop.name, prop.type, prop.required, _allowed_values(prop))
        for event in plan.events
        for prop in event.properties
    ]
    if not rules:
        return []
    findings = []
    sql = PROPERTY_QUERY.format(fct_events=fct_events, max_examples=MAX_EXAMPLES)
    for row in _query(target, sql, rules):
        event, prop, prop_type, events, missing, wrong, not_allowed, *examples = row
        missing_examples, wrong_examples, not_allowed_examples = examples
        if missing:
            findings.append(
                Finding(
                    ERROR,
                    "missing property",
                    f"`{event}` lacks its required `{prop}` in {missing} of {events} events",
                    missing,
                    tuple(missing_examples),
                )
            )
        if wrong:
            findings.append(
                Finding(
                    ERROR,
                    "wrong type",
                    f"`{event}` has `{prop}` not of type {prop_type} in {wrong} of {events} events",
                    wrong,
                    tuple(wrong_examples),
                )
            )
        if not_allowed:
            findings.append(
                Finding(
                    ERROR,
                    "value not allowed",
                    f"`{event}` has `{prop}` outside its enum in {not_allowed} of {events} events",
                    not_allowed,
                    tuple(not_allowed_examples),
                )
            )
    return findings


def _allowed_values(prop: EventProperty) -> str | None:
    return json.dumps(list(prop.enum)) if prop.enum else None


def _counted(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def print_report(report: LintReport, console: Console | None = None) -> None:
    """One line per finding, errors first, then the totals."""
    console = console or Console(soft_wrap=True)
    for finding in sorted(report.findings, key=lambda finding: finding.level != ERROR):
        mark = "[red]✗[/]" if finding.level == ERROR else "[yellow]![/]"
        detail = f" ({finding.count} events" if finding.count else " ("
        detail += "; e.g. " if finding.count and finding.examples else ""
        detail += ", ".join(finding.examples) + ")"
        console.print(f"{mark} {finding.rule}: {escape(finding.message)}{escape(detail)}")
    colour = "red" if report.errors else "green"
    console.print(f"[{colour}]tracking plan lint: {report.summary()}[/]")


def _query(target: Connection, sql: str, rules: list[tuple] | None = None) -> list[tuple]:
    try:
        with target.cursor() as cursor:
            if rules is None:
                cursor.execute(sql)
                return cursor.fetchall()
            # One statement for every rule: execute_values splits pages into statements.
            return execute_values(cursor, sql, rules, page_size=len(rules), fetch=True)
    except psycopg2.errors.UndefinedTable:
        raise UserError(
            "the warehouse has no marts yet: run `analytics transform` (or `analytics run`) "
            "before `analytics plan lint`"
        ) from None
