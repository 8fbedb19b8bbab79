"""Every layer end to end on a small generated data set: generate, load, dbt build."""

from __future__ import annotations

from pathlib import Path

import psycopg2
import pytest

from pipelines.generate import GeneratorConfig, generate
from pipelines.sources import segment
from pipelines.transform import dbt
from pipelines.warehouse import Connection

pytestmark = pytest.mark.integration


def count_rows(target: Connection, relation: str) -> int:
    with target.cursor() as cursor:
        cursor.execute(f"select count(*) from {relation}")
        return cursor.fetchone()[0]


@pytest.fixture(scope="module")
def built_warehouse(test_warehouse: Connection, tmp_path_factory) -> tuple[Connection, dict]:
    data_dir: Path = tmp_path_factory.mktemp("data")
    truth = generate(data_dir, GeneratorConfig(seed=7, orgs=30, days=20))
    segment.load(data_dir / "segment-logs", test_warehouse)
    segment.load(data_dir / "segment-logs", test_warehouse)
    assert dbt(["build"], test_warehouse) == 0
    return test_warehouse, truth


def test_fct_events_holds_every_generated_event_once(built_warehouse):
    target, truth = built_warehouse
    generated_counts = truth["events_by_canonical_name"]["segment"]

    with target.cursor() as cursor:
        cursor.execute("select event_name, count(*) from marts.fct_events group by event_name")
        counts = dict(cursor.fetchall())

    assert counts == generated_counts


def test_loading_the_same_export_twice_changes_nothing(built_warehouse):
    target, truth = built_warehouse

    for message_type, table in (("track", "tracks"), ("page", "pages"), ("alias", "aliases")):
        assert (
            count_rows(target, f"raw_segment.{table}")
            == (truth["segment_messages_by_type"][message_type])
        )


def test_reader_role_reads_marts_but_not_raw_or_staging(built_warehouse):
    target, _ = built_warehouse
    reader = Connection(target.host, target.port, "analytics_reader", "", target.database)

    assert count_rows(reader, "marts.fct_events") > 0
    for relation in ("raw_segment.tracks", "staging.stg_segment__tracks"):
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            count_rows(reader, relation)
