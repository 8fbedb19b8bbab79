"""The columnar path of the JSON-lines loaders gives exactly the rows, columns and kinds of
the message-by-message path, and falls back to it whenever values do not fit columns."""

from __future__ import annotations

import dataclasses
import io
import json
import multiprocessing
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from typing import Any
from unittest import mock

import dlt
import pyarrow as pa
import pytest
from loader_fixtures import amplitude_event, segment_message

from pipelines.loading import (
    REJECTED_TABLE,
    ChunkWorkers,
    JsonLinesFormat,
    PropertyPaths,
    ReadCounter,
    TableBatches,
    json_lines_items,
    reading,
    start_chunk_workers,
)
from pipelines.loading import timestamp_column as to_timestamps
from pipelines.sources import amplitude, segment

SEGMENT_MESSAGES = [
    segment_message(
        "track",
        "t1",
        event="Project Created",
        properties={
            "org_id": "7",
            "repo": {"provider": "github", "stars": 3},
            "tags": ["a", "b"],
            "steps": [{"name": "build"}, {"seconds": 3}],
            "ratio": 1.5,
        },
        context={"library": {"name": "analytics.js"}, "groupId": "7", "locale": None},
    ),
    segment_message(
        "track",
        "t2",
        user_id=None,
        event="Project Created",
        properties={"org_id": "8", "ratio": 0.5, "userId": "9", "plan": None},
        context={"library": {"name": "analytics.js"}, "page": {"path": "/new"}},
        timestamp="2024-01-01 10:00:00.5",
    ),
    segment_message("track", "t3", event="Build Started", properties=None),
    segment_message("track", "t4", user_id="", event="Build Started", properties={}),
    segment_message("identify", "i1", traits={"email": "a@x.io", "address": {"city": "Oslo"}}),
    segment_message("identify", "i2", user_id=None, traits={"email": "b@x.io"}),
    segment_message("page", "p1", name="Pricing", properties={"path": "/pricing"}),
    segment_message("screen", "s1", name=None, properties=None),
    segment_message("group", "g1", groupId="7", traits={"name": "Acme"}),
    segment_message("alias", "a1", previousId="anon-1"),
]


def loaded_rows(
    line_format: JsonLinesFormat,
    messages: list[Any],
    known_kinds: dict[str, dict[str, str]] | None = None,
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, dict[str, str]]]:
    """Rows per table (sorted, nulls left out, timestamps as instants) and column kinds."""
    batches = TableBatches(known_kinds or {}, "raw_test")
    lines = io.BytesIO(b"".join(json.dumps(message).encode() + b"\n" for message in messages))
    tables: dict[str, list[dict[str, Any]]] = {}
    items = [*json_lines_items(line_format, lines, "file.gz", batches, ReadCounter())]
    for item in [*items, *batches.flush_all()]:
        kinds = batches.kinds[item.meta.hints["table_name"]]
        rows = tables.setdefault(item.meta.hints["table_name"], [])
        for row in item.data.to_pylist():
            rows.append(
                {
                    name: datetime.fromisoformat(value) if kinds[name] == "timestamp" else value
                    for name, value in row.items()
                    if value is not None
                }
            )
    for table, rows in tables.items():
        key = "id" if "id" in batches.kinds[table] else "insert_id"
        rows.sort(key=lambda row, key=key: row[key])
    return tables, batches.kinds


def message_by_message(line_format: JsonLinesFormat) -> JsonLinesFormat:
    return dataclasses.replace(line_format, is_plain=lambda message: False)


def columns_only(line_format: JsonLinesFormat) -> JsonLinesFormat:
    """The format with the message-by-message path taken away: every line must fit columns."""

    def no_fallback(message: Any, file: str) -> Any:
        raise AssertionError(f"took the message-by-message path for {message}")

    return dataclasses.replace(line_format, message_rows=no_fallback)


