"""The report in a real browser: headless Chromium (Debian's `chromium`) opens it offline,
logs no console error, draws every chart with a visible size, and a full-page screenshot is
kept under test-artifacts/ for a human to look at."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from test_report import CHARTS, write_report

from pipelines.warehouse import PROJECT_ROOT

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(os.environ.get("ANALYTICS_TEST_ARTIFACTS", PROJECT_ROOT / "test-artifacts"))

DRAWN_CHARTS = """
() => [...document.querySelectorAll('svg.chart')].map(chart => {
    const box = chart.getBoundingClientRect();
    const marks = [...chart.querySelectorAll('.mark')].filter(mark => {
        const markBox = mark.getBoundingClientRect();
        return markBox.width > 0 || markBox.height > 0;
    });
    return {name: chart.dataset.chart, width: box.width, height: box.height, marks: marks.length};
})
"""


@pytest.mark.skipif(
    CHROMIUM is None,
    reason="no chromium on PATH: `apt-get install chromium` (.ci/run installs it)",
)
def test_chromium_draws_every_chart_offline_without_console_errors(built_warehouse, tmp_path):
    from playwright.sync_api import sync_playwright

    target, _ = built_warehouse
    out = tmp_path / "report.html"
    assert write_report(target, out).returncode == 0
    problems, requests = [], []

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            context = browser.new_context(offline=True, viewport={"width": 800, "height": 900})
            page = context.new_page()
            page.on(
                "console", lambda message: message.type == "error" and problems.append(message.text)
            )
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.on("request", lambda request: requests.append(request.url))
            page.goto(out.as_uri(), wait_until="load")
            drawn = page.evaluate(DRAWN_CHARTS)
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=ARTIFACTS / "report.png", full_page=True)
        finally:
            browser.close()

    assert problems == []
    assert requests == [out.as_uri()]
    assert {chart["name"] for chart in drawn} == CHARTS
    for chart in drawn:
        assert chart["width"] > 300 and chart["height"] > 50, chart
        assert chart["marks"] > 0, chart
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000
