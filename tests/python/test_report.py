"""`analytics report` writes one offline page whose charts hold the marts' numbers: the
funnels equal the generator's truth and the planted signup drop is flagged on its days."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

CHARTS = {
    "funnel-activation",
    "funnel-upgrade_intent",
    "funnel-org_upgrade",
    "conversion-by-cohort-week",
    "upgrade-cohorts",
    "upgrades-by-language",
    "signup-completeness",
}


def write_report(target, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from pipelines.cli import main; main()", "report", "--out", out],
        capture_output=True,
        text=True,
        env={**os.environ, "ANALYTICS_WAREHOUSE_URL": target.url()},
    )


@pytest.fixture(scope="module")
def page(built_warehouse, tmp_path_factory) -> str:
    target, _ = built_warehouse
    out = tmp_path_factory.mktemp("report") / "report.html"
    result = write_report(target, out)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"wrote {out}\n"
    return out.read_text()


def charts(page: str) -> dict[str, ElementTree.Element]:
    found = {}
    for markup in re.findall(r"<svg .*?</svg>", page):
        chart = ElementTree.fromstring(markup)
        found[chart.get("data-chart")] = chart
    return found


def test_the_page_needs_no_script_and_no_network(page):
    assert "<script" not in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "<link" not in page


def test_every_chart_is_drawn_with_marks(page):
    drawn = charts(page)

    assert set(drawn) == CHARTS
    for name, chart in drawn.items():
        assert chart.findall(".//*[@class='mark']"), name


def test_funnel_bars_equal_the_generators_funnel_truth(page, built_warehouse):
    _, truth = built_warehouse
    drawn = charts(page)

    for name, funnel in truth["funnels"].items():
        furthest = {int(step): count for step, count in funnel["entities_by_furthest_step"].items()}
        reaching = [
            sum(count for step, count in furthest.items() if step >= number)
            for number in range(1, len(funnel["steps"]) + 1)
        ]
        bars = drawn[f"funnel-{name}"].findall(".//*[@class='mark']")
        assert [bar.get("data-label") for bar in bars] == funnel["steps"]
        assert [int(bar.get("data-value")) for bar in bars] == reaching


def test_the_planted_signup_drop_is_flagged_on_exactly_its_days(page, built_warehouse):
    _, truth = built_warehouse
    completeness = charts(page)["signup-completeness"]

    flagged = [band.get("data-label") for band in completeness.findall(".//*[@class='flag']")]

    assert flagged == [day[5:] for day in truth["signup_drop"]["days"]]
    missing = sum(
        day["expected"] - day["observed"]
        for day in truth["signup_completeness"]
        if day["source"] == truth["signup_drop"]["source"]
        and day["day"] in truth["signup_drop"]["days"]
    )
    assert f"{truth['signup_drop']['source']}: {missing:,} signups production recorded" in page


def test_the_naming_problems_list_the_legacy_names(page):
    table = page[page.index('<table class="catalog">') :]

    assert "click-plan-update" in table
    assert "legacy alias of Plan Upgrade Clicked" in table


def test_an_unwritable_path_is_one_line_and_exit_2(built_warehouse, tmp_path):
    target, _ = built_warehouse
    (tmp_path / "file").write_text("")

    result = write_report(target, tmp_path / "file" / "report.html")

    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
