"""MetricFlow's `mf query` answers each metric of the semantic layer with the numbers the
marts (and the generator's truth) hold."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.transform import write_profile
from pipelines.warehouse import PROJECT_ROOT, SESSION_TIME_ZONE, Connection

pytestmark = pytest.mark.integration


def mf(target: Connection, tmp_path: Path, metrics: str, group_by: str | None = None) -> list[dict]:
    out = tmp_path / f"{metrics.replace(',', '-')}-{group_by}.csv"
    arguments = ["query", "--metrics", metrics, "--csv", str(out)]
    if group_by:
        arguments += ["--group-by", group_by]
    finished = subprocess.run(
        [str(Path(sys.executable).parent / "mf"), *arguments],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env={
            **os.environ,
            **target.dbt_environment(),
            **SESSION_TIME_ZONE,
            "DBT_PROFILES_DIR": str(write_profile()),
        },
    )
    assert finished.returncode == 0 and out.exists(), finished.stdout + finished.stderr
    with out.open() as rows:
        return list(csv.DictReader(rows))


def rows(target: Connection, sql: str) -> list[tuple]:
    with target.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def by_day(answer: list[dict], time_column: str, metric: str) -> dict[str, float]:
    return {row[time_column][:10]: float(row[metric]) for row in answer if row[metric] != ""}


def test_org_upgrade_rate_by_month_equals_each_cohorts_latest_rate_in_the_mart(
    built_warehouse, tmp_path
):
    target, _ = built_warehouse

    answer = mf(target, tmp_path, "org_upgrade_rate", "metric_time__month")

    mart = rows(
        target,
        """
        select distinct on (cohort_month) cast(cohort_month as text), upgrade_rate
        from marts.rpt_upgrade_cohorts
        order by cohort_month, months_since_signup desc
        """,
    )
    assert len(mart) >= 3
    assert by_day(answer, "metric_time__month", "org_upgrade_rate") == pytest.approx(
        {month: float(rate) for month, rate in mart}, abs=1e-6
    )


def test_orgs_upgraded_by_month_equal_the_generators_upgrades_by_month(built_warehouse, tmp_path):
    target, truth = built_warehouse

    answer = mf(target, tmp_path, "orgs_upgraded", "metric_time__month")

    expected = {
        f"{month}-01": sum(languages.values())
        for month, languages in truth["upgrades_by_month_and_language"].items()
    }
    assert by_day(answer, "metric_time__month", "orgs_upgraded") == expected


def test_activation_rate_by_week_equals_the_conversion_mart(built_warehouse, tmp_path):
    target, _ = built_warehouse

    answer = mf(target, tmp_path, "activation_rate", "metric_time__week")

    mart = rows(
        target,
        """
        select cast(cohort_week as text), conversion_from_start
        from marts.rpt_funnel_conversion
        where funnel_name = 'activation' and step_number = 3
        """,
    )
    assert by_day(answer, "metric_time__week", "activation_rate") == pytest.approx(
        {week: float(rate) for week, rate in mart}, abs=1e-6
    )


def test_totals_equal_the_generators_truth(built_warehouse, tmp_path):
    target, truth = built_warehouse
    activation = truth["funnels"]["activation"]["entities_by_furthest_step"]

    (totals,) = mf(target, tmp_path, "signups,orgs_created,activated_users")

    assert int(totals["signups"]) == truth["users"]
    assert int(totals["orgs_created"]) == truth["organizations"]
    assert int(totals["activated_users"]) == activation["3"]


def test_funnel_conversion_rate_by_funnel_equals_the_generators_funnels(built_warehouse, tmp_path):
    target, truth = built_warehouse

    answer = mf(target, tmp_path, "funnel_conversion_rate", "funnel_entry__funnel_name")

    expected = {
        name: funnel["entities_by_furthest_step"][str(len(funnel["steps"]))]
        / sum(funnel["entities_by_furthest_step"].values())
        for name, funnel in truth["funnels"].items()
    }
    observed = {
        row["funnel_entry__funnel_name"]: float(row["funnel_conversion_rate"]) for row in answer
    }
    assert observed == pytest.approx(expected, abs=1e-9)
