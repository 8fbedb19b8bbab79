"""`analytics run`: the scheduled job. Every configured load, then `dbt source freshness`,
`dbt build` (models with their data tests, the completeness test included; unit tests are
left to CI) and the tracking-plan lint, ending with a summary a person reads in ten seconds.

`scheduled_run` runs it unattended (contract §3, §11): one run at a time, each recorded in
`ops.pipeline_runs` step by step, one progress line per step, dbt's output in a log file,
and the summary as JSON in a file and to a webhook.

Exit codes: 0 when every check passed or only warned, 1 when a check failed (data quality),
2 when something expected went wrong (a bad path, unreachable server, dbt itself failing,
another run holding the lock).
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape

from pipelines import ops, plan_lint
from pipelines.errors import UserError
from pipelines.masking import mask_urls
from pipelines.transform import DBT_TARGET_DIR, RUN_RESULTS_PATH, WITHOUT_UNIT_TESTS, dbt
from pipelines.warehouse import PROJECT_ROOT, Connection

if TYPE_CHECKING:  # the loaders import dlt (seconds): a locked-out run exits before that
    from pipelines.loading import LoadReport

PASS, WARN, FAIL, BROKEN, LOCKED_OUT = ops.PASSED, ops.WARNED, ops.FAILED, ops.ERROR, ops.LOCKED_OUT
# Worst first: a run's status is its worst step's, a step's its worst check's.
SEVERITY = (LOCKED_OUT, BROKEN, FAIL, WARN, PASS)
MARKS = {
    PASS: "[green]✓[/]",
    WARN: "[yellow]![/]",
    FAIL: "[red]✗[/]",
    BROKEN: "[red]✗[/]",
    LOCKED_OUT: "[red]✗[/]",
}
PLAIN_MARKS = {PASS: "✓", WARN: "!", FAIL: "✗", BROKEN: "✗", LOCKED_OUT: "✗"}
HEADLINES = {PASS: "OK", WARN: "OK", FAIL: "FAILED", BROKEN: "BROKEN", LOCKED_OUT: "LOCKED OUT"}
LOG_DIR = PROJECT_ROOT / "logs"
FAILING_ROWS_SHOWN = 5
NOTIFICATION_LINES = 10

DbtOutput = Callable[[str], None]


@dataclass(frozen=True)
class RunConfig:
    """What to load (each source only when configured) and where the summary goes."""

    segment_path: str | None = None
    amplitude_path: Path | None = None
    amplitude_api: bool = False
    production_url: str | None = None
    max_rejected_share: float = 0.01
    dbt_arguments: tuple[str, ...] = ()
    summary_json: Path | None = None
    notify_url: str | None = None
    verbose: bool = False


@dataclass(frozen=True)
class Check:
    status: str
    name: str
    detail: str
    lines: tuple[str, ...] = ()

    def document(self) -> dict:
        return {
            "status": self.status,
            "name": self.name,
            "detail": mask_urls(self.detail),
            "lines": [mask_urls(line) for line in self.lines],
        }


@dataclass
class Step:
    """One thing the run did (a load, freshness, the build, the lint, the notification): its
    checks, the first of which sums it up."""

    name: str
    checks: list[Check]
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def status(self) -> str:
        return worst(check.status for check in self.checks)

    def document(self) -> dict:
        step = ops.step_document(
            self.name,
            self.status,
            round(self.seconds, 1),
            self.counts,
            mask_urls(self.checks[0].detail),
        )
        return {**step, "checks": [check.document() for check in self.checks]}


@dataclass
class RunSummary:
    steps: list[Step] = field(default_factory=list)

    @property
    def checks(self) -> list[Check]:
        return [check for step in self.steps for check in step.checks]

    @property
    def status(self) -> str:
        return worst(check.status for check in self.checks)

    @property
    def exit_code(self) -> int:
        if self.status in (BROKEN, LOCKED_OUT):
            return 2
        return 1 if self.status == FAIL else 0

    def counts(self) -> Counter[str]:
        return Counter(check.status for check in self.checks)


def worst(statuses: Iterable[str]) -> str:
    return min(statuses, key=SEVERITY.index, default=PASS)


def run(
    config: RunConfig,
    target: Connection,
    console: Console,
    dbt_output: DbtOutput | None = None,
    on_step: Callable[[Step], None] = lambda step: None,
) -> RunSummary:
    """Every configured load, freshness, the build and the lint. dbt's output goes to
    `dbt_output` when given, else (quietly) to the terminal."""
    target.connect().close()
    summary = RunSummary()

    def timed(activity: str, work: Callable[..., Step], *arguments: object) -> None:
        started = time.monotonic()
        with console.status(activity):
            step = work(*arguments)
        step.seconds = time.monotonic() - started
        summary.steps.append(step)
        on_step(step)

    def run_dbt(*arguments: str) -> int:
        quiet = () if dbt_output else ("--quiet",)
        return dbt([*arguments, *quiet], target, dbt_output)

    loads = configured_loads(config, target)
    for name, load in loads:
        timed(f"loading {name}", load_step, name, load, config.max_rejected_share)
    if not loads:
        summary.steps.append(
            Step("loads", [Check(WARN, "loads", "none configured (see `analytics run -h`)")])
        )
        on_step(summary.steps[-1])
    freshness_vars = vars_arguments(config.dbt_arguments)
    timed(
        "checking source freshness",
        lambda: freshness_step(run_dbt("source", "freshness", *freshness_vars)),
    )
    timed(
        "running dbt build",
        lambda: build_step(run_dbt("build", *WITHOUT_UNIT_TESTS, *config.dbt_arguments), target),
    )
    timed("linting event names against the tracking plan", lint_step, target)
    return summary


def scheduled_run(
    config: RunConfig, connect: Callable[[], Connection], console: Console
) -> RunSummary:
    """`run` on the warehouse `connect` returns, holding the run lock, recorded in
    `ops.pipeline_runs` step by step, dbt's output in a log file, then the summary posted and
    written as JSON. Raises ops.LockedOut, after recording and publishing the locked-out
    run, when another run holds the lock; a warehouse that cannot be reached is published
    (nothing can record it) and raised."""
    _check_outputs(config)
    try:
        target = connect()
        history = ops.RunHistory(target)
    except UserError as error:
        step = Step("warehouse", [Check(BROKEN, "warehouse", str(error))])
        _publish(config, RunSummary([step]), ops.RunRecord.unrecorded(), None, None)
        raise
    try:
        try:
            record, abandoned = history.start()
        except ops.LockedOut as locked_out:
            step = Step("lock", [Check(LOCKED_OUT, "lock", str(locked_out))])
            _publish(config, RunSummary([step]), locked_out.record, history, None)
            raise
        return _run_holding_the_lock(config, target, console, history, record, abandoned)
    finally:
        history.close()


def _run_holding_the_lock(
    config: RunConfig,
    target: Connection,
    console: Console,
    history: ops.RunHistory,
    record: ops.RunRecord,
    abandoned: list[int],
) -> RunSummary:
    summary = RunSummary()

    def progress(step: Step) -> None:
        print_progress(step, console)
        summary.steps.append(step)
        history.record_steps(record, [step.document() for step in summary.steps])

    log_path = LOG_DIR / f"analytics-run-{target.database}-{record.run_id}.log"
    console.print(f"{record.label} on {record.host}: dbt's log in {log_path}")
    progress(_lock_step(record, abandoned))
    try:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        with log_path.open("w", encoding="utf-8") as log:

            def dbt_output(line: str) -> None:
                log.write(line + "\n")
                log.flush()
                if config.verbose:
                    console.print(line, markup=False, highlight=False)

            run(config, target, console, dbt_output, progress)
    except BaseException as error:
        reason = str(error) if isinstance(error, UserError) else f"{type(error).__name__} {error}"
        check = Check(BROKEN, "run", _one_line(f"stopped: {reason}"))
        summary.steps.append(Step("run", [check]))
        _publish(config, summary, record, history, log_path, console)
        raise
    _publish(config, summary, record, history, log_path, console)
    return summary


def _lock_step(record: ops.RunRecord, abandoned: list[int]) -> Step:
    if not abandoned:
        return Step("lock", [Check(PASS, "lock", f"run {record.run_id} holds the run lock")])
    runs = ", ".join(str(run_id) for run_id in abandoned)
    message = f"closed run {runs} as error: it never finished (killed, or its connection lost)"
    return Step("lock", [Check(WARN, "lock", message)], {"abandoned_runs_closed": len(abandoned)})


def _publish(
    config: RunConfig,
    summary: RunSummary,
    record: ops.RunRecord,
    history: ops.RunHistory | None,
    log_path: Path | None,
    console: Console | None = None,
) -> None:
    """Post the summary, then record the run's outcome (when there is a history) and write
    the summary JSON, both saying how the post went."""
    finished_at = datetime.now(UTC)
    if config.notify_url:
        started = time.monotonic()
        document = summary_document(summary, record, finished_at, log_path)
        notification = ops.notify(config.notify_url, document, headline(summary, record))
        check = Check(PASS if notification.delivered else WARN, "notify", notification.message)
        step = Step("notify", [check], {"attempts": notification.attempts})
        step.seconds = time.monotonic() - started
        summary.steps.append(step)
        if console is not None:
            print_progress(step, console)
    if history is not None:
        steps = [step.document() for step in summary.steps]
        history.finish(record, summary.status, steps, finished_at)
    if config.summary_json:
        document = summary_document(summary, record, finished_at, log_path)
        _write_atomically(config.summary_json, json.dumps(document, indent=2) + "\n")


def summary_document(
    summary: RunSummary, record: ops.RunRecord, finished_at: datetime, log_path: Path | None
) -> dict:
    """The summary as `--summary-json` writes it and `--notify-url` posts it."""
    counts = summary.counts()
    return {
        "run_id": record.run_id,
        "status": summary.status,
        "exit_code": summary.exit_code,
        "started_at": record.started_at.astimezone(UTC).isoformat(),
        "finished_at": finished_at.isoformat(),
        "seconds": round((finished_at - record.started_at).total_seconds(), 1),
        "host": record.host,
        "version": record.version,
        "log_file": str(log_path) if log_path else None,
        "checks": {status: counts[status] for status in reversed(SEVERITY)},
        "steps": [step.document() for step in summary.steps],
    }


def _check_outputs(config: RunConfig) -> None:
    """Refuse, before any work, a summary file that cannot be written or a webhook that is
    not a URL."""
    if config.summary_json:
        folder = config.summary_json.parent
        if not folder.is_dir() or not os.access(folder, os.W_OK):
            raise UserError(f"--summary-json: cannot write to the folder {folder}")
    if config.notify_url and not config.notify_url.startswith(("http://", "https://")):
        raise UserError("--notify-url: expected an http:// or https:// URL")


def _write_atomically(path: Path, text: str) -> None:
    """Write the file whole or not at all, so a scheduler never reads half a summary."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


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


