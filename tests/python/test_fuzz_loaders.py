"""Fuzzing the line reader and both message parsers (hypothesis): random bytes, invalid
UTF-8, NUL, BOM, CRLF, lone surrogates, `1e400`, `2**64`, deep nesting, duplicate keys,
names in any script, and gzip streams cut anywhere.

Invariants: no exception escapes; every line read is loaded or rejected (`read` = rows of
the message tables + `rejected`, duplicates being the warehouse's business); a rejected
line is kept byte for byte; nothing PostgreSQL cannot store (NUL) reaches a row; the same
input gives the same rows. `make test` runs a deterministic profile (`ci`, well under 60 s);
`make fuzz` runs the `fuzz` profile (random, long). A finding becomes a case in
`REGRESSION_LINES`.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import os
from typing import Any
from unittest import mock

import dlt
import orjson
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines import loading
from pipelines.loading import GunzipStream, JsonLinesFormat, ReadCounter, TableBatches
from pipelines.sources import amplitude, segment

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "fuzz",
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "20000")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

MESSAGE_TABLES = {segment.SOURCE: set(segment.MESSAGE_TABLES), amplitude.SOURCE: {"events"}}
FORMATS = [segment.segment_line_format(), amplitude.LINE_FORMAT]

# Findings of `make fuzz` and the list, kept as fixed cases.
REGRESSION_LINES = [
    b'{"type": "track", "messageId": "nul\x00", "event": "X", "userId": "1"}',
    b'{"type": "track", "messageId": "m", "event": "X", "userId": "\\u0000"}',
    b'{"type": "track", "messageId": "m", "event": "X", '
    b'"userId": "1", "properties": {"\\u0000": 1}}',
    b'{"$insert_id": "a", "event_properties": {"k": "\\u0000"}}',
    b'\xef\xbb\xbf{"type": "track", "messageId": "bom", "event": "X", "userId": "1"}',
    b'{"type": "track", "messageId": "crlf", "event": "X", "userId": "1"}\r',
    b'{"type": "track", "messageId": "s", "event": "\\ud800", "userId": "1"}',
    b'{"type": "track", "messageId": "inf", "event": "X", '
    b'"userId": "1", "properties": {"n": 1e400}}',
    b'{"type": "track", "messageId": "big", "event": "X", "userId": 18446744073709551616}',
    b'{"$insert_id": "big", "amplitude_id": 18446744073709551615, '
    b'"session_id": 9223372036854775808}',
    b'{"type": "track", "messageId": "dup", "messageId": "dup2", "event": "X", "userId": "1"}',
    b'{"type": "track", "messageId": "ja", "event": "\xe8\xb3\xbc\xe8\xb2\xb7", "userId": "1"}',
    b"[" * 10_000 + b"]" * 10_000,
    b'{"type": "identify", "messageId": "deep", "userId": "1", "traits": '
    + b'{"a": ' * 200
    + b"1"
    + b"}" * 200
    + b"}",
    b'{"type": "track", "messageId": "t", "event": "X", '
    b'"userId": "1", "timestamp": "2024-02-30T00:00:00Z"}',
    b'{"$insert_id": null, "uuid": null}',
    b'{"$insert_id": null, "uuid": 42, "event_time": "2024-01-01 10:00:00.123456"}',
    b"\xff\xfe\x00\x01",
    b"",
    b"   ",
    b"null",
    b'"just a string"',
]


def run_lines(line_format: JsonLinesFormat, stream: Any) -> tuple[dict, list, ReadCounter]:
    """The rows per table (as Python values, in order) and the rejections of one stream."""
    batches, counter = TableBatches({}, "raw_fuzz"), ReadCounter()
    tables: dict[str, list[dict]] = {}
    rejections: list[dict] = []
    with mock.patch.object(dlt.current, "load_package_state", lambda: {"load_id": "1"}):
        items = [
            *loading.json_lines_items(line_format, stream, "file.gz", batches, counter),
            *batches.flush_all(),
        ]
    for item in items:
        table = item.meta.hints["table_name"]
        rows = item.data.to_pylist() if isinstance(item.data, pa.Table) else item.data
        if table == loading.REJECTED_TABLE:
            # `_dlt_id` is a fresh random id each time, like dlt's own.
            rejections.extend({k: v for k, v in row.items() if k != "_dlt_id"} for row in rows)
        else:
            tables.setdefault(table, []).extend(rows)
    return tables, rejections, counter


def check_invariants(line_format: JsonLinesFormat, data: bytes | None, stream: Any) -> dict:
    """Run `stream` through `line_format` and check the invariants; `data` (the stream's
    decompressed bytes, when known) lets each rejected line be compared byte for byte."""
    tables, rejections, counter = run_lines(line_format, stream)
    accepted = sum(
        len(rows) for table, rows in tables.items() if table in MESSAGE_TABLES[line_format.source]
    )
    assert counter.read == accepted + counter.rejected
    assert len(rejections) == counter.rejected
    lines = data.removeprefix(loading.UTF8_BOM).split(b"\n") if data is not None else None
    for rejection in rejections:
        assert "\x00" not in rejection["raw_text"] and "\x00" not in rejection["error"]
        raw = rejection["raw_base64"]
        kept = base64.b64decode(raw) if raw is not None else rejection["raw_text"].encode()
        if (
            lines is not None
            and rejection["line_number"] > 0
            and not rejection["error"].startswith("unreadable")
        ):
            assert kept == lines[rejection["line_number"] - 1]
    for rows in tables.values():
        for row in rows:
            for value in row.values():
                assert not (isinstance(value, str) and "\x00" in value)
    return {"tables": tables, "rejections": rejections}


def json_values() -> st.SearchStrategy:
    scalars = (
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**70), max_value=2**70)
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=12)
        | st.sampled_from(
            ["", "\x00", "購買完成", "2024-01-01T10:00:00Z", "2024-01-01 10:00:00.5", "2024-13-45"]
        )
    )
    keys = st.text(max_size=8) | st.sampled_from(["", "org_id", "a" * 70, "金額", "userId", "$"])
    return st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=3) | st.dictionaries(keys, children, max_size=4)
        ),
        max_leaves=12,
    )


def typical(values: list[Any]) -> st.SearchStrategy:
    return st.sampled_from(values) | json_values()


SEGMENT_MESSAGES = st.fixed_dictionaries(
    {"type": typical(["track", "identify", "page", "screen", "group", "alias", "launch"])},
    optional={
        "messageId": typical(["m1", "m2", "m3", ""]),
        "userId": typical(["1", "2", "", 7]),
        "anonymousId": typical(["anon-1", None]),
        "event": typical(["Build Started", "購買完成", "", "Plan Upgraded"]),
        "properties": json_values(),
        "traits": json_values(),
        "context": json_values(),
        "receivedAt": typical(["2024-01-01T10:00:00Z", "2024-01-01T10:00:00.123+02:00", None]),
        "timestamp": typical(["2024-01-01T10:00:00.000Z", "yesterday"]),
        "name": typical(["Pricing", None]),
        "groupId": typical(["7", 7]),
        "previousId": typical(["anon-1"]),
    },
)
AMPLITUDE_EVENTS = st.fixed_dictionaries(
    {},
    optional={
        "$insert_id": typical(["a1", "a2", None, ""]),
        "uuid": typical(["u1", "u2", None, 3]),
        "event_type": typical(["Build Succeeded", "購買完成", ""]),
        "user_id": typical(["1", 1, None]),
        "amplitude_id": typical([123456789012, 2**64 - 1]),
        "event_time": typical(["2024-03-01 14:05:09.123456", "2024-03-01T14:05:09Z", "later"]),
        "server_upload_time": typical(["2024-03-01 14:05:09.123456", None]),
        "event_properties": json_values(),
        "groups": json_values(),
        "session_id": typical([1704103200000, -1, 2**63]),
    },
)


def encoded(value: Any, ascii_only: bool) -> bytes:
    return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


def export_lines(messages: st.SearchStrategy) -> st.SearchStrategy:
    line = (
        st.builds(encoded, messages, st.booleans())
        | st.binary(max_size=40)
        | st.sampled_from(REGRESSION_LINES)
    )
    return st.tuples(st.lists(line, max_size=25), st.sampled_from([b"\n", b"\r\n"]))


@given(export_lines(SEGMENT_MESSAGES))
def test_segment_lines_never_raise_and_every_line_is_counted_once(lines_and_separator):
    lines, separator = lines_and_separator
    data = b"".join(line.replace(b"\n", b" ") + separator for line in lines)
    first = check_invariants(segment.segment_line_format(), data, io.BytesIO(data))
    assert check_invariants(segment.segment_line_format(), data, io.BytesIO(data)) == first


@given(export_lines(AMPLITUDE_EVENTS))
def test_amplitude_lines_never_raise_and_every_line_is_counted_once(lines_and_separator):
    lines, separator = lines_and_separator
    data = b"".join(line.replace(b"\n", b" ") + separator for line in lines)
    first = check_invariants(amplitude.LINE_FORMAT, data, io.BytesIO(data))
    assert check_invariants(amplitude.LINE_FORMAT, data, io.BytesIO(data)) == first


@given(st.binary(max_size=300), st.sampled_from(FORMATS))
def test_random_bytes_through_gunzip_never_raise(data, line_format):
    check_invariants(line_format, None, GunzipStream(io.BytesIO(data)))


CLEAN_EXPORT = b"".join(
    orjson.dumps(message) + b"\n"
    for message in [
        {"type": "track", "messageId": "t1", "event": "Build Started", "userId": "1"},
        {"$insert_id": "a1", "event_type": "Build Started", "user_id": "1"},
        {"type": "identify", "messageId": "i1", "userId": "1", "traits": {"plan": "pro"}},
    ]
    * 3
)


@given(
    st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), min_size=1, max_size=4),
    st.sampled_from(FORMATS),
)
def test_a_corrupted_gzip_stream_never_raises(edits, line_format):
    corrupted = bytearray(gzip.compress(CLEAN_EXPORT, mtime=0))
    for position, value in edits:
        corrupted[position % len(corrupted)] = value
    check_invariants(line_format, None, GunzipStream(io.BytesIO(bytes(corrupted))))


def test_a_gzip_stream_cut_at_every_offset_loads_its_whole_lines():
    messages = [
        {
            "type": "track",
            "messageId": f"m{n}",
            "event": "Build Started",
            "userId": str(n),
            "properties": {"n": n, "text": f"{n * 7919:x}" * 3},
        }
        for n in range(6)
    ]
    data = b"".join(orjson.dumps(message) + b"\n" for message in messages)
    whole = gzip.compress(data, mtime=0)
    for offset in range(len(whole) + 1):
        stream = GunzipStream(io.BytesIO(whole[:offset]))
        result = check_invariants(segment.segment_line_format(), data, stream)
        loaded = len(result["tables"].get("tracks", []))
        if offset == len(whole):
            assert (loaded, result["rejections"]) == (6, [])
        else:
            assert loaded <= 6 and len(result["rejections"]) <= 1


def test_every_regression_line_alone_and_together_keeps_the_invariants():
    for line_format in FORMATS:
        for line in REGRESSION_LINES:
            check_invariants(line_format, line + b"\n", io.BytesIO(line + b"\n"))
        together = b"\n".join(REGRESSION_LINES) + b"\n"
        check_invariants(line_format, together, io.BytesIO(together))


def test_a_10_mb_line_loads():
    big = {
        "type": "track",
        "messageId": "big",
        "event": "X",
        "userId": "1",
        "properties": {"text": "x" * 10_000_000},
    }
    data = orjson.dumps(big) + b"\n"

    result = check_invariants(segment.segment_line_format(), data, io.BytesIO(data))

    assert len(result["tables"]["tracks"]) == 1


def test_a_file_of_bad_lines_is_quarantined_in_bounded_batches():
    data = b"not json\n" * 12_000
    batches, counter = TableBatches({}, "raw_fuzz"), ReadCounter()

    with mock.patch.object(dlt.current, "load_package_state", lambda: {"load_id": "1"}):
        items = list(
            loading.json_lines_items(
                segment.segment_line_format(), io.BytesIO(data), "f", batches, counter
            )
        )

    sizes = [item.data.num_rows for item in items]
    assert sum(sizes) == counter.rejected == 12_000
    assert max(sizes) <= 2 * loading.json_lines.REJECTIONS_HELD
