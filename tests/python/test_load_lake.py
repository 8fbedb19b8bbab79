"""The loaders with `ANALYTICS_ENGINE=spark` (contract §10): the generated data set (every
planted flaw on) lands as Parquet under the lake with the counts it gets in PostgreSQL,
`_rejected` included, and loading it a second time adds nothing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import generated_for_both_engines
from loader_fixtures import count
from test_load_generated import CONFIG, load_everything

from pipelines import warehouse
from pipelines.lake import Lake
from pipelines.loading import LoadReport

pytestmark = pytest.mark.integration

RAW_TABLES = {
    "raw_segment": ["tracks", "identifies", "pages", "screens", "groups", "aliases", "_rejected"],
    "raw_amplitude": ["events", "_rejected"],
    "raw_production": ["organizations", "users", "memberships", "plans", "subscription_changes"],
}


@dataclass
class Loads:
    warehouse: warehouse.Connection
    lake: Lake
    warehouse_reports: list[LoadReport]
    lake_reports: list[LoadReport]
    lake_reports_again: list[LoadReport]
    lake_rows_after_first: dict[str, int]


def lake_rows(lake: Lake) -> dict[str, int]:
    return {
        f"{schema}.{table}": rows.num_rows
        for schema, tables in RAW_TABLES.items()
        for table in tables
        if (rows := lake.table(schema, table)) is not None
    }


def counts(report: LoadReport) -> tuple:
    return report.source, report.read, report.loaded, report.duplicate, report.rejected


@pytest.fixture(scope="module")
def loads(tmp_path_factory) -> Iterator[Loads]:
    with generated_for_both_engines(tmp_path_factory, CONFIG) as both:
        warehouse_reports = load_everything(both.data, both.production, both.warehouse)
        lake_reports = load_everything(both.data, both.production, both.lake)
        lake_rows_after_first = lake_rows(both.lake)
        lake_reports_again = load_everything(both.data, both.production, both.lake)
        yield Loads(
            both.warehouse,
            both.lake,
            warehouse_reports,
            lake_reports,
            lake_reports_again,
            lake_rows_after_first,
        )


def test_the_lake_load_reports_the_counts_of_the_warehouse_load(loads):
    assert [counts(report) for report in loads.lake_reports] == [
        counts(report) for report in loads.warehouse_reports
    ]
    segment_report, amplitude_report, _ = loads.lake_reports
    assert segment_report.duplicate > 0 and segment_report.rejected > 0
    assert amplitude_report.rejected > 0


def test_the_lake_keeps_every_rejected_line_as_the_warehouse_does(loads):
    for schema in ("raw_segment", "raw_amplitude"):
        # Append-only: a line rejected by both loads is there twice, one line of one file.
        rejected = loads.lake.table(schema, "_rejected")
        lines = rejected.group_by(["file", "line_number"]).aggregate([])
        assert lines.num_rows == count(loads.warehouse, f"{schema}._rejected") > 0


def test_the_lake_tables_are_parquet_files_under_the_lake_path(loads):
    tracks = Path(loads.lake.table_url("raw_segment", "tracks"))
    assert sorted(tracks.glob("*.parquet"))
    assert loads.lake.table("raw_segment", "tracks").num_rows >= count(
        loads.warehouse, "raw_segment.tracks"
    )


def test_loading_the_data_set_twice_into_the_lake_adds_nothing(loads):
    segment_again, amplitude_again, production_again = loads.lake_reports_again

    assert (
        lake_rows(loads.lake)["raw_segment.tracks"]
        == (loads.lake_rows_after_first["raw_segment.tracks"])
    )
    assert (segment_again.read, segment_again.loaded) == (0, 0)
    assert amplitude_again.loaded == 0
    assert production_again.loaded == 0
