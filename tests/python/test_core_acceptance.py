"""Acceptance: a generated data set, loaded by the loaders and built by dbt, gives marts equal
to the generator's truth manifest (counted from its own records, never from the warehouse).

The Segment export arrives in two halves, as a scheduler would see it: the first half is
loaded and built, then the rest (with the late lines filed in later days, and the late
aliases that link browsers whose pages the first build left anonymous) is loaded and built
incrementally; a full refresh must then give the same marts.

Production is loaded twice: first as it was before the planted change of an org's primary
language (the test puts the old value back, as `truth.json` records it), then as it is, so
the snapshots see the row change between two loads."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from pipelines import warehouse
from pipelines.generate import GeneratorConfig, generate
from pipelines.sources import amplitude, production, segment
from pipelines.transform import dbt
from pipelines.warehouse import Connection

pytestmark = pytest.mark.integration

DATA_SET = GeneratorConfig(seed=11, orgs=25, days=30, end_date=date(2024, 1, 30))
WARN_ON_COMPLETENESS = ("--vars", "{analytics__completeness_severity: warn}")
MARTS = ("fct_events", "dim_users", "dim_organizations", "fct_plan_changes", "fct_sessions")


def query(target: Connection, sql: str) -> list[tuple]:
    with target.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def counts(target: Connection, sql: str) -> dict:
    return {key: value for key, value in query(target, sql)}


def arrive(day_folders: list[Path], export: Path, arrived: Path) -> None:
    """Move Segment day folders into the folder the loader reads, as an S3 sync would."""
    for folder in day_folders:
        destination = arrived / folder.relative_to(export)
        destination.parent.mkdir(parents=True, exist_ok=True)
        folder.rename(destination)


def marts(target: Connection) -> dict[str, list[tuple]]:
    return {mart: query(target, f"select * from marts.{mart} order by 1") for mart in MARTS}


def set_language(production_database: Connection, change: dict, language: str, at: str) -> None:
    """Production's row of the org whose language changed, as it was or as it is."""
    with production_database.cursor() as cursor:
        cursor.execute(
            "update organizations set primary_language = %s, updated_at = %s where id = %s",
            (language, at, int(change["org_id"])),
        )


@dataclass
class Built:
    target: Connection
    truth: dict
    anonymous_after_first_build: set[str]


@pytest.fixture(scope="module")
def built(test_warehouse: Connection, tmp_path_factory) -> Built:
    data_dir: Path = tmp_path_factory.mktemp("data")
    production_database = test_warehouse.with_database(f"{test_warehouse.database}_production")
    warehouse.ensure_database(production_database)
    try:
        truth = generate(data_dir, DATA_SET, production=production_database)
        change = truth["history"]["language_change"]
        set_language(production_database, change, change["from"], change["updated_at_before"])
        amplitude.load_archives(data_dir / "amplitude", test_warehouse)
        production.load(production_database.url(), test_warehouse)
        export, arrived = data_dir / "segment-logs", data_dir / "arrived" / "segment-logs"
        # Both sources' day folders arrive in time order, as a sync of the bucket brings them.
        day_folders = sorted(export.glob("*/*"), key=lambda folder: int(folder.name))
        half = len(day_folders) // 2
        arrive(day_folders[:half], export, arrived)
        segment.load(arrived, test_warehouse)
        # Half the export: a signup filed late is still on its way, which completeness sees.
        assert dbt(["build", *WARN_ON_COMPLETENESS], test_warehouse) == 0
        anonymous = {
            anonymous_id
            for (anonymous_id,) in query(
                test_warehouse,
                "select distinct anonymous_id from marts.fct_events where user_id is null",
            )
        }
        set_language(production_database, change, change["to"], change["changed_at"])
        production.load(production_database.url(), test_warehouse)
    finally:
        warehouse.drop_database(production_database)
    arrive(day_folders[half:], export, arrived)
    segment.load(arrived, test_warehouse)
    assert dbt(["build"], test_warehouse) == 0
    return Built(test_warehouse, truth, anonymous)


def test_events_by_canonical_name_equal_the_truth(built):
    target, truth = built.target, built.truth

    observed = counts(target, "select event_name, count(*) from marts.fct_events group by 1")

    assert observed == truth["events_by_canonical_name"]["all"]


def test_each_event_is_counted_once_under_the_source_that_sent_it(built):
    target, truth = built.target, built.truth
    by_name = truth["events_by_canonical_name"]
    only_in_amplitude = Counter(by_name["all"])
    only_in_amplitude.subtract(by_name["segment"])
    only_in_amplitude.subtract(by_name["production"])

    def observed(source: str) -> dict:
        return counts(
            target,
            "select event_name, count(*) from marts.fct_events"
            f" where source = '{source}' group by 1",
        )

    assert observed("segment") == by_name["segment"]
    assert observed("production") == by_name["production"]
    assert observed("amplitude") == {name: n for name, n in only_in_amplitude.items() if n}


