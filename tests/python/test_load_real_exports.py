"""The loaders on what real exports and broken files contain (contract §3 and §4): nothing
lost (every bad line kept, byte for byte, in `_rejected`), nothing changed (empty strings,
names in any script, the first delivery), nothing leaked (no password in any output or log),
and loader state that lives in the warehouse."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from loader_fixtures import (
    AmplitudeExportServer,
    amplitude_event,
    amplitude_zip,
    count,
    query,
    run_cli,
    segment_message,
    write_segment_file,
)

from pipelines import loading, warehouse
from pipelines.sources import amplitude, segment

pytestmark = pytest.mark.integration

HOUR_10 = datetime(2024, 1, 1, 10, tzinfo=UTC)


def rejected(target: warehouse.Connection, schema: str) -> list[tuple]:
    """(file name, line number, the line's exact bytes, error) of every rejected line."""
    rows = query(
        target,
        f"select file, line_number, raw_text, raw_base64, error from {schema}._rejected"
        " order by file, line_number",
    )
    return [
        (
            file.rsplit("/", 1)[-1],
            line_number,
            base64.b64decode(raw_base64) if raw_base64 is not None else raw_text.encode(),
            error,
        )
        for file, line_number, raw_text, raw_base64, error in rows
    ]


def noise(seed: int) -> dict[str, str]:
    """Properties that do not compress away, so half a gzip stream holds whole lines."""
    return {"noise": hashlib.sha256(str(seed).encode()).hexdigest()}


def write_five_broken_files(root: Path) -> dict[str, list[bytes]]:
    """A good file, a mixed one (NUL, invalid UTF-8, truncated JSON between good lines), a
    truncated gzip stream, an empty file and a file that is not gzip; returns the bad lines
    each holds."""
    good = [json.dumps(segment_message(message_id=f"good-{n}", event="X")) for n in range(3)]
    write_segment_file(root, good, name="a-good.gz")
    nul = b'{"type": "track", "messageId": "nul\x00", "event": "X"}'
    invalid_utf8 = b'{"type": "track", "messageId": "\xff\xfe", "event": "X"}'
    cut_json = b'{"type": "track", "messageId": '
    mixed = [
        json.dumps(segment_message(message_id="mixed-1", event="X")).encode(),
        nul,
        invalid_utf8,
        cut_json,
        json.dumps(segment_message(message_id="mixed-2", event="X")).encode(),
    ]
    folder = root / "segment-logs" / "web-app" / "1704067200000"
    (folder / "b-mixed.gz").write_bytes(gzip.compress(b"\n".join(mixed) + b"\n"))
    whole = gzip.compress(
        "".join(
            json.dumps(segment_message(message_id=f"cut-{n}", event="X", properties=noise(n)))
            + "\n"
            for n in range(50)
        ).encode()
    )
    (folder / "c-truncated.gz").write_bytes(whole[: len(whole) // 2])
    (folder / "d-empty.gz").write_bytes(b"")
    (folder / "e-not-gzip.gz").write_bytes(b"PK\x03\x04 this is a zip, not gzip\x00\xff")
    return {"b-mixed.gz": [nul, invalid_utf8, cut_json]}


def test_five_broken_files_load_with_every_bad_line_kept_byte_for_byte(fresh_warehouse, tmp_path):
    bad_lines = write_five_broken_files(tmp_path)

    result = run_cli(
        "load", "segment", str(tmp_path), "--max-rejected-share", "1", target=fresh_warehouse
    )

    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""
    [summary] = result.stdout.strip().splitlines()
    rows = rejected(fresh_warehouse, "raw_segment")
    by_file: dict[str, list[tuple]] = {}
    for file, line_number, raw, error in rows:
        by_file.setdefault(file, []).append((line_number, raw, error))
    assert [raw for _, raw, _ in by_file["b-mixed.gz"]] == bad_lines["b-mixed.gz"]
    assert [line for line, _, _ in by_file["b-mixed.gz"]] == [2, 3, 4]
    [(_, _, truncated_reason)] = by_file["c-truncated.gz"]
    assert truncated_reason.startswith("unreadable after this line")
    [(line_number, raw, not_gzip_reason)] = by_file["e-not-gzip.gz"]
    assert (line_number, raw) == (0, b"")
    assert "not a gzipped file" in not_gzip_reason.lower()
    assert set(by_file) == {"b-mixed.gz", "c-truncated.gz", "e-not-gzip.gz"}
    loaded = count(fresh_warehouse, "raw_segment.tracks")
    assert loaded >= 5 + 1
    assert (
        summary == f"segment: read {loaded + len(rows)}, loaded {loaded}, duplicate 0, rejected 5"
    )


def test_the_exit_code_follows_the_rejected_share_without_a_traceback(fresh_warehouse, tmp_path):
    write_five_broken_files(tmp_path)

    result = run_cli("load", "segment", str(tmp_path), target=fresh_warehouse)

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[0].startswith("analytics: ")
    assert len(result.stdout.strip().splitlines()) == 1


def test_a_track_named_in_any_script_loads_into_a_stable_table(fresh_warehouse, tmp_path):
    write_segment_file(
        tmp_path,
        [
            segment_message(message_id="ja", event="購買完成", properties={"金額": 5}),
            segment_message(message_id="ja-2", event="購買完成"),
            segment_message(message_id="ru", event="Покупка"),
            segment_message(message_id="cafe", event="Café Opened"),
        ],
    )

    report = segment.load(tmp_path, fresh_warehouse)

    assert (report.loaded, report.rejected) == (4, 0)
    tracks = dict(query(fresh_warehouse, "select id, event from raw_segment.tracks"))
    assert tracks["ja"] == tracks["ja-2"] == segment.event_table("購買完成")
    assert tracks["ja"] != tracks["ru"]
    assert tracks["cafe"] == "cafe_opened"
    assert query(
        fresh_warehouse,
        f"select event_text from raw_segment.{tracks['ja']} order by id",
    ) == [("購買完成",), ("購買完成",)]
    assert query(
        fresh_warehouse, "select properties->>'金額' from raw_segment.tracks where id = 'ja'"
    ) == [("5",)]


def test_event_tables_are_named_by_a_documented_stable_rule():
    assert segment.event_table("Build Started") == "build_started"
    assert segment.event_table("購買完成") == segment.event_table("購買完成")
    assert segment.event_table("購買完成").startswith("event_")
    assert segment.event_table("購買完成 v2").startswith("v2_")
    assert segment.event_table("購買完成 v2") != segment.event_table("v2")


def test_an_amplitude_event_with_a_null_insert_id_is_identified_by_its_uuid(
    fresh_warehouse, tmp_path
):
    events = [
        amplitude_event(None, uuid="u-null", **{"$insert_id": None}),
        {
            key: value
            for key, value in amplitude_event(uuid="u-absent").items()
            if key != "$insert_id"
        },
        amplitude_event("with-id", uuid="u-3"),
    ]
    (tmp_path / "export.zip").write_bytes(amplitude_zip({HOUR_10: events}))

    result = run_cli("load", "amplitude", "--path", str(tmp_path), target=fresh_warehouse)

    assert result.returncode == 0, result.stderr
    assert "amplitude: read 3, loaded 3, duplicate 0, rejected 0" in result.stdout
    assert query(
        fresh_warehouse, "select insert_id, uuid from raw_amplitude.events order by uuid"
    ) == [("with-id", "u-3"), ("u-absent", "u-absent"), ("u-null", "u-null")]


def test_the_copy_received_first_wins_within_one_load_every_time(fresh_warehouse, tmp_path):
    originals = [
        segment_message(
            message_id=f"m{n}",
            event="Build Started",
            at="2024-01-01T10:00:00Z",
            properties={"copy": "first"},
        )
        for n in range(8)
    ]
    later = [
        {**message, "receivedAt": "2024-01-01T10:00:05.5Z", "properties": {"copy": "later"}}
        for message in originals
    ]
    same_instant = [{**message, "properties": {"copy": "second line"}} for message in originals]
    # The later copies sit in the first file and line: receipt time decides, not file order.
    write_segment_file(tmp_path, later, name="a.gz")
    write_segment_file(tmp_path, [*originals, *same_instant], name="b.gz")

    report = segment.load(tmp_path, fresh_warehouse)

    assert (report.read, report.loaded, report.duplicate) == (24, 8, 16)
    assert query(
        fresh_warehouse, "select distinct properties->>'copy' from raw_segment.tracks"
    ) == [("first",)]
    assert query(fresh_warehouse, "select distinct copy from raw_segment.build_started") == [
        ("first",)
    ]


def test_copies_received_at_the_same_instant_keep_the_one_of_the_first_file(
    fresh_warehouse, tmp_path
):
    copy = segment_message(message_id="tie", event="Build Started", at="2024-01-01T10:00:00Z")
    for name in ("c.gz", "a.gz", "b.gz"):  # written out of order: the folder lists them so
        write_segment_file(tmp_path, [{**copy, "properties": {"file": name}}], name=name)

    segment.load(tmp_path, fresh_warehouse)

    assert query(fresh_warehouse, "select properties->>'file' from raw_segment.tracks") == [
        ("a.gz",)
    ]


def test_the_amplitude_copy_uploaded_first_wins_within_one_load(fresh_warehouse, tmp_path):
    first = amplitude_event("dup", server_upload_time="2024-01-01 10:05:00.000000", uuid="1")
    later = {**first, "server_upload_time": "2024-01-01 11:00:00.000000", "uuid": "2"}
    (tmp_path / "export.zip").write_bytes(
        amplitude_zip({HOUR_10: [later, first], HOUR_10 + timedelta(hours=1): [later]})
    )

    amplitude.load_archives(tmp_path, fresh_warehouse)

    assert query(fresh_warehouse, "select uuid from raw_amplitude.events") == [("1",)]


def test_empty_strings_stay_empty_strings(fresh_warehouse, tmp_path):
    messages = [
        segment_message(
            message_id=f"m{n}",
            event="Build Started",
            properties={"branch": "", "nested": {"tag": ""}},
            context={"library": {"name": "analytics.js"}, "page": {"search": ""}},
        )
        for n in range(3)
    ]
    odd = segment_message(message_id="odd", event="Build Started", properties={"branch": ""})
    odd["userId"] = 7  # not plain: takes the message-by-message path
    write_segment_file(tmp_path, [*messages, odd])
    events = [
        amplitude_event(f"a{n}", platform="", event_properties={"plan": ""}) for n in range(2)
    ]
    (tmp_path / "export.zip").write_bytes(amplitude_zip({HOUR_10: events}))

    segment.load(tmp_path, fresh_warehouse)
    amplitude.load_archives(tmp_path / "export.zip", fresh_warehouse)

    assert query(
        fresh_warehouse,
        "select count(*) filter (where branch = ''), count(*) filter (where nested_tag = '')"
        " from raw_segment.build_started",
    ) == [(4, 3)]
    assert query(
        fresh_warehouse,
        "select count(*) from raw_segment.tracks where context_page_search = ''",
    ) == [(3,)]
    assert query(
        fresh_warehouse, "select count(*) from raw_amplitude.events where platform = ''"
    ) == [(2,)]


def test_a_rebuilt_warehouse_reloads_the_same_bucket_in_full(fresh_warehouse, tmp_path):
    write_segment_file(tmp_path, [segment_message(event="Build Started") for _ in range(3)])
    (tmp_path / "export.zip").write_bytes(amplitude_zip({HOUR_10: [amplitude_event()]}))
    segment.load(tmp_path, fresh_warehouse)
    amplitude.load_archives(tmp_path / "export.zip", fresh_warehouse)

    warehouse.drop_database(fresh_warehouse)
    warehouse.ensure_database(fresh_warehouse)
    again = segment.load(tmp_path, fresh_warehouse)
    amplitude_again = amplitude.load_archives(tmp_path / "export.zip", fresh_warehouse)

    assert (again.read, again.loaded) == (3, 3)
    assert (amplitude_again.read, amplitude_again.loaded) == (1, 1)
    assert count(fresh_warehouse, "raw_segment.build_started") == 3


def test_a_missing_working_folder_is_restored_from_the_warehouse(fresh_warehouse, tmp_path):
    write_segment_file(tmp_path, [segment_message(event="Build Started") for _ in range(3)])
    segment.load(tmp_path, fresh_warehouse)
    pipeline = loading.pipeline_for(segment.RAW_SCHEMA, fresh_warehouse)
    pipeline.drop()

    again = segment.load(tmp_path, fresh_warehouse)

    assert (again.read, again.loaded) == (0, 0)


def test_a_recreated_warehouse_database_gets_a_working_folder_of_its_own(fresh_warehouse):
    before = loading.working_folder_name(fresh_warehouse)
    warehouse.drop_database(fresh_warehouse)
    warehouse.ensure_database(fresh_warehouse)

    after = loading.working_folder_name(fresh_warehouse)

    assert before != after
    assert fresh_warehouse.database in after


def amplitude_env(server: AmplitudeExportServer, url: str | None = None) -> dict[str, str]:
    return {
        "AMPLITUDE_API_URL": url or server.url,
        "AMPLITUDE_API_KEY": "key",
        "AMPLITUDE_SECRET_KEY": "secret",
    }


def test_a_wrong_amplitude_url_answering_404_is_one_line_and_exit_2(fresh_warehouse):
    with AmplitudeExportServer({HOUR_10: [amplitude_event()]}) as server:
        wrong = server.url.replace("/api/2/export", "/api/2/exprt")
        result = run_cli(
            "load",
            "amplitude",
            "--start",
            "20240101T10",
            "--end",
            "20240101T11",
            target=fresh_warehouse,
            env=amplitude_env(server, wrong),
        )

    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert "404" in line and "AMPLITUDE_API_URL" in line


def test_a_long_range_with_no_data_in_any_hour_is_one_line_and_exit_2(fresh_warehouse):
    with AmplitudeExportServer({}) as server:
        result = run_cli(
            "load",
            "amplitude",
            "--start",
            "20240101T00",
            "--end",
            "20240110T23",
            target=fresh_warehouse,
            env=amplitude_env(server),
        )

    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert "no data" in line and "240 hours" in line


def test_a_short_range_without_data_is_a_quiet_hour(fresh_warehouse):
    with AmplitudeExportServer({}) as server:
        result = run_cli(
            "load",
            "amplitude",
            "--start",
            "20240101T00",
            "--end",
            "20240101T05",
            target=fresh_warehouse,
            env=amplitude_env(server),
        )

    assert result.returncode == 0, result.stderr
    assert "amplitude: read 0, loaded 0" in result.stdout


def test_a_planted_password_reaches_no_output_and_no_log(fresh_warehouse, tmp_path):
    # The embedded warehouse trusts local connections, so any password is accepted.
    planted = replace(fresh_warehouse, password="s3cretPW")
    write_five_broken_files(tmp_path / "export")
    logs_before = {path: path.stat().st_mtime for path in log_files()}
    outputs = [
        run_cli("load", "segment", str(tmp_path / "export"), target=planted),
        run_cli("load", "segment", str(tmp_path / "export"), "--verbose", target=planted),
        run_cli("load", "segment", str(tmp_path / "nowhere"), target=planted),
        run_cli("load", "amplitude", "--path", str(tmp_path / "none"), target=planted),
        run_cli("transform", "--", "--select", "nothing_at_all", target=planted),
        run_cli(
            "load",
            "production",
            "--source-url",
            planted.with_database("nowhere").url(),
            target=planted,
        ),
    ]

    for result in outputs:
        assert "s3cretPW" not in result.stdout + result.stderr
        assert "Traceback" not in result.stderr
    written = [path for path in log_files() if logs_before.get(path) != path.stat().st_mtime]
    assert written, "the loads wrote no state or log file: the check proves nothing"
    for path in written:
        assert b"s3cretPW" not in path.read_bytes(), path


def log_files() -> list[Path]:
    roots = [loading.PIPELINES_DIR, warehouse.PROJECT_ROOT / "logs"]
    return [path for root in roots if root.exists() for path in root.rglob("*") if path.is_file()]


def test_wide_and_long_named_properties_still_load(fresh_warehouse, tmp_path):
    spread = [
        segment_message(
            message_id=f"w{n}",
            event="Wide Event",
            properties={f"key_{n}_{k}": k for k in range(20)},
        )
        for n in range(100)
    ]
    one_wide = segment_message(
        message_id="one-wide", event="Wide Event", properties={f"p{k}": k for k in range(2000)}
    )
    long_a, long_b = "a" * 70 + "_first", "a" * 70 + "_second"
    long_names = segment_message(
        message_id="long", event="Wide Event", properties={long_a: 1, long_b: "two"}
    )
    write_segment_file(tmp_path, [*spread, one_wide, long_names])

    report = segment.load(tmp_path, fresh_warehouse)

    assert (report.loaded, report.rejected) == (102, 0)
    assert count(fresh_warehouse, "raw_segment.wide_event") == 102
    [(properties,)] = query(
        fresh_warehouse, "select properties from raw_segment.tracks where id = 'one-wide'"
    )
    assert len(properties) == 2000
    [(long_properties,)] = query(
        fresh_warehouse, "select properties from raw_segment.tracks where id = 'long'"
    )
    assert long_properties == {long_a: 1, long_b: "two"}
    [(columns,)] = query(
        fresh_warehouse,
        "select count(*) from information_schema.columns where table_schema = 'raw_segment'"
        " and table_name = 'wide_event'",
    )
    assert columns <= loading.MAX_TABLE_COLUMNS