def load_step(name: str, load: Callable[[], LoadReport], max_rejected_share: float) -> Step:
    """A load that cannot run is broken; one rejecting too many lines failed."""
    step_name = f"load {name}"
    try:
        report = load()
    except UserError as error:
        return Step(step_name, [Check(BROKEN, "load", f"{name}: {error}")])
    counts = {
        "read": report.read,
        "loaded": report.loaded,
        report.duplicate_label: report.duplicate,
        "rejected": report.rejected,
    }
    if report.rejected_share > max_rejected_share:
        detail = f"{report.summary()}: {report.rejected_share:.1%} rejected"
        check = Check(FAIL, "load", f"{detail} (more than {max_rejected_share:.1%})")
    else:
        check = Check(PASS, "load", report.summary())
    return Step(step_name, [check], counts)


def freshness_step(exit_code: int, sources_path: Path = DBT_TARGET_DIR / "sources.json") -> Step:
    """One line for the fresh sources, one per stale or unreadable one."""
    if exit_code not in (0, 1) or not sources_path.exists():
        message = f"dbt source freshness failed (exit {exit_code})"
        return Step("freshness", [Check(BROKEN, "freshness", message)])
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
    counts = {
        "tables": len(results),
        "fresh": fresh,
        "warned": sum(check.status == WARN for check in checks),
        "failed": sum(check.status == FAIL for check in checks),
    }
    return Step("freshness", checks, counts)


