"""Acceptance: on a generated data set, loaded by the loaders and built by dbt, the funnel and
upgrade marts equal the generator's truth manifest (counted from its own records), and the
leading-indicator mart finds the predictors the generator planted.

The data set is larger than the core acceptance one (150 orgs) so that the planted effects
stand out from chance; it still builds in about a minute."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from pipelines import warehouse
from pipelines.generate import GeneratorConfig, generate
from pipelines.sources import amplitude, production, segment
from pipelines.transform import dbt
from pipelines.warehouse import Connection

pytestmark = pytest.mark.integration

# A fixed period: the leading-indicator ranking asserted below holds for this data set.
DATA_SET = GeneratorConfig(seed=3, orgs=150, days=45, end_date=date(2024, 2, 14))


def query(target: Connection, sql: str, parameters: tuple = ()) -> list[tuple]:
    with target.cursor() as cursor:
        cursor.execute(sql, parameters)
        return cursor.fetchall()


@pytest.fixture(scope="module")
def built(test_warehouse: Connection, tmp_path_factory) -> tuple[Connection, dict]:
    data_dir: Path = tmp_path_factory.mktemp("data")
    production_database = test_warehouse.with_database(f"{test_warehouse.database}_production")
    warehouse.ensure_database(production_database)
    try:
        truth = generate(data_dir, DATA_SET, production=production_database)
        production.load(production_database.url(), test_warehouse)
    finally:
        warehouse.drop_database(production_database)
    amplitude.load_archives(data_dir / "amplitude", test_warehouse)
    segment.load(data_dir / "segment-logs", test_warehouse)
    assert dbt(["build"], test_warehouse) == 0
    return test_warehouse, truth


@pytest.mark.parametrize("funnel", ["activation", "org_upgrade", "upgrade_intent"])
def test_entities_by_furthest_step_equal_the_truth(built, funnel):
    target, truth = built
    expected = truth["funnels"][funnel]["entities_by_furthest_step"]

    rows = query(
        target,
        "select furthest_step, count(*) from marts.fct_funnel_progress"
        " where funnel_name = %s group by 1",
        (funnel,),
    )

    observed = {str(step): entities for step, entities in rows}
    assert {step: observed.get(step, 0) for step in expected} == expected
    assert sum(observed.values()) == sum(expected.values())
    assert sum(expected.values()) > 0


def test_upgrades_by_month_and_language_equal_the_truth(built):
    target, truth = built

    rows = query(
        target,
        "select to_char(month, 'YYYY-MM'), segment_value, upgraded_orgs"
        " from marts.rpt_upgrades_by_segment where segment_type = 'primary_language'",
    )

    observed: dict[str, dict[str, int]] = {}
    for month, language, upgraded_orgs in rows:
        observed.setdefault(month, {})[language] = upgraded_orgs
    assert observed == truth["upgrades_by_month_and_language"]
    assert observed, "the data set must hold upgrades"


def test_shares_of_upgrades_add_up_to_one_per_month_and_segment_type(built):
    target, _ = built

    totals = query(
        target,
        "select month, segment_type, sum(share_of_upgrades)"
        " from marts.rpt_upgrades_by_segment group by 1, 2",
    )

    assert totals
    assert all(abs(float(total) - 1) < 1e-4 for _, _, total in totals)


def test_upgrade_cohorts_end_at_the_organizations_that_upgraded(built):
    target, truth = built

    latest = query(
        target,
        """
        select sum(orgs), sum(upgraded_orgs) from marts.rpt_upgrade_cohorts as cohorts
        where months_since_signup = (
            select max(months_since_signup) from marts.rpt_upgrade_cohorts as same_cohort
            where same_cohort.cohort_month = cohorts.cohort_month
        )
        """,
    )
    first_upgrades = query(
        target,
        "select count(distinct org_id) from marts.fct_plan_changes where change_type = 'upgrade'",
    )

    assert latest == [(truth["organizations"], first_upgrades[0][0])]


def test_leading_indicators_rank_the_planted_predictors_at_the_top(built):
    """The generator triples the upgrade chance of orgs that invite a teammate in their first
    week and doubles it for 5+ successful builds then. Ranked by correlation, the invite comes
    first and 5+ builds is in the top three (the invitee's own signup, a consequence of the
    invite, scores between them), above a single build, which nearly every active org does."""
    target, truth = built
    planted = truth["leading_indicators"]

    ranking = query(
        target,
        "select event_name, min_events from marts.rpt_upgrade_leading_indicators"
        " where correlation is not null order by correlation desc",
    )

    assert planted["Teammate Invited"]["at_least"] == 1
    assert planted["Build Succeeded"]["at_least"] == 5
    assert ranking[0] == ("Teammate Invited", 1)
    assert ("Build Succeeded", 5) in ranking[:3]
    assert ranking.index(("Build Succeeded", 5)) < ranking.index(("Build Succeeded", 1))


def test_leading_indicator_upgrade_rates_follow_the_planted_effect(built):
    target, truth = built

    rows = query(
        target,
        "select event_name, upgrade_rate_with, upgrade_rate_without"
        " from marts.rpt_upgrade_leading_indicators"
        " where (event_name, min_events) in (('Teammate Invited', 1), ('Build Succeeded', 5))",
    )

    assert len(rows) == 2
    for event_name, rate_with, rate_without in rows:
        planted = truth["leading_indicators"][event_name]
        assert planted["upgrade_rate_with"] > planted["upgrade_rate_without"]
        assert rate_with > 2 * rate_without