def test_segment_columns_equal_the_message_by_message_rows():
    columnar_paths, reference_paths = PropertyPaths(), PropertyPaths()
    columnar, columnar_kinds = loaded_rows(
        columns_only(segment.segment_line_format(columnar_paths)), SEGMENT_MESSAGES
    )
    reference, reference_kinds = loaded_rows(
        message_by_message(segment.segment_line_format(reference_paths)),
        SEGMENT_MESSAGES,
    )

    assert columnar == reference
    assert columnar_kinds == reference_kinds
    # Each track is written once: its event's table is a view over `tracks`.
    assert set(columnar) == {
        "tracks",
        "identifies",
        "users",
        "pages",
        "screens",
        "groups",
        "aliases",
    }
    assert columnar_paths.events == reference_paths.events
    assert columnar_paths.kinds("project_created") == [
        (("org_id",), "text"),
        (("repo", "provider"), "text"),
        (("repo", "stars"), "bigint"),
        (("tags",), "json"),
        (("steps",), "json"),
        (("ratio",), "double"),
        (("userId",), "text"),
    ]
    assert columnar_paths.kinds("build_started") == []
    assert [row["id"] for row in columnar["users"]] == ["1"]


def test_amplitude_columns_equal_the_message_by_message_rows():
    events = [
        amplitude_event("e1", data={"path": "/x"}, plan={}),
        amplitude_event("e2", user_id=None, event_properties={"org_id": "8", "list": [1, 2]}),
        amplitude_event("e3", groups={}, session_id=-1, event_time="2024-01-01 10:00:00"),
    ]

    columnar, columnar_kinds = loaded_rows(columns_only(amplitude.LINE_FORMAT), events)
    reference, reference_kinds = loaded_rows(message_by_message(amplitude.LINE_FORMAT), events)

    assert columnar == reference
    assert columnar_kinds == reference_kinds
    assert columnar["events"][0]["data"] == '{"path":"/x"}'


def test_a_chunk_whose_values_do_not_fit_columns_loads_message_by_message():
    messages = [
        segment_message(message_id="b1", event="Build Failed", properties={"code": 1}),
        segment_message(message_id="b2", event="Build Failed", properties={"code": "E42"}),
        segment_message(message_id="b3", event="Build Failed", properties={"big": 2**70}),
    ]

    paths = PropertyPaths()
    columnar, _ = loaded_rows(segment.segment_line_format(paths), messages)
    reference, _ = loaded_rows(message_by_message(segment.segment_line_format()), messages)

    assert columnar == reference
    assert paths.kinds("build_failed") == [
        (("code",), "bigint"),
        (("code",), "text"),
        (("big",), "double"),  # orjson reads an integer beyond 64 bits as a float
    ]


def test_utc_timestamps_end_in_z():
    texts = to_timestamps(["2024-01-01T10:00:00.000Z", "2024-01-01 10:00:00.5", None])

    assert texts.kind == "timestamp"
    assert texts.values.to_pylist() == [
        "2024-01-01T10:00:00.000Z",
        "2024-01-01 10:00:00.5Z",
        None,
    ]


@pytest.mark.parametrize(
    "value",
    [
        "yesterday",
        "2024-02-30T10:00:00Z",
        "2024-01-01",
        "2024-01-01T10:00:00.1234567Z",
        "2024-01-01T11:00:00+01:00",
        1704067200,
    ],
)
def test_timestamps_arrow_or_postgres_might_read_differently_do_not_fit_columns(value):
    with pytest.raises(pa.ArrowException):
        to_timestamps(["2024-01-01T10:00:00Z", value])


def _line(message: dict[str, Any], **raw_fields: str) -> bytes:
    """A message's JSON line with `raw_fields` spliced in as written (JSON a serializer
    would never write: duplicate keys, escapes, numbers out of range)."""
    text = json.dumps(message)[:-1]
    return (
        text + "".join(f', "{key}": {value}' for key, value in raw_fields.items()) + "}"
    ).encode()


