"""The lint's rules on names and on the plan itself, and its exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines import plan_lint, tracking_plan
from pipelines.errors import UserError
from pipelines.plan_lint import ERROR, WARNING, CatalogRow, Finding, LintReport
from pipelines.transform import built_relations

PLAN = tracking_plan.load()


def findings_by_name(rows: list[CatalogRow]) -> dict[str, Finding]:
    findings = plan_lint.name_findings(PLAN, rows)
    return {finding.message.split("`")[1]: finding for finding in findings}


def test_canonical_names_raise_nothing():
    rows = [CatalogRow("Build Started", "segment", 10, None)]

    assert plan_lint.name_findings(PLAN, rows) == []


def test_a_page_renamed_by_segments_amplitude_destination_raises_nothing():
    rows = [CatalogRow("Viewed App Builds Page", "amplitude", 5, "Page Viewed", is_planned=True)]

    assert plan_lint.name_findings(PLAN, rows) == []


def test_a_declared_legacy_alias_is_a_warning_counting_every_source():
    rows = [
        CatalogRow("click-plan-update", "segment", 9, "Plan Upgrade Clicked"),
        CatalogRow("click-plan-update", "amplitude", 4, "Plan Upgrade Clicked"),
    ]

    finding = findings_by_name(rows)["click-plan-update"]

    assert (finding.level, finding.rule, finding.count) == (WARNING, "legacy alias", 13)
    assert finding.examples == ("segment: 9 events", "amplitude: 4 events")


def test_an_unplanned_near_duplicate_is_an_error_naming_what_it_duplicates():
    rows = [CatalogRow("plan-upgrade-click", "segment", 2, "Plan Upgrade Clicked")]

    finding = findings_by_name(rows)["plan-upgrade-click"]

    assert (finding.level, finding.rule) == (ERROR, "near duplicate")
    assert "`Plan Upgrade Clicked`" in finding.message


def test_an_unplanned_name_not_in_title_case_is_a_name_format_error():
    finding = findings_by_name([CatalogRow("invoice_paid", "amplitude", 1, None)])["invoice_paid"]

    assert (finding.level, finding.rule) == (ERROR, "name format")


def test_any_other_unplanned_name_is_an_unplanned_error():
    finding = findings_by_name([CatalogRow("Invoice Paid", "segment", 3, None)])["Invoice Paid"]

    assert (finding.level, finding.rule, finding.count) == (ERROR, "unplanned", 3)


def test_errors_exit_1_and_warnings_alone_exit_0():
    warning = Finding(WARNING, "legacy alias", "a")
    error = Finding(ERROR, "unplanned", "b")

    assert LintReport((warning,)).exit_code == 0
    assert LintReport((warning, error)).exit_code == 1
    assert LintReport((warning, error)).summary() == "1 error, 1 warning"


def test_plan_check_lists_every_broken_rule_at_once(tmp_path: Path):
    path = tmp_path / "tracking_plan.yml"
    path.write_text(
        """events:
  - name: build started
    description: A build started.
    owner: product
    origin: tracked
    aliases: [Plan Upgrade Clicked]
    properties:
      orgId: {type: string, required: true}
  - name: Plan Upgrade Clicked
    description: Clicked.
    origin: tracked