def build_step(
    exit_code: int, target: Connection, run_results_path: Path = RUN_RESULTS_PATH
) -> Step:
    """One line of totals, then one per model or test that did not pass, with the failing
    rows of a test (which name, for the completeness test, the days and sources)."""
    if exit_code not in (0, 1) or not run_results_path.exists():
        message = f"dbt build failed to run (exit {exit_code})"
        return Step("dbt build", [Check(BROKEN, "dbt build", message)])
    results = json.loads(run_results_path.read_text(encoding="utf-8"))["results"]
    totals: Counter[str] = Counter()
    checks = []
    for result in results:
        kind, _, *name_parts = result["unique_id"].split(".")
        status = result["status"]
        totals[f"{kind} {status}"] += 1
        # Exposures (the report, the dashboards) are nodes dbt build reports as no-op.
        if status in ("success", "pass", "no-op"):
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
    counts = {
        f"{kind}s": count
        for kind, count in Counter(result["unique_id"].split(".")[0] for result in results).items()
    }
    counts["warned"] = sum(check.status == WARN for check in checks)
    counts["failed"] = sum(check.status == FAIL for check in checks)
    checks.insert(0, Check(status, "dbt build", f"passed: {passed or 'nothing'}"))
    return Step("dbt build", checks, counts)


