"""The generated data set (`analytics generate`, every planted flaw on) loads with the counts
its truth manifest records, and loading it a second time changes no row count."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from loader_fixtures import count

from pipelines import loading, warehouse
from pipelines.generate import GeneratorConfig, generate
from pipelines.loading import LoadReport
from pipelines.sources import amplitude, production, segment

pytestmark = pytest.mark.integration

CONFIG = GeneratorConfig(
    seed=5, orgs=4, days=10, duplicate_rate=0.05, late_rate=0.05, malformed_lines=3
)
SEGMENT_TABLES = {
    "track": "tracks",
    "identify": "identifies",
    "page": "pages",
    "screen": "screens",
    "group": "groups",
    "alias": "aliases",
}


@dataclass
class Loads:
    truth: dict
    target: warehouse.Connection
    first: list[LoadReport]
    second: list[LoadReport]
    counts_after_first: dict[str, int]


def load_everything(data: Path, source: warehouse.Connection, target: warehouse.Connection):
    return [
        segment.load(data / "segment-logs", target),
        amplitude.load_archives(data / "amplitude", target),
        production.load(source.url(), target),
    ]


def row_counts(target: warehouse.Connection) -> dict[str, int]:
    with target.cursor() as cursor:
        cursor.execute(
            "select table_schema || '.' || table_name from information_schema.tables"
            " where table_schema in ('raw_segment', 'raw_amplitude', 'raw_production')"
            " and table_name not like '\\_dlt%'"
        )
        relations = sorted(row[0] for row in cursor.fetchall())
    return {relation: count(target, relation) for relation in relations}


@pytest.fixture(scope="module")
def loads(tmp_path_factory) -> Iterator[Loads]:
    server = warehouse.connection()
    suffix = uuid.uuid4().hex[:10]
    source = server.with_database(f"production_generated_{suffix}")
    target = server.with_database(f"analytics_test_generated_{suffix}")
    for database in (source, target):
        warehouse.ensure_database(database)
    data = tmp_path_factory.mktemp("generated")
    try:
        truth = generate(data, CONFIG, production=source)
        first = load_everything(data, source, target)
        counts_after_first = row_counts(target)
        second = load_everything(data, source, target)
        yield Loads(truth, target, first, second, counts_after_first)
    finally:
        for database in (source, target):
            warehouse.drop_database(database)
        for pipeline_dir in loading.PIPELINES_DIR.glob(f"*_{target.database}_*"):
            shutil.rmtree(pipeline_dir)


def test_every_input_line_is_counted_as_the_truth_manifest_says(loads):
    segment_report, amplitude_report, _ = loads.first

    for report, lines in (
        (segment_report, loads.truth["input_lines"]["segment"]),
        (amplitude_report, loads.truth["input_lines"]["amplitude"]),
    ):
        assert report.read == lines["lines"]
        assert report.rejected == lines["malformed"] > 0
        assert report.duplicate == lines["duplicates"] > 0
        assert report.loaded == lines["lines"] - lines["duplicates"] - lines["malformed"]


def test_the_raw_tables_hold_the_messages_events_and_rows_of_the_truth_manifest(loads):
    truth, target = loads.truth, loads.target

    for message_type, messages in truth["segment_messages_by_type"].items():
        assert count(target, f"raw_segment.{SEGMENT_TABLES[message_type]}") == messages
    segment_views = sum(
        truth["events_by_canonical_name"]["segment"].get(name, 0)
        for name in ("Page Viewed", "Screen Viewed")
    )
    assert count(target, "raw_segment.tracks") == (
        sum(truth["events_by_canonical_name"]["segment"].values()) - segment_views
    )
    assert count(target, "raw_amplitude.events") == sum(
        truth["events_by_canonical_name"]["amplitude"].values()
    )
    assert count(target, "raw_segment._rejected") == truth["input_lines"]["segment"]["malformed"]
    assert (
        count(target, "raw_amplitude._rejected") == truth["input_lines"]["amplitude"]["malformed"]
    )
    assert count(target, "raw_production.users") == truth["users"]
    assert count(target, "raw_production.organizations") == truth["organizations"]
    assert count(target, "raw_production.memberships") == truth["memberships"]
    assert count(target, "raw_production.subscription_changes") == sum(
        truth["plan_changes_by_type"].values()
    )


def test_loading_the_data_set_twice_changes_no_row_count(loads):
    segment_again, amplitude_again, production_again = loads.second

    assert row_counts(loads.target) == loads.counts_after_first
    assert (segment_again.read, segment_again.loaded) == (0, 0)
    assert amplitude_again.loaded == 0
    assert amplitude_again.duplicate + amplitude_again.rejected == amplitude_again.read
    assert production_again.read > 0
    assert (production_again.loaded, production_again.duplicate) == (0, production_again.read)