""",
        encoding="utf-8",
    )

    plan, problems = tracking_plan.check(path)

    assert [event.name for event in plan.events] == ["build started", "Plan Upgrade Clicked"]
    assert problems == [
        "event `build started` is not Object Action in Title Case",
        "property `orgId` of `build started` is not snake_case",
        "event `Plan Upgrade Clicked` has no `owner`",
        "the name `Plan Upgrade Clicked` appears twice in the plan",
    ]


def test_the_committed_plan_breaks_no_rule():
    assert tracking_plan.check()[1] == []


def analytics(*arguments: str, **environment: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from pipelines.cli import main; main()", *arguments],
        capture_output=True,
        text=True,
        env={**os.environ, **environment},
    )


@pytest.mark.parametrize("command", [("plan", "lint"), ("run",)])
def test_an_unreachable_warehouse_is_one_line_and_exit_2(command):
    result = analytics(*command, ANALYTICS_WAREHOUSE_URL="postgresql://nobody@127.0.0.1:1/none")

    assert result.returncode == 2
    assert result.stderr.startswith("analytics: cannot connect to")
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.integration
def test_lint_before_any_build_says_to_build_first_and_exits_2(test_warehouse):
    result = analytics("plan", "lint", ANALYTICS_WAREHOUSE_URL=test_warehouse.url())

    assert result.returncode == 2
    assert "run `analytics transform`" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.integration
def test_property_rules_report_missing_wrong_type_and_values_outside_an_enum(fresh_warehouse):
    rows = [
        ("s-1", "Plan Upgrade Clicked", "1", {"org_id": "1", "plan_id": "team"}),
        ("s-2", "Plan Upgrade Clicked", "1", {"org_id": "1", "plan_id": "gold"}),
        ("s-3", "Plan Upgrade Clicked", "1", {"org_id": "1", "plan_id": 3}),
        ("s-4", "Plan Page Viewed", None, {}),
        ("s-5", "Build Succeeded", "1", {"org_id": "1", "duration_seconds": 4.0}),
        ("s-6", "Build Succeeded", "1", {"org_id": "1", "duration_seconds": 4.5}),
        ("s-7", "User Signed Up", None, {"signup_method": "github", "invited": True}),
    ]
    with fresh_warehouse.cursor() as cursor:
        cursor.execute(
            "create schema marts; create table marts.fct_events (event_id text, source text,"
            " event_name text, org_id text, properties jsonb)"
        )
        for event_id, name, org_id, properties in rows:
            cursor.execute(
                "insert into marts.fct_events values (%s, 'segment', %s, %s, %s)",
                (event_id, name, org_id, json.dumps(properties)),
            )

    findings = plan_lint.property_findings(fresh_warehouse, PLAN, "marts.fct_events")

    assert {(f.rule, f.message.split("`")[1], f.examples) for f in findings} == {
        ("value not allowed", "Plan Upgrade Clicked", ('segment s-2: "gold"',)),
        ("wrong type", "Plan Upgrade Clicked", ("segment s-3: 3",)),
        ("missing property", "Plan Page Viewed", ("segment s-4",)),
        ("wrong type", "Build Succeeded", ("segment s-6: 4.5",)),
    }


def write_manifest(path: Path, schema: str, models: tuple[str, ...]) -> Path:
    nodes = {
        f"model.product_analytics.{model}": {"schema": schema, "alias": model} for model in models
    }
    path.write_text(json.dumps({"nodes": nodes}), encoding="utf-8")
    return path


def test_relations_come_from_the_schemas_dbts_manifest_names(tmp_path: Path):
    manifest = write_manifest(tmp_path / "manifest.json", "dev_marts", ("fct_events",))

    assert built_relations(["fct_events"], manifest) == {"fct_events": '"dev_marts"."fct_events"'}


def test_no_manifest_or_a_model_it_lacks_says_to_build_first(tmp_path: Path):
    manifest = write_manifest(tmp_path / "manifest.json", "marts", ("fct_events",))

    with pytest.raises(UserError, match="run `analytics transform`"):
        built_relations(["fct_events"], tmp_path / "missing.json")
    with pytest.raises(UserError, match="no model rpt_event_catalog"):
        built_relations(["rpt_event_catalog"], manifest)


@pytest.mark.integration
def test_lint_reads_the_marts_of_the_target_dbt_last_built(test_warehouse, tmp_path: Path):
    # A personal target's marts live in a prefixed schema; the shared `marts` are not read.
    with test_warehouse.cursor() as cursor:
        cursor.execute(
            """
            create schema sandbox_marts;
            create table sandbox_marts.rpt_event_catalog as
                select 'Invoice Paid'::text as source_event_name, 'segment'::text as source,
                    3::bigint as events, null::text as near_duplicate_of,
                    false as is_planned;
            create table sandbox_marts.fct_events (
                event_id text, source text, event_name text, org_id text, properties jsonb
            );
            """
        )
    models = ("rpt_event_catalog", "fct_events")
    manifest = write_manifest(tmp_path / "manifest.json", "sandbox_marts", models)

    report = plan_lint.lint(test_warehouse, manifest_path=manifest)

    assert [(finding.rule, finding.count) for finding in report.findings] == [("unplanned", 3)]