def lint_step(target: Connection) -> Step:
    try:
        report = plan_lint.lint(target)
    except UserError as error:
        return Step("plan lint", [Check(BROKEN, "plan lint", str(error))])
    lines = tuple(
        f"{finding.level} {finding.rule}: {finding.message}"
        + (f" ({finding.count} events)" if finding.count else "")
        for finding in report.findings
    )
    status = FAIL if report.errors else WARN if report.warnings else PASS
    counts = {"errors": len(report.errors), "warnings": len(report.warnings)}
    return Step("plan lint", [Check(status, "plan lint", report.summary(), lines)], counts)


def print_progress(step: Step, console: Console) -> None:
    """The one line a step prints when it ends."""
    more = f" (+{len(step.checks) - 1} below)" if len(step.checks) > 1 else ""
    console.print(
        f"{MARKS[step.status]} {_masked(step.name)} ({step.seconds:.1f}s): "
        f"{_masked(step.checks[0].detail)}{more}"
    )


def print_summary(summary: RunSummary, console: Console) -> None:
    outcome = HEADLINES[summary.status]
    colour = "green" if summary.exit_code == 0 else "red"
    console.print(f"\nanalytics run [{colour}]{outcome}[/]: {_tally(summary)}")
    for check in sorted(summary.checks, key=lambda check: SEVERITY.index(check.status)):
        console.print(f"{MARKS[check.status]} {_masked(check.name)}: {_masked(check.detail)}")
        for line in check.lines:
            console.print(f"    {_masked(line)}")


def headline(summary: RunSummary, record: ops.RunRecord) -> str:
    """The notification's text (Slack shows it): the outcome, then each check that did not
    pass, worst first."""
    problems = sorted(
        (check for check in summary.checks if check.status != PASS),
        key=lambda check: SEVERITY.index(check.status),
    )
    lines = [
        f"{record.label} on {record.host}: {HEADLINES[summary.status]} ({_tally(summary)})",
        *(
            mask_urls(f"{PLAIN_MARKS[check.status]} {check.name}: {check.detail}")
            for check in problems[:NOTIFICATION_LINES]
        ),
    ]
    if len(problems) > NOTIFICATION_LINES:
        lines.append(f"… and {len(problems) - NOTIFICATION_LINES} more")
    return "\n".join(lines)


def _tally(summary: RunSummary) -> str:
    counts = summary.counts()
    tally = f"{counts[PASS]} passed, {counts[WARN]} warned, {counts[FAIL]} failed"
    if counts[BROKEN]:
        tally += f", {counts[BROKEN]} could not run"
    if counts[LOCKED_OUT]:
        tally += ", locked out"
    return tally


def _masked(text: str) -> str:
    return escape(mask_urls(text))


def vars_arguments(dbt_arguments: Sequence[str]) -> list[str]:
    """The `--vars` of the build's arguments, which the freshness check takes too (its
    thresholds are vars)."""
    for index, argument in enumerate(dbt_arguments):
        if argument == "--vars" and index + 1 < len(dbt_arguments):
            return ["--vars", dbt_arguments[index + 1]]
        if argument.startswith("--vars="):
            return [argument]
    return []


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