def rows_and_rejections(
    line_format: JsonLinesFormat, lines: list[bytes], workers: ChunkWorkers | None = None
) -> dict[str, Any]:
    """Rows per table (sorted by key, nulls left out, timestamps as instants), the
    `_rejected` rows (their random `_dlt_id` aside), the counts and the column kinds (in
    the order the columns came)."""
    batches, counter = TableBatches({}, "raw_test"), ReadCounter()
    stream = io.BytesIO(b"\n".join(lines) + b"\n")
    with mock.patch.object(dlt.current, "load_package_state", lambda: {"load_id": "1"}):
        items = [
            *json_lines_items(line_format, stream, "file.gz", batches, counter, workers),
            *batches.flush_all(),
        ]
    tables: dict[str, list[dict[str, Any]]] = {}
    rejected: list[dict[str, Any]] = []
    for item in items:
        table = item.meta.hints["table_name"]
        if table == REJECTED_TABLE:
            rejected.extend(
                {name: value for name, value in row.items() if name != "_dlt_id"}
                for row in item.data.to_pylist()
            )
            continue
        kinds = batches.kinds[table]
        tables.setdefault(table, []).extend(
            {
                name: datetime.fromisoformat(value) if kinds[name] == "timestamp" else value
                for name, value in row.items()
                if value is not None
            }
            for row in item.data.to_pylist()
        )
    for table, rows in tables.items():
        key = "id" if "id" in batches.kinds[table] else "insert_id"
        rows.sort(key=lambda row, key=key: row[key])
    return {
        "tables": tables,
        "rejected": sorted(rejected, key=lambda row: row["line_number"]),
        "counts": (counter.read, counter.rejected),
        "kinds": {table: list(kinds.items()) for table, kinds in batches.kinds.items()},
    }


def columns_counted(line_format: JsonLinesFormat, calls: list[int]) -> JsonLinesFormat:
    """The format, counting in `calls` the messages that went down the columnar path."""

    def counted(messages: list[Any], *arguments: Any) -> Any:
        calls.append(len(messages))
        return line_format.plain_columns(messages, *arguments)

    return dataclasses.replace(line_format, plain_columns=counted)


# Lines of every sort a real export holds next to ordinary ones: values at the edges of
# JSON and of the types (integers beyond 64 bits, which orjson reads as floats; 2**64 - 1,
# which it keeps), duplicate keys (the last wins), escapes of any script and surrogate
# pairs, and lines that cannot load: a number beyond a double, a lone surrogate, a cut
# line, bytes that are no UTF-8, a NUL, a list, nothing.
def tricky_segment_lines() -> list[bytes]:
    def track(message_id: str, **fields: Any) -> dict[str, Any]:
        return segment_message("track", message_id, event="Build Failed", **fields)

    return [
        json.dumps(track("ok1", properties={"code": 1, "org_id": "7"})).encode(),
        _line(track("big"), properties='{"code": 123456789012345678901234567890}'),
        _line(track("u64"), properties='{"code": 18446744073709551615}'),
        _line(track("dup1"), messageId='"dup2"', properties='{"code": 1, "code": 2}'),
        _line(
            track("esc"),
            event='"\\u8cfc\\u8cb7\\u5b8c\\u6210"',
            properties='{"e": "\\ud83d\\ude00"}',
        ),
        _line(track("inf"), properties='{"code": 1e400}'),
        _line(track("lone"), properties='{"e": "\\ud800"}'),
        _line(track("nul"), properties='{"e": "a\\u0000b"}'),
        b'{"type": "track", "messageId": "cut", "event": "Build',
        b'{"type": "track", "messageId": "bytes", "event": "\xff\xfe"}',
        b"",
        b"[1, 2]",
        json.dumps(track("ok2", user_id="", properties={"code": 2.5, "org_id": ""})).encode(),
        _line(segment_message("identify", "id1", traits={"n": 10**20}), userId="12"),
    ]


def tricky_amplitude_lines() -> list[bytes]:
    return [
        json.dumps(amplitude_event("ok1")).encode(),
        _line(amplitude_event("big"), event_properties='{"n": 123456789012345678901234567890}'),
        _line(amplitude_event("dup"), event_type='"Build Failed"', user_id="12"),
        _line(amplitude_event("esc"), event_type='"\\u8cfc\\u8cb7"', country='"\\ud83d\\ude00"'),
        json.dumps(amplitude_event(None, **{"$insert_id": None, "uuid": "u-1"})).encode(),
        _line(amplitude_event("inf"), event_properties='{"n": -1e400}'),
        _line(amplitude_event("lone"), country='"\\udfff"'),
        b'{"$insert_id": "cut", "event_type": "Bu',
        b"\xef\xbb\xbf{}",
        json.dumps(amplitude_event("ok2", user_id="", device_id=None, amplitude_id=7)).encode(),
        # As many fields as the others, one of them another: the columns take every field.
        json.dumps(
            {
                **{k: v for k, v in amplitude_event("swap").items() if k != "os_name"},
                "library": "amplitude-js",
            }
        ).encode(),
    ]


