"""The lint's rules on names and on the plan itself (no warehouse needed)."""

from __future__ import annotations

from pathlib import Path

from pipelines import plan_lint, tracking_plan
from pipelines.plan_lint import ERROR, WARNING, CatalogRow, Finding, LintReport

PLAN = tracking_plan.load()


def findings_by_name(rows: list[CatalogRow]) -> dict[str, Finding]:
    findings = plan_lint.name_findings(PLAN, rows)
    return {finding.message.split("`")[1]: finding for finding in findings}


def test_canonical_names_raise_nothing():
    rows = [CatalogRow("Build Started", "segment", 10, None)]

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
