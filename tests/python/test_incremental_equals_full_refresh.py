"""Differential: the scheduled incremental build equals a full refresh, in every mart, after
each load of a sequence.

A generated data set reaches two warehouses through the loaders, load by load: production
and the first third of the Segment export; then the Amplitude export (late forwarded copies
of events already built from Segment) and the second third (late lines filed in later days,
late identifies and aliases); then the last third with a day of the first third delivered
again in a new file; then, filed on the last day, an event one second after the signup of
each user whose paths the last run had settled (a device that was offline: the event lands
inside a settled path). One warehouse is built incrementally after each load, the way the
scheduled run builds (no tests), the other with `--full-refresh`; every mart table must hold
the same rows. A last incremental run with nothing new loaded must rewrite no deduplicated
event (fct_events still re-stitches the devices whose claims changed within the margin).
"""

from __future__ import annotations

import gzip
import json
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from conftest import fresh_database

from benchmarks.incremental_events import marts_fingerprint
from pipelines import warehouse
from pipelines.generate import GeneratorConfig, generate
from pipelines.sources import amplitude, production, segment
from pipelines.transform import dbt
from pipelines.warehouse import Connection

pytestmark = [pytest.mark.integration, pytest.mark.differential]

DATA_SET = GeneratorConfig(seed=23, orgs=20, days=30, end_date=date(2024, 1, 30))
SCHEDULED_BUILD = (
    "build",
    "--exclude-resource-type",
    "test",
    "unit_test",
    "--vars",
    "{analytics__completeness_severity: warn}",
)


def arrive(day_folders: list[Path], export: Path, arrived: Path) -> None:
    """Copy Segment day folders into the folder the loader reads, as an S3 sync would."""
    for folder in day_folders:
        shutil.copytree(folder, arrived / folder.relative_to(export))


def redeliver(day_folder: Path, export: Path, arrived: Path, as_day: Path) -> None:
    """The files of an already loaded day, delivered again under a later day's folder."""
    destination = arrived / as_day.relative_to(export)
    destination.mkdir(parents=True, exist_ok=True)
    for path in day_folder.rglob("*"):
        if path.is_file():
            shutil.copyfile(path, destination / f"redelivered-{path.name}")


# The users whose after path of their signup (an anchor of the default path vars) the last
# run settled, with when they signed up.
SETTLED_SIGNUPS = """
select paths.entity_id, min(events.occurred_at)
from intermediate.int_entity_paths_around_anchors as paths
inner join marts.fct_events as events
    on events.user_id = paths.entity_id and events.event_name = paths.anchor_event
where
    paths.entity_type = 'user'
    and paths.anchor_event = 'User Signed Up'
    and paths.direction = 'after'
    and paths.path is not null
    and not paths.is_path_open
group by paths.entity_id
"""


def file_events_inside_settled_paths(target: Connection, arrived: Path, as_day: Path) -> int:
    """A `Dashboard Viewed` track one second after each settled user's signup, sent and
    received on `as_day` (a Segment day folder) and filed there; the number of users."""
    with target.cursor() as cursor:
        cursor.execute(SETTLED_SIGNUPS)
        signups = cursor.fetchall()
    received = segment_time(
        datetime.fromtimestamp(int(as_day.name) / 1000, UTC) + timedelta(hours=1)
    )
    lines = [
        json.dumps(
            {
                "type": "track",
                "messageId": str(uuid.UUID(int=number + 1)),
                "userId": user_id,
                "event": "Dashboard Viewed",
                "properties": {},
                "context": {"library": {"name": "analytics-ruby", "version": "2.4.0"}},
                "integrations": {},
                "originalTimestamp": segment_time(signed_up_at + timedelta(seconds=1)),
                "timestamp": segment_time(signed_up_at + timedelta(seconds=1)),
                "sentAt": received,
                "receivedAt": received,
            }
        )
        for number, (user_id, signed_up_at) in enumerate(sorted(signups))
    ]
    as_day.mkdir(parents=True, exist_ok=True)
    (as_day / "late-part-0001.gz").write_bytes(gzip.compress("\n".join(lines).encode() + b"\n"))
    return len(lines)


def segment_time(moment: datetime) -> str:
    """A UTC time as Segment's exports write it: `2024-01-04T19:48:43.896Z`."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def row_versions(target: Connection) -> set[tuple]:
    """The deduplicated events by event id and the transaction that last wrote them."""
    with target.cursor() as cursor:
        cursor.execute("select event_id, xmin::text from intermediate.int_events_deduplicated")
        return set(cursor.fetchall())


@pytest.fixture(scope="module")
def warehouses() -> Iterator[tuple[Connection, Connection]]:
    with fresh_database() as incremental, fresh_database() as full:
        yield incremental, full


@pytest.fixture(scope="module")
def loaded_in_sequence(warehouses, tmp_path_factory) -> list[list[str]]:
    """The sequence of loads, each built both ways; for each, the marts that differ."""
    incremental, full = warehouses
    data_dir: Path = tmp_path_factory.mktemp("data")
    production_database = incremental.with_database(f"{incremental.database}_production")
    warehouse.ensure_database(production_database)
    try:
        generate(data_dir, DATA_SET, production=production_database)
        for target in warehouses:
            production.load(production_database.url(), target)
    finally:
        warehouse.drop_database(production_database)
    export = data_dir / "segment-logs"
    day_folders = sorted(export.glob("*/*"), key=lambda folder: int(folder.name))
    third = len(day_folders) // 3
    loads = [
        lambda arrived: arrive(day_folders[:third], export, arrived),
        lambda arrived: arrive(day_folders[third : 2 * third], export, arrived),
        lambda arrived: (
            arrive(day_folders[2 * third :], export, arrived),
            redeliver(day_folders[0], export, arrived, day_folders[-1]),
        ),
        lambda arrived: settled_users.append(
            file_events_inside_settled_paths(
                incremental, arrived, arrived / day_folders[-1].relative_to(export)
            )
        ),
    ]
    settled_users: list[int] = []
    differing = []
    for number, load in enumerate(loads):
        for target in warehouses:
            arrived = data_dir / f"arrived-{target.database}" / "segment-logs"
            load(arrived)
            segment.load(arrived, target)
            if number == 1:
                amplitude.load_archives(data_dir / "amplitude", target)
        assert dbt(SCHEDULED_BUILD, incremental) == 0
        assert dbt([*SCHEDULED_BUILD, "--full-refresh"], full) == 0
        # Each warehouse has load ids of its own.
        built_incrementally = marts_fingerprint(incremental, without_columns=("load_id",))
        built_whole = marts_fingerprint(full, without_columns=("load_id",))
        differing.append(
            sorted(
                mart for mart, rows in built_whole.items() if built_incrementally.get(mart) != rows
            )
        )
    assert settled_users[0] >= 5, "too few settled paths for the late events to test"
    return differing


def test_every_mart_built_incrementally_equals_the_full_refresh_after_each_load(
    loaded_in_sequence,
):
    assert loaded_in_sequence == [[], [], [], []]


def test_a_run_with_no_new_load_rewrites_no_deduplicated_event(warehouses, loaded_in_sequence):
    incremental, _ = warehouses
    before = row_versions(incremental)

    assert dbt(SCHEDULED_BUILD, incremental) == 0

    assert row_versions(incremental) == before