@pytest.mark.parametrize(
    ("line_format", "lines", "bad_lines", "columnar_lines"),
    [
        (segment.segment_line_format(), tricky_segment_lines(), 6, 6),
        (amplitude.LINE_FORMAT, tricky_amplitude_lines(), 4, 6),
    ],
    ids=["segment", "amplitude"],
)
def test_a_block_with_bad_lines_and_tricky_values_loads_as_it_does_line_by_line(
    line_format, lines, bad_lines, columnar_lines
):
    calls: list[int] = []
    block = rows_and_rejections(columns_counted(line_format, calls), lines)
    reference = rows_and_rejections(message_by_message(line_format), lines)

    assert block == reference
    # The ordinary lines took the columnar path (a numeric userId or a null $insert_id
    # takes the other path by design).
    assert sum(calls) == columnar_lines
    assert len(block["rejected"]) == bad_lines
    cut = next(row for row in block["rejected"] if b"cut" in row["raw_text"].encode())
    assert cut["raw_text"].encode() == lines[cut["line_number"] - 1]


def test_chunks_turned_into_rows_by_worker_processes_load_as_in_one_process(monkeypatch):
    # Chunks of three lines, so the workers get many; a column's kinds change from chunk to
    # chunk (an integer `code`, then a text one), so the order the chunks are added matters.
    monkeypatch.setattr(reading, "CHUNK_LINES", 3)
    lines = [
        *tricky_segment_lines(),
        *(
            json.dumps(
                segment_message(
                    "track",
                    f"n{number}",
                    event=f"Event {number % 4}",
                    properties={"code": number if number < 20 else f"E{number}", f"k{number}": 1},
                )
            ).encode()
            for number in range(40)
        ),
    ]
    paths, reference_paths = PropertyPaths(), PropertyPaths()
    line_format = segment.segment_line_format(paths)

    with start_chunk_workers(line_format) as workers:
        assert workers is not None, "the tests run on two cores or more"
        in_workers = rows_and_rejections(line_format, lines, workers)
    reference = rows_and_rejections(segment.segment_line_format(reference_paths), lines)

    assert in_workers == reference
    assert in_workers["counts"] == (53, 6)
    assert paths.events == reference_paths.events
    assert list(paths.events) == list(reference_paths.events)


def test_property_paths_merged_from_workers_keep_the_limit_and_the_order_of_one_process():
    messages = [{"a": 1, "b": {"c": "x"}}, {"a": "one", "d": 2.5}, {"e": 1, "a": [1]}]
    alone = PropertyPaths(max_paths=3)
    for properties in messages:
        alone.add("event", properties)
    merged, worker = PropertyPaths(max_paths=3), PropertyPaths(max_paths=None)
    for properties in messages:
        worker.add("event", properties)
        merged.merge(worker.take())

    assert merged.events == alone.events
    assert merged.kinds("event") == [
        (("a",), "bigint"),
        (("a",), "text"),
        (("a",), "json"),
        (("b", "c"), "text"),
        (("d",), "double"),
    ]


def test_a_chunk_worker_that_dies_fails_the_load_instead_of_leaving_it_waiting():
    lines = [json.dumps(amplitude_event(f"e{number}")).encode() for number in range(10)]
    with start_chunk_workers(amplitude.LINE_FORMAT) as workers:
        assert workers is not None, "the tests run on two cores or more"
        results = workers.rows((1, first, lines, "file.gz") for first in range(1, 10_000, 10))
        assert next(results).read == 10
        for worker in multiprocessing.active_children():
            worker.kill()
        with pytest.raises(BrokenProcessPool):
            list(results)
