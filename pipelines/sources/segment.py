"""dlt source for Segment exports in the S3 destination layout, landing in the shape of
Segment Warehouses.

Input: `segment-logs/<source-id>/<received-day-epoch-ms>/<file>.gz`, gzipped JSON lines of
Segment Spec messages, in a local folder or under an `s3://` prefix (credentials the dlt
way: `SOURCES__FILESYSTEM__CREDENTIALS__*` in the environment or `.dlt/secrets.toml`).
Incremental by file: a file already loaded (same URL, same size) is not read again.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dlt
import orjson
from dlt.sources.filesystem import filesystem

from pipelines import warehouse
from pipelines.errors import UserError
from pipelines.loading import (
    LoadReport,
    ReadCounter,
    Rejection,
    TableBatches,
    TableHints,
    rejected_rows,
    run_counted,
    snake_case,
)

SOURCE = "segment"
RAW_SCHEMA = "raw_segment"
TABLE_BY_TYPE = {
    "track": "tracks",
    "identify": "identifies",
    "page": "pages",
    "screen": "screens",
    "group": "groups",
    "alias": "aliases",
}
MESSAGE_TABLES = list(TABLE_BY_TYPE.values())
TIMESTAMP_FIELDS = {
    "receivedAt": "received_at",
    "sentAt": "sent_at",
    "timestamp": "timestamp",
    "originalTimestamp": "original_timestamp",
}
COMMON_KINDS = {
    "id": "text",
    "anonymous_id": "text",
    "user_id": "text",
    "received_at": "timestamp",
    "sent_at": "timestamp",
    "timestamp": "timestamp",
    "original_timestamp": "timestamp",
    "_source_file": "text",
}
TRACK_KINDS = {**COMMON_KINDS, "event": "text", "event_text": "text"}
HINTS_BY_TABLE = {
    "tracks": TableHints("id", {**TRACK_KINDS, "properties": "json"}),
    "identifies": TableHints("id", {**COMMON_KINDS, "traits": "json"}),
    "users": TableHints("id", {"id": "text", "received_at": "timestamp"}, "received_at"),
    "pages": TableHints("id", {**COMMON_KINDS, "name": "text", "properties": "json"}),
    "screens": TableHints("id", {**COMMON_KINDS, "name": "text", "properties": "json"}),
    "groups": TableHints("id", {**COMMON_KINDS, "group_id": "text", "traits": "json"}),
    "aliases": TableHints("id", {**COMMON_KINDS, "previous_id": "text"}),
}
EVENT_TABLE_HINTS = TableHints("id", TRACK_KINDS)


def export_url(path: str | Path) -> str:
    """An `s3://…` prefix as given, a local folder as an absolute path (it must exist)."""
    text = str(path)
    if "://" in text:
        return text.rstrip("/")
    folder = Path(text).expanduser().resolve()
    if not folder.is_dir():
        raise UserError(f"no Segment export folder at {path}")
    return str(folder)


@dlt.source(name=SOURCE)
def segment_export(
    bucket_url: str,
    known_kinds: Any = None,
    counter: Any = None,
):
    """Every message of the export not loaded yet, one table per message type and event."""
    files = filesystem(bucket_url=str(bucket_url), file_glob="**/*.gz")
    return files | segment_messages(known_kinds or {}, counter or ReadCounter())


@dlt.transformer(name="segment_messages", write_disposition="merge", primary_key="id")
def segment_messages(
    files: list[Any], known_kinds: dict[str, dict[str, str]], counter: ReadCounter
) -> Iterator[Any]:
    loaded_files: dict[str, int] = dlt.current.resource_state().setdefault("loaded_files", {})
    batches = TableBatches(known_kinds)
    for file in files:
        url, size = file["file_url"], file["size_in_bytes"]
        if loaded_files.get(url) == size:
            continue
        rejections: list[Rejection] = []
        with file.open(mode="rb", compression="disable") as raw:
            for table, row, hints in _file_rows(raw, url, counter, rejections):
                yield from batches.add(table, row, hints)
        if rejections:
            yield rejected_rows(rejections)
        loaded_files[url] = size
        counter.file_done()
    yield from batches.flush_all()


def _file_rows(
    raw: Any, url: str, counter: ReadCounter, rejections: list[Rejection]
) -> Iterator[tuple[str, dict[str, Any], TableHints]]:
    line_number = 0
    try:
        with gzip.open(raw, "rb") as lines:
            for line_number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                counter.read += 1
                try:
                    yield from message_rows(orjson.loads(line), url)
                except (ValueError, TypeError) as error:
                    counter.rejected += 1
                    rejections.append(_rejection(url, line_number, line, error))
    except (OSError, EOFError) as error:
        counter.read += 1
        counter.rejected += 1
        rejections.append(
            _rejection(url, line_number + 1, b"", f"unreadable gzip after this line: {error}")
        )


def _rejection(url: str, line_number: int, line: bytes, error: Any) -> Rejection:
    return Rejection(
        source=SOURCE,
        file=url,
        line_number=line_number,
        raw_text=line.decode("utf-8", errors="replace").rstrip("\n"),
        error=str(error),
    )


def message_rows(message: Any, source_file: str) -> Iterator[tuple[str, dict, TableHints]]:
    """The rows one Segment message lands as; a malformed message raises ValueError."""
    if not isinstance(message, dict):
        raise ValueError("not a JSON object")
    message_type = message.get("type")
    table = TABLE_BY_TYPE.get(message_type)  # type: ignore[arg-type]
    if table is None:
        raise ValueError(f"unknown message type {message_type!r}")
    common = _common_columns(message, source_file)
    if message_type == "track":
        yield from _track_rows(message, common)
        return
    if message_type == "identify":
        yield from _identify_rows(message, common)
        return
    row = dict(common)
    if message_type in ("page", "screen"):
        row.update(name=message.get("name"), properties=_object(message, "properties"))
    elif message_type == "group":
        row.update(group_id=_text(message.get("groupId")), traits=_object(message, "traits"))
    else:
        row.update(previous_id=_text(message.get("previousId")))
    yield table, row, HINTS_BY_TABLE[table]


def _common_columns(message: dict, source_file: str) -> dict[str, Any]:
    message_id = message.get("messageId")
    if not isinstance(message_id, str) or not message_id:
        raise ValueError("missing messageId")
    user_id, anonymous_id = _text(message.get("userId")), _text(message.get("anonymousId"))
    if user_id is None and anonymous_id is None:
        raise ValueError("neither userId nor anonymousId")
    row: dict[str, Any] = {"id": message_id, "anonymous_id": anonymous_id, "user_id": user_id}
    for field, column in TIMESTAMP_FIELDS.items():
        row[column] = _timestamp(message.get(field), field)
    context = message.get("context")
    if isinstance(context, dict):
        row.update(flatten(context, "context"))
    row["_source_file"] = source_file
    return row


def _track_rows(message: dict, common: dict) -> Iterator[tuple[str, dict, TableHints]]:
    event_text = message.get("event")
    if not isinstance(event_text, str) or not snake_case(event_text):
        raise ValueError("track without an event name")
    properties = _object(message, "properties")
    event = snake_case(event_text)
    track = {**common, "event": event, "event_text": event_text}
    yield "tracks", {**track, "properties": properties}, HINTS_BY_TABLE["tracks"]
    yield event, {**flatten(properties, ""), **track}, EVENT_TABLE_HINTS


def _identify_rows(message: dict, common: dict) -> Iterator[tuple[str, dict, TableHints]]:
    traits = _object(message, "traits")
    trait_columns = flatten(traits, "")
    yield "identifies", {**trait_columns, **common, "traits": traits}, HINTS_BY_TABLE["identifies"]
    if common["user_id"] is not None:
        user = {**trait_columns, "id": common["user_id"], "received_at": common["received_at"]}
        yield "users", user, HINTS_BY_TABLE["users"]


def flatten(values: dict[str, Any], prefix: str) -> dict[str, Any]:
    """Nested objects become `<prefix>_<key>_<subkey>` columns (Segment Warehouses naming);
    lists stay whole, as JSON."""
    columns: dict[str, Any] = {}
    for key, value in values.items():
        name = snake_case(f"{prefix}_{key}" if prefix else key)
        if not name:
            continue
        if isinstance(value, dict):
            columns.update(flatten(value, name))
        else:
            columns[name] = value
    return columns


def _object(message: dict, field: str) -> dict:
    value = message.get(field)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{field} is not an object")
    return value


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else str(value)


def _timestamp(value: Any, field: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(f"{field} is not an ISO 8601 timestamp: {value!r}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def load(path: str | Path, target: warehouse.Connection) -> LoadReport:
    """Load the files of the export at `path` that are not loaded yet into `raw_segment`."""
    url = export_url(path)
    return run_counted(
        SOURCE,
        lambda known_kinds, counter: segment_export(url, known_kinds, counter),
        RAW_SCHEMA,
        MESSAGE_TABLES,
        target,
    )
