"""`analytics run`: the scheduled job. Every configured load, then `dbt source freshness`,
`dbt build` (models with their data and unit tests, the completeness test included) and the
tracking-plan lint, ending with a summary a person reads in ten seconds.

Exit codes: 0 when every check passed or only warned, 1 when a check failed (data quality),
2 when something expected went wrong (a bad path, unreachable server, dbt itself failing).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from pipelines import plan_lint
from pipelines.errors import UserError
from pipelines.loading import LoadReport
from pipelines.transform import dbt
from pipelines.warehouse import PROJECT_ROOT, Connection

PASS, WARN, FAIL, BROKEN = "pass", "warn", "fail", "broken"
MARKS = {PASS: "[green]✓[/]", WARN: "[yellow]![/]", FAIL: "[red]✗[/]", BROKEN: "[red]✗[/]"}
DBT_TARGET = PROJECT_ROOT / "target"
FAILING_ROWS_SHOWN = 5


@dataclass(frozen=True)
class RunConfig:
    """What to load; each source is loaded only when configured."""

    segment_path: str | None = None
    amplitude_path: Path | None = None
    amplitude_api: bool = False
    production_url: str | None = None
    max_rejected_share: float = 0.01
    dbt_arguments: tuple[str, ...] = ()


@dataclass(frozen=True)
class Check:
    status: str
    name: str
    detail: str
    lines: tuple[str, ...] = ()


@dataclass
class RunSummary:
    checks: list[Check] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        statuses = {check.status for check in self.checks}
        if BROKEN in statuses:
            return 2
        return 1 if FAIL in statuses else 0

    def counts(self) -> Counter[str]:
        return Counter(check.status for check in self.checks)


def run(config: RunConfig, target: Connection, console: Console) -> RunSummary:
    target.connect().close()
    summary = RunSummary()
    for name, load in configured_loads(config, target):
        with console.status(f"loading {name}"):
            summary.checks.append(load_check(name, load, config.max_rejected_share))
    if not summary.checks:
        summary.checks.append(Check(WARN, "loads", "none configured (see `analytics run -h`)"))
    with console.status("checking source freshness"):
        summary.checks.extend(freshness_checks(dbt(["source", "freshness", "--quiet"], target)))
    with console.status("running dbt build"):
        exit_code = dbt(["build", "--quiet", *config.dbt_arguments], target)
        summary.checks.extend(build_checks(exit_code, target))
    with console.status("linting event names against the tracking plan"):
        summary.checks.append(lint_check(target))
    return summary


def configured_loads(
    config: RunConfig, target: Connection
) -> list[tuple[str, Callable[[], LoadReport]]]:
    from pipelines.sources import amplitude, production, segment

    loads: list[tuple[str, Callable[[], LoadReport]]] = []
    if config.segment_path:
        loads.append(("segment", lambda: segment.load(config.segment_path, target)))
    if config.amplitude_path:
        loads.append(("amplitude", lambda: amplitude.load_archives(config.amplitude_path, target)))
    elif config.amplitude_api:
        loads.append(("amplitude", lambda: amplitude.load_from_api(target)))
    if config.production_url:
        loads.append(("production", lambda: production.load(config.production_url, target)))
    return loads


def load_check(name: str, load: Callable[[], LoadReport], max_rejected_share: float) -> Check:
    """A load that cannot run is broken; one rejecting too many lines failed."""
    try:
        report = load()
    except UserError as error:
        return Check(BROKEN, "load", f"{name}: {error}")
    if report.rejected_share > max_rejected_share:
        detail = f"{report.summary()}: {report.rejected_share:.1%} rejected"
        return Check(FAIL, "load", f"{detail} (more than {max_rejected_share:.1%})")
    return Check(PASS, "load", report.summary())


def freshness_checks(
    exit_code: int, sources_path: Path = DBT_TARGET / "sources.json"
) -> list[Check]:
    """One line for the fresh sources, one per stale or unreadable one."""
    if exit_code not in (0, 1) or not sources_path.exists():
        return [Check(BROKEN, "freshness", f"dbt source freshness failed (exit {exit_code})")]
    results = json.loads(sources_path.read_text(encoding="utf-8"))["results"]
    checks = []
    fresh = 0
    for result in results:
        name = result["unique_id"].removeprefix("source.").split(".", 1)[1]
        status = result["status"]
        if status == "pass":
            fresh += 1
            continue
        if status == "runtime error":
            checks.append(Check(FAIL, f"freshness {name}", _one_line(result.get("error", ""))))
            continue
        age = _age(result["max_loaded_at_time_ago_in_s"])
        limit = result["criteria"]["error_after" if status == "error" else "warn_after"]
        checks.append(
            Check(
                FAIL if status == "error" else WARN,
                f"freshness {name}",
                f"newest row {age} old (limit {limit['count']} {limit['period']}s)",
            )
        )
    checks.insert(0, Check(PASS, "freshness", f"{fresh} of {len(results)} source tables fresh"))
    return checks


def build_checks(
    exit_code: int, target: Connection, run_results_path: Path = DBT_TARGET / "run_results.json"
) -> list[Check]:
    """One line of totals, then one per model or test that did not pass, with the failing
    rows of a test (which name, for the completeness test, the days and sources)."""
    if exit_code not in (0, 1) or not run_results_path.exists():
        return [Check(BROKEN, "dbt build", f"dbt build failed to run (exit {exit_code})")]
    results = json.loads(run_results_path.read_text(encoding="utf-8"))["results"]
    totals: Counter[str] = Counter()
    checks = []
    for result in results:
        kind, _, *name_parts = result["unique_id"].split(".")
        status = result["status"]
        totals[f"{kind} {status}"] += 1
        if status in ("success", "pass"):
            continue
        # A data test's id ends with a hash; a unit test's is model.test.
        node = name_parts[0] if kind == "test" else ".".join(name_parts)
        name = f"{kind.replace('_', ' ')} {node}"
        if status == "warn":
            checks.append(Check(WARN, name, _result_detail(result), _failing_rows(result, target)))
        else:
            checks.append(Check(FAIL, name, _result_detail(result), _failing_rows(result, target)))
    passed = ", ".join(
        f"{count} {label.split()[0].replace('_', ' ')}s"
        for label, count in sorted(totals.items())
        if label.endswith((" success", " pass"))
    )
    status = FAIL if any(check.status == FAIL for check in checks) else PASS
    checks.insert(0, Check(status, "dbt build", f"passed: {passed or 'nothing'}"))
    return checks


def lint_check(target: Connection) -> Check:
    try:
        report = plan_lint.lint(target)
    except UserError as error:
        return Check(BROKEN, "plan lint", str(error))
    lines = tuple(
        f"{finding.level} {finding.rule}: {finding.message}"
        + (f" ({finding.count} events)" if finding.count else "")
        for finding in report.findings
    )
    status = FAIL if report.errors else WARN if report.warnings else PASS
    return Check(status, "plan lint", report.summary(), lines)


def print_summary(summary: RunSummary, console: Console) -> None:
    counts = summary.counts()
    outcome = {0: "[green]OK[/]", 1: "[red]FAILED[/]", 2: "[red]BROKEN[/]"}[summary.exit_code]
    console.print(
        f"\nanalytics run {outcome}: {counts[PASS]} passed, {counts[WARN]} warned, "
        f"{counts[FAIL]} failed" + (f", {counts[BROKEN]} could not run" if counts[BROKEN] else "")
    )
    for check in sorted(summary.checks, key=lambda check: _severity(check.status)):
        console.print(f"{MARKS[check.status]} {escape(check.name)}: {escape(check.detail)}")
        for line in check.lines:
            console.print(f"    {escape(line)}")


def _severity(status: str) -> int:
    return (BROKEN, FAIL, WARN, PASS).index(status)


def _result_detail(result: dict) -> str:
    if result.get("failures"):
        return f"{result['status']}: {result['failures']} failing rows"
    return f"{result['status']}: {_one_line(result.get('message') or '')}"


def _failing_rows(result: dict, target: Connection) -> tuple[str, ...]:
    """The first rows a failed or warned data test returns, as `column=value` lines."""
    is_data_test = result["unique_id"].startswith("test.")
    if not is_data_test or not result.get("failures") or not result.get("compiled_code"):
        return ()
    query = f"select * from ({result['compiled_code']}) as failing limit {FAILING_ROWS_SHOWN}"
    with target.cursor() as cursor:
        cursor.execute(query)
        columns = [column.name for column in cursor.description]
        rows = cursor.fetchall()
    return tuple(
        " ".join(f"{column}={_format(value)}" for column, value in zip(columns, row, strict=True))
        for row in rows
    )


def _format(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _age(seconds: float) -> str:
    age = timedelta(seconds=int(seconds))
    if age.days >= 2:
        return f"{age.days} days"
    return f"{age.total_seconds() / 3600:.1f} hours"


def _one_line(message: str) -> str:
    return " ".join(message.split())
