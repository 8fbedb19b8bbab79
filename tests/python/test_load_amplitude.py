"""The Amplitude loader on a real PostgreSQL: export archives on disk, and the Export API
over real HTTP against a local server that answers like the documented one."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta

import pytest
from loader_fixtures import (
    AmplitudeExportServer,
    amplitude_event,
    amplitude_zip,
    columns,
    count,
    query,
    run_cli,
)

from pipelines.sources import amplitude

pytestmark = pytest.mark.integration

HOUR_10 = datetime(2024, 1, 1, 10, tzinfo=UTC)


def hour(offset: int) -> datetime:
    return HOUR_10 + timedelta(hours=offset)


def test_archives_and_extracted_files_load_once_per_insert_id(fresh_warehouse, tmp_path):
    shared = amplitude_event("shared")
    (tmp_path / "export_1.zip").write_bytes(
        amplitude_zip({hour(0): [shared, amplitude_event("a1")], hour(1): [shared]})
    )
    extracted = tmp_path / "187520" / "187520_2024-01-01_12#0.json.gz"
    extracted.parent.mkdir()
    extracted.write_bytes(
        gzip.compress((json.dumps(amplitude_event("a2")) + "\nnot json\n").encode())
    )

    first = amplitude.load_archives(tmp_path, fresh_warehouse)
    second = amplitude.load_archives(tmp_path, fresh_warehouse)

    assert (first.read, first.loaded, first.duplicate, first.rejected) == (5, 3, 1, 1)
    assert (second.read, second.loaded, second.duplicate) == (5, 0, 4)
    assert count(fresh_warehouse, "raw_amplitude.events") == 3
    assert query(
        fresh_warehouse,
        "select insert_id, event_type, user_id, amplitude_id, event_time,"
        " event_properties->>'org_id', groups->'org_id'->>0, platform, _source_file"
        " from raw_amplitude.events where insert_id = 'a1'",
    ) == [
        (
            "a1",
            "Build Succeeded",
            "1",
            123456789012,
            datetime(2024, 1, 1, 10, 5, tzinfo=UTC),
            "7",
            "7",
            "Web",
            f"{tmp_path / 'export_1.zip'}/187520/187520_2024-01-01_10#0.json.gz",
        )
    ]
    table = columns(fresh_warehouse, "raw_amplitude", "events")
    for column in ("event_properties", "user_properties", "groups", "group_properties"):
        assert table[column] == "jsonb"
    assert query(
        fresh_warehouse,
        "select line_number, raw_text, error like '%line 1 column 1%' from raw_amplitude._rejected",
    ) == [(2, "not json", True)]


def test_api_splits_too_large_ranges_retries_503_and_skips_empty_hours(fresh_warehouse, tmp_path):
    events = {hour(0): [amplitude_event("e0")], hour(3): [amplitude_event("e3")]}
    with AmplitudeExportServer(events, max_hours=2, failures=[503]) as server:
        client = amplitude.ExportClient("key", "secret", server.url, backoff_seconds=0.01)
        report = amplitude.load_from_api(
            fresh_warehouse,
            start="20240101T10",
            end="20240101T15",
            chunk_hours=6,
            client=client,
            now=hour(48),
        )

    assert (report.read, report.loaded, report.rejected) == (2, 2, 0)
    assert server.requests == [
        ("20240101T10", "20240101T15", 503),
        ("20240101T10", "20240101T15", 400),
        ("20240101T10", "20240101T12", 400),
        ("20240101T10", "20240101T10", 200),
        ("20240101T11", "20240101T12", 404),
        ("20240101T13", "20240101T15", 400),
        ("20240101T13", "20240101T13", 200),
        ("20240101T14", "20240101T15", 404),
    ]
    assert query(fresh_warehouse, "select insert_id from raw_amplitude.events order by 1") == [
        ("e0",),
        ("e3",),
    ]


def test_api_resumes_after_the_last_complete_hour_and_refetches_younger_hours(
    fresh_warehouse,
):
    events = {hour(0): [amplitude_event("e0")], hour(2): [amplitude_event("e2")]}
    # At 14:30 hour 11 is the last complete one: hour 12 ends at 13:00, exportable at 15:00.
    now = hour(4) + timedelta(minutes=30)
    with AmplitudeExportServer(events) as server:
        client = amplitude.ExportClient("key", "secret", server.url, backoff_seconds=0.01)
        first = amplitude.load_from_api(
            fresh_warehouse, start="20240101T10", end="20240101T13", client=client, now=now
        )
        second = amplitude.load_from_api(fresh_warehouse, client=client, now=hour(10))

    assert [request[:2] for request in server.requests] == [
        ("20240101T10", "20240101T13"),
        ("20240101T12", "20240101T17"),
    ]
    assert (first.loaded, second.loaded, second.duplicate) == (2, 0, 1)
    assert count(fresh_warehouse, "raw_amplitude.events") == 2


def test_cli_bad_credentials_are_one_line_and_exit_2(fresh_warehouse):
    with AmplitudeExportServer({hour(0): [amplitude_event()]}) as server:
        result = run_cli(
            "load",
            "amplitude",
            "--start",
            "20240101T10",
            "--end",
            "20240101T11",
            target=fresh_warehouse,
            env={
                "AMPLITUDE_API_URL": server.url,
                "AMPLITUDE_API_KEY": "key",
                "AMPLITUDE_SECRET_KEY": "wrong",
            },
        )

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "analytics: Amplitude refused the credentials (HTTP 401): "
        "check AMPLITUDE_API_KEY and AMPLITUDE_SECRET_KEY"
    ]


def test_cli_first_api_load_without_start_asks_for_it(fresh_warehouse):
    result = run_cli(
        "load",
        "amplitude",
        target=fresh_warehouse,
        env={"AMPLITUDE_API_KEY": "key", "AMPLITUDE_SECRET_KEY": "secret"},
    )

    assert result.returncode == 2
    assert result.stderr.strip() == "analytics: first Amplitude API load: give --start YYYYMMDDTHH"