def test_users_and_organizations_equal_the_truth(built):
    target, truth = built.target, built.truth

    assert query(target, "select count(*) from marts.dim_users") == [(truth["users"],)]
    assert query(target, "select count(*) from marts.dim_organizations") == [
        (truth["organizations"],)
    ]


def test_plan_changes_by_type_equal_the_truth(built):
    target, truth = built.target, built.truth

    observed = counts(target, "select change_type, count(*) from marts.fct_plan_changes group by 1")

    assert {kind: observed.get(kind, 0) for kind in truth["plan_changes_by_type"]} == (
        truth["plan_changes_by_type"]
    )
    assert sum(observed.values()) == sum(truth["plan_changes_by_type"].values())


def test_a_full_refresh_gives_the_marts_the_incremental_runs_built(built):
    target = built.target
    incremental = marts(target)

    assert dbt(["build", "--full-refresh"], target) == 0

    assert marts(target) == incremental


def test_page_and_screen_views_are_events_counted_once_under_segment(built):
    target, truth = built.target, built.truth
    by_name = truth["events_by_canonical_name"]

    observed = counts(
        target,
        "select source || ' ' || event_name, count(*) from marts.fct_events"
        " where event_name in ('Page Viewed', 'Screen Viewed') group by 1",
    )
    raw_copies = counts(
        target,
        "select source || ' ' || event_name, sum(events) from marts.rpt_event_catalog"
        " where event_name in ('Page Viewed', 'Screen Viewed') group by 1",
    )

    assert observed == {
        "segment Page Viewed": by_name["all"]["Page Viewed"],
        "segment Screen Viewed": by_name["all"]["Screen Viewed"],
    }
    assert raw_copies == {
        f"{source} {name}": by_name[source][name]
        for source in ("segment", "amplitude")
        for name in ("Page Viewed", "Screen Viewed")
    }


def test_every_users_stitched_event_count_equals_the_truth(built):
    target, identity = built.target, built.truth["identity"]

    observed = counts(
        target,
        "select user_id, count(*) from marts.fct_events where user_id is not null group by 1",
    )
    anonymous = query(target, "select count(*) from marts.fct_events where user_id is null")

    assert observed == identity["stitched_events_by_user"]
    assert anonymous == [(identity["anonymous_events"],)]


def test_a_late_alias_restitches_pages_an_earlier_run_left_anonymous(built):
    target = built.target
    aliased = {
        previous_id
        for (previous_id,) in query(
            target,
            "select previous_id from intermediate.int_aliases_classified"
            " where previous_id_type = 'anonymous_id'",
        )
    }
    still_anonymous = {
        anonymous_id
        for (anonymous_id,) in query(
            target, "select distinct anonymous_id from marts.fct_events where user_id is null"
        )
    }

    restitched = (built.anonymous_after_first_build & aliased) - still_anonymous
    assert restitched, "no browser was linked by an alias after the first build"


def test_sessions_by_source_equal_the_truth(built):
    target, truth = built.target, built.truth

    observed = counts(target, "select source, count(*) from marts.fct_sessions group by 1")

    assert observed == truth["sessions"]


def test_the_snapshot_keeps_the_language_production_overwrote(built):
    target, change = built.target, built.truth["history"]["language_change"]

    versions = query(
        target,
        "select primary_language, dbt_valid_to is null from snapshots.snp_production__organizations"
        f" where org_id = '{change['org_id']}' order by dbt_valid_from",
    )
    today = query(
        target,
        f"select primary_language from marts.dim_organizations where org_id = '{change['org_id']}'",
    )

    assert versions == [(change["from"], False), (change["to"], True)]
    assert today == [(change["to"],)]


def test_org_funnel_entries_by_language_at_entry_use_the_history(built):
    target, truth = built.target, built.truth

    observed = counts(
        target,
        "select segment_value, entities from marts.rpt_funnel_conversion_by_segment"
        " where funnel_name = 'org_upgrade' and segment_type = 'primary_language'"
        " and step_number = 1",
    )

    assert observed == truth["org_upgrade_entities_by_language_at_entry"]


def test_a_vcs_provider_production_lacks_comes_from_group_traits(built):
    target, history = built.target, built.truth["history"]

    ((org_id, vcs_provider),) = history["vcs_provider_from_group_traits"].items()

    assert query(
        target, f"select vcs_provider from marts.dim_organizations where org_id = '{org_id}'"
    ) == [(vcs_provider,)]
