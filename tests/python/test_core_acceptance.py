"""Acceptance: a generated data set, loaded by the loaders and built by dbt, gives marts equal
to the generator's truth manifest (counted from its own records, never from the warehouse).

The Segment export arrives in two halves, as a scheduler would see it: the first half is
loaded and built, then the rest (with the late lines filed in later days) is loaded and
built incrementally; a full refresh must then give the same marts."""

from __future__ import annotations

from collections import Counter
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
MARTS = ("fct_events", "dim_users", "dim_organizations", "fct_plan_changes")


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


@pytest.fixture(scope="module")
def built(test_warehouse: Connection, tmp_path_factory) -> tuple[Connection, dict]:
    data_dir: Path = tmp_path_factory.mktemp("data")
    production_database = test_warehouse.with_database(f"{test_warehouse.database}_production")
    warehouse.ensure_database(production_database)
    try:
        truth = generate(data_dir, DATA_SET, production=production_database)
        amplitude.load_archives(data_dir / "amplitude", test_warehouse)
        production.load(production_database.url(), test_warehouse)
    finally:
        warehouse.drop_database(production_database)
    export, arrived = data_dir / "segment-logs", data_dir / "arrived" / "segment-logs"
    day_folders = sorted(export.glob("*/*"))
    half = len(day_folders) // 2
    arrive(day_folders[:half], export, arrived)
    segment.load(arrived, test_warehouse)
    assert dbt(["build"], test_warehouse) == 0
    arrive(day_folders[half:], export, arrived)
    segment.load(arrived, test_warehouse)
    assert dbt(["build"], test_warehouse) == 0
    return test_warehouse, truth


def test_events_by_canonical_name_equal_the_truth(built):
    target, truth = built

    observed = counts(target, "select event_name, count(*) from marts.fct_events group by 1")

    assert observed == truth["events_by_canonical_name"]["all"]


def test_each_event_is_counted_once_under_the_source_that_sent_it(built):
    target, truth = built
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
    target, truth = built

    assert query(target, "select count(*) from marts.dim_users") == [(truth["users"],)]
    assert query(target, "select count(*) from marts.dim_organizations") == [
        (truth["organizations"],)
    ]


def test_plan_changes_by_type_equal_the_truth(built):
    target, truth = built

    observed = counts(target, "select change_type, count(*) from marts.fct_plan_changes group by 1")

    assert {kind: observed.get(kind, 0) for kind in truth["plan_changes_by_type"]} == (
        truth["plan_changes_by_type"]
    )
    assert sum(observed.values()) == sum(truth["plan_changes_by_type"].values())


def test_a_full_refresh_gives_the_marts_the_incremental_runs_built(built):
    target, _ = built
    incremental = marts(target)

    assert dbt(["build", "--full-refresh"], target) == 0

    assert marts(target) == incremental
