"""Acceptance of issue 7 on a small generated data set, through `analytics run`'s own code:
with signups dropped from Amplitude the completeness test fails naming exactly the planted
days and source; once the missing signups arrive the run passes; the catalog lists every raw
name; the lint reports the legacy aliases as warnings, and injected unplanned names and
broken properties as errors."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console

from pipelines import plan_lint, warehouse
from pipelines.generate import GeneratorConfig, generate
from pipelines.run import FAIL, RunConfig, run
from pipelines.sources import segment
from pipelines.transform import RUN_RESULTS_PATH, dbt
from pipelines.warehouse import Connection

pytestmark = pytest.mark.integration

# The period ends today (the default), so the sources are fresh.
DROPPED = GeneratorConfig(seed=7, orgs=20, days=30, signup_drop=0.15)
CLEAN = GeneratorConfig(seed=7, orgs=20, days=30)
COMPLETENESS_TEST = "recent_event_completeness_at_threshold"


def query(target: Connection, sql: str) -> list[tuple]:
    with target.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def generate_and_run(target: Connection, config: GeneratorConfig, data_dir: Path):
    production = target.with_database(f"{target.database}_production")
    warehouse.ensure_database(production)
    try:
        truth = generate(data_dir, config, production=production)
        summary = run(
            RunConfig(
                segment_path=str(data_dir / "segment-logs"),
                amplitude_path=data_dir / "amplitude",
                production_url=production.url(),
            ),
            target,
            Console(quiet=True),
        )
    finally:
        warehouse.drop_database(production)
    return truth, summary


def completeness_test_failures(target: Connection) -> list[tuple]:
    results = json.loads(RUN_RESULTS_PATH.read_text())["results"]
    [result] = [r for r in results if r["unique_id"].split(".")[2] == COMPLETENESS_TEST]
    return query(target, f"select day, check_name, source from ({result['compiled_code']}) t")


@pytest.fixture(scope="module")
def dropped_run(test_warehouse: Connection, tmp_path_factory):
    truth, summary = generate_and_run(test_warehouse, DROPPED, tmp_path_factory.mktemp("drop"))
    return test_warehouse, truth, summary, completeness_test_failures(test_warehouse)


@pytest.fixture(scope="module")
def clean_run(dropped_run, tmp_path_factory):
    """The same data set again without the drop: the missing Amplitude signups arrive."""
    target = dropped_run[0]
    truth, summary = generate_and_run(target, CLEAN, tmp_path_factory.mktemp("clean"))
    return target, truth, summary


def test_completeness_test_fails_naming_exactly_the_planted_days_and_source(dropped_run):
    _, truth, summary, failures = dropped_run
    planted = truth["signup_drop"]

    assert planted["days"], "the data set must plant a drop"
    assert sorted((day.isoformat(), source) for day, check, source in failures) == sorted(
        (day, planted["source"]) for day in planted["days"]
    )
    assert {check for _, check, _ in failures} == {"signups"}
    assert summary.exit_code == 1
    assert any(c.status == FAIL and COMPLETENESS_TEST in c.name for c in summary.checks)


def test_completeness_report_equals_the_truth(dropped_run):
    target, truth, _, _ = dropped_run

    observed = {
        (day.isoformat(), source): (expected, seen)
        for day, source, expected, seen in query(
            target,
            "select day, source, expected, observed from marts.rpt_event_completeness "
            "where check_name = 'signups'",
        )
    }

    assert observed == {
        (row["day"], row["source"]): (row["expected"], row["observed"])
        for row in truth["signup_completeness"]
        if row["expected"]
    }


def test_catalog_lists_every_raw_name_per_source(dropped_run):
    target, truth, _, _ = dropped_run

    catalog = query(
        target,
        "select source, source_event_name, events from marts.rpt_event_catalog "
        "where source in ('segment', 'amplitude')",
    )

    assert {(source, name): events for source, name, events in catalog} == {
        (source, name): events
        for source, names in truth["events_by_source_name"].items()
        for name, events in names.items()
    }


def test_a_clean_run_passes_with_the_legacy_aliases_as_warnings(clean_run):
    target, _, summary = clean_run

    assert [c for c in summary.checks if c.status == FAIL] == []
    assert summary.exit_code == 0
    report = plan_lint.lint(target)
    assert report.exit_code == 0
    assert {f.message.split("`")[1] for f in report.warnings} >= {"click-plan-update"}


def injected_export(folder: Path, now: datetime) -> Path:
    """A Segment export file, in the real layout, with names and properties the plan rejects."""
    timestamp = now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    day_ms = int(now.replace(hour=0, minute=0, second=0, microsecond=0).timestamp() * 1000)
    messages = [
        ("injected-1", "plan-upgrade-click", {"org_id": "1"}),
        ("injected-2", "Invoice Paid", {}),
        ("injected-3", "Project Created", {"org_id": 5}),
        ("injected-4", "Plan Page Viewed", {}),
    ]
    day_folder = folder / "segment-logs" / "web-app" / str(day_ms)
    day_folder.mkdir(parents=True)
    with gzip.open(day_folder / "injected.gz", "wt", encoding="utf-8") as lines:
        for message_id, event, properties in messages:
            message = {
                "type": "track",
                "messageId": message_id,
                "userId": "1",
                "event": event,
                "properties": properties,
                "timestamp": timestamp,
                "originalTimestamp": timestamp,
                "sentAt": timestamp,
                "receivedAt": timestamp,
            }
            lines.write(json.dumps(message) + "\n")
    return folder / "segment-logs"


def test_lint_reports_injected_unplanned_names_and_broken_properties(clean_run, tmp_path):
    target = clean_run[0]
    report = segment.load(injected_export(tmp_path, datetime.now(UTC)), target)
    assert report.loaded == 4
    assert dbt(["run", "--quiet"], target) == 0

    report = plan_lint.lint(target)

    rules = {(f.rule, f.message.split("`")[1]) for f in report.errors}
    assert rules == {
        ("near duplicate", "plan-upgrade-click"),
        ("unplanned", "Invoice Paid"),
        ("wrong type", "Project Created"),
        ("missing property", "Plan Page Viewed"),
    }
    near = next(f for f in report.errors if f.rule == "near duplicate")
    assert "`Plan Upgrade Clicked`" in near.message
    wrong = next(f for f in report.errors if f.rule == "wrong type")
    assert wrong.count == 1 and wrong.examples == ("segment injected-3: 5",)
    assert report.exit_code == 1
