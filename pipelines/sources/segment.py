"""dlt source for Segment exports in the S3 destination layout, landing in the shape of
Segment Warehouses.

Input: `segment-logs/<source-id>/<received-day-epoch-ms>/<file>.gz`, gzipped JSON lines of
Segment Spec messages, in a local folder or under an `s3://` prefix (credentials the dlt
way: `SOURCES__FILESYSTEM__CREDENTIALS__*` in the environment or `.dlt/secrets.toml`).
Incremental by file: a file already loaded (same URL, same size) is not read again.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dlt
import pyarrow as pa
from dlt.sources.filesystem import filesystem

from pipelines import warehouse
from pipelines.errors import UserError
from pipelines.loading import (
    RECEIPT_ORDER,
    Columns,
    GunzipStream,
    JsonLinesFormat,
    LoadReport,
    PropertyPaths,
    ReadCounter,
    TableBatches,
    TableHints,
    Target,
    json_lines_items,
    json_text,
    object_columns,
    receipt_order,
    receipt_orders,
    refresh_event_views,
    run_counted,
    snake_case,
    start_chunk_workers,
    timestamp_column,
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
    RECEIPT_ORDER: "text",
}
TRACK_KINDS = {**COMMON_KINDS, "event": "text", "event_text": "text"}
VIEW_KINDS = {**COMMON_KINDS, "name": "text", "category": "text"}
HINTS_BY_TABLE = {
    "tracks": TableHints("id", {**TRACK_KINDS, "properties": "json"}),
    "identifies": TableHints("id", {**COMMON_KINDS, "traits": "json"}),
    "users": TableHints(
        "id", {"id": "text", "received_at": "timestamp", RECEIPT_ORDER: "text"}, latest_wins=True
    ),
    "pages": TableHints("id", {**VIEW_KINDS, "properties": "json"}),
    "screens": TableHints("id", {**VIEW_KINDS, "properties": "json"}),
    "groups": TableHints("id", {**COMMON_KINDS, "group_id": "text", "traits": "json"}),
    "aliases": TableHints("id", {**COMMON_KINDS, "previous_id": "text"}),
}
# The whole listing in one page, so the files are read in the order of their URLs (the
# `_receipt_order` of two copies received at the same instant follows file, then line).
ONE_PAGE = 10**9


@functools.lru_cache(maxsize=65_536)
def event_table(event_text: str) -> str:
    """The table of a track's event name (`snake_case`: `Build Started` -> `build_started`,
    a name in another script -> `event_` and 8 hex digits of its SHA-256); "" when the
    name is blank."""
    return snake_case(event_text, "event")


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
    property_paths: Any = None,
):
    """Every message of the export not loaded yet, one table per message type; the property
    paths of each event's tracks go to `property_paths` (for the event views)."""
    files = filesystem(bucket_url=str(bucket_url), file_glob="**/*.gz", files_per_page=ONE_PAGE)
    return files | segment_messages(
        known_kinds or {}, counter or ReadCounter(), property_paths or PropertyPaths()
    )


@dlt.transformer(name="segment_messages", write_disposition="merge", primary_key="id")
def segment_messages(
    files: list[Any],
    known_kinds: dict[str, dict[str, str]],
    counter: ReadCounter,
    property_paths: PropertyPaths,
) -> Iterator[Any]:
    loaded_files: dict[str, int] = dlt.current.resource_state().setdefault("loaded_files", {})
    batches = TableBatches(known_kinds, RAW_SCHEMA)
    line_format = segment_line_format(property_paths)
    new_files = [
        file
        for file in sorted(files, key=lambda file: file["file_url"])
        if loaded_files.get(file["file_url"]) != file["size_in_bytes"]
    ]
    if not new_files:
        return
    with start_chunk_workers(line_format) as workers:
        for file in new_files:
            url = file["file_url"]
            with file.open(mode="rb", compression="disable") as raw:
                yield from json_lines_items(
                    line_format, GunzipStream(raw), url, batches, counter, workers
                )
            loaded_files[url] = file["size_in_bytes"]
            counter.file_done()
    yield from batches.flush_all()


def message_rows(
    message: Any, order: str, source_file: str, property_paths: PropertyPaths | None = None
) -> Iterator[tuple[str, dict, TableHints]]:
    """The rows one Segment message lands as (`order`: its file and line, see
    `receipt_order`), a track's property paths added to `property_paths`; a malformed
    message raises ValueError."""
    if not isinstance(message, dict):
        raise ValueError("not a JSON object")
    message_type = message.get("type")
    table = TABLE_BY_TYPE.get(message_type)  # type: ignore[arg-type]
    if table is None:
        raise ValueError(f"unknown message type {message_type!r}")
    common = _common_columns(message, order, source_file)
    if message_type == "track":
        yield from _track_rows(message, common, property_paths)
        return
    if message_type == "identify":
        yield from _identify_rows(message, common)
        return
    row = dict(common)
    if message_type in ("page", "screen"):
        row.update(
            name=message.get("name"),
            category=message.get("category"),
            properties=_object(message, "properties"),
        )
    elif message_type == "group":
        row.update(group_id=_text(message.get("groupId")), traits=_object(message, "traits"))
    else:
        row.update(previous_id=_text(message.get("previousId")))
    yield table, row, HINTS_BY_TABLE[table]


def _common_columns(message: dict, order: str, source_file: str) -> dict[str, Any]:
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
    row[RECEIPT_ORDER] = receipt_order(row["received_at"], order)
    return row


def _track_rows(
    message: dict, common: dict, property_paths: PropertyPaths | None
) -> Iterator[tuple[str, dict, TableHints]]:
    event_text = message.get("event")
    if not isinstance(event_text, str) or not event_table(event_text):
        raise ValueError("track without an event name")
    event, properties = event_table(event_text), _object(message, "properties")
    if property_paths is not None:
        property_paths.add(event, properties)
    track = {**common, "event": event, "event_text": event_text, "properties": properties}
    yield "tracks", track, HINTS_BY_TABLE["tracks"]


def _identify_rows(message: dict, common: dict) -> Iterator[tuple[str, dict, TableHints]]:
    traits = _object(message, "traits")
    trait_columns = flatten(traits, "")
    yield "identifies", {**trait_columns, **common, "traits": traits}, HINTS_BY_TABLE["identifies"]
    if common["user_id"] is not None:
        user = {
            **trait_columns,
            "id": common["user_id"],
            "received_at": common["received_at"],
            RECEIPT_ORDER: common[RECEIPT_ORDER],
        }
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


def is_plain(message: Any) -> bool:
    """Whether a message has the usual types everywhere, so it can join a chunk's columns;
    `message_rows` takes (or rejects) any other."""
    if message.__class__ is not dict:
        return False
    message_id, user_id, anonymous_id = (
        message.get("messageId"),
        message.get("userId"),
        message.get("anonymousId"),
    )
    if message_id.__class__ is not str or not message_id or not (user_id or anonymous_id):
        return False
    if not (_is_text(user_id) and _is_text(anonymous_id) and _is_object(message.get("context"))):
        return False
    message_type = message.get("type")
    if message_type == "track":
        event = message.get("event")
        return (
            event.__class__ is str
            and bool(event_table(event))
            and _is_object(message.get("properties"))
        )
    if message_type in ("page", "screen"):
        return (
            _is_text(message.get("name"))
            and _is_text(message.get("category"))
            and _is_object(message.get("properties"))
        )
    if message_type == "identify":
        return _is_object(message.get("traits"))
    if message_type == "group":
        return _is_text(message.get("groupId")) and _is_object(message.get("traits"))
    return message_type == "alias" and _is_text(message.get("previousId"))


def _is_text(value: Any) -> bool:
    return value is None or value.__class__ is str


def _is_object(value: Any) -> bool:
    return value is None or value.__class__ is dict


def plain_columns(
    messages: list[dict],
    orders: list[str],
    source_file: str,
    property_paths: PropertyPaths | None = None,
) -> Iterator[tuple[str, dict, TableHints]]:
    """The columns, per table, of messages `is_plain` accepted: the same rows as
    `message_rows` gives one by one. Sorted by type first, each table's rows are a slice.
    The tracks' property paths go to `property_paths` once every table's columns are made
    (an Arrow error on the way sends the messages down the one-by-one path instead)."""
    ordered = sorted(zip(messages, orders, strict=True), key=lambda pair: pair[0]["type"])
    tracks: list[dict] = []
    messages, orders = [pair[0] for pair in ordered], [pair[1] for pair in ordered]
    received = timestamp_column([message.get("receivedAt") for message in messages])
    common = {
        "id": pa.array([message["messageId"] for message in messages], pa.string()),
        "anonymous_id": _text_column(messages, "anonymousId"),
        "user_id": _text_column(messages, "userId"),
        **{
            column: timestamp_column([message.get(field) for message in messages])
            for field, column in TIMESTAMP_FIELDS.items()
            if field != "receivedAt"
        },
        "received_at": received,
        **object_columns([message.get("context") for message in messages], "context"),
        "_source_file": pa.array([source_file] * len(messages), pa.string()),
        RECEIPT_ORDER: receipt_orders(received, orders),
    }
    for message_type, start, stop in _runs([message["type"] for message in messages]):
        typed = messages[start:stop]
        rows = {name: values.slice(start, stop - start) for name, values in common.items()}
        if message_type == "track":
            tracks = typed
            yield _track_columns(typed, rows)
        elif message_type == "identify":
            yield from _identify_columns(typed, rows)
        else:
            yield _other_columns(message_type, typed, rows)
    if property_paths is not None:
        for message in tracks:
            property_paths.add(event_table(message["event"]), message.get("properties") or {})


def _track_columns(tracks: list[dict], common: Columns) -> tuple:
    texts = [message["event"] for message in tracks]
    columns = {
        **common,
        "event": pa.array([event_table(text) for text in texts], pa.string()),
        "event_text": pa.array(texts, pa.string()),
        "properties": json_text([message.get("properties") or {} for message in tracks]),
    }
    return "tracks", columns, HINTS_BY_TABLE["tracks"]


def _runs(keys: list[str]) -> Iterator[tuple[str, int, int]]:
    """(key, start, stop) of each run of equal keys."""
    start = 0
    for position in range(1, len(keys) + 1):
        if position == len(keys) or keys[position] != keys[start]:
            yield keys[start], start, position
            start = position


def _identify_columns(identifies: list[dict], common: Columns) -> Iterator:
    traits = [message.get("traits") or {} for message in identifies]
    trait_columns = object_columns(traits)
    yield (
        "identifies",
        {**trait_columns, **common, "traits": json_text(traits)},
        HINTS_BY_TABLE["identifies"],
    )
    with_user = [position for position, message in enumerate(identifies) if message.get("userId")]
    if with_user:
        user = {
            **trait_columns,
            "id": common["user_id"],
            "received_at": common["received_at"],
            RECEIPT_ORDER: common[RECEIPT_ORDER],
        }
        yield (
            "users",
            {name: values.take(with_user) for name, values in user.items()},
            (HINTS_BY_TABLE["users"]),
        )


def _other_columns(message_type: str, messages: list[dict], common: dict) -> tuple:
    table = TABLE_BY_TYPE[message_type]
    columns = dict(common)
    if message_type in ("page", "screen"):
        columns["name"] = pa.array([message.get("name") for message in messages], pa.string())
        columns["category"] = pa.array([m.get("category") for m in messages], pa.string())
        columns["properties"] = json_text([message.get("properties") or {} for message in messages])
    elif message_type == "group":
        columns["group_id"] = _text_column(messages, "groupId")
        columns["traits"] = json_text([message.get("traits") or {} for message in messages])
    else:
        columns["previous_id"] = _text_column(messages, "previousId")
    return table, columns, HINTS_BY_TABLE[table]


def _text_column(messages: list[dict], field: str) -> pa.Array:
    """A text field of the messages; an empty text is null, as in `message_rows`."""
    return pa.array([message.get(field) or None for message in messages], pa.string())


def segment_line_format(property_paths: PropertyPaths | None = None) -> JsonLinesFormat:
    """How Segment's lines become rows, the tracks' property paths going to `property_paths`."""
    return JsonLinesFormat(
        SOURCE,
        is_plain,
        functools.partial(plain_columns, property_paths=property_paths),
        functools.partial(message_rows, property_paths=property_paths),
        property_paths,
    )


def load(path: str | Path, target: Target) -> LoadReport:
    """Load the files of the export at `path` that are not loaded yet into `raw_segment`
    (and, in the warehouse, refresh the per-event views over `tracks`)."""
    url = export_url(path)
    property_paths = PropertyPaths()

    def after_load(interrupted: Sequence[str]) -> None:
        if isinstance(target, warehouse.Connection):
            refresh_event_views(
                target, RAW_SCHEMA, "tracks", "event", "properties", property_paths, interrupted
            )

    return run_counted(
        SOURCE,
        lambda known_kinds, counter: segment_export(url, known_kinds, counter, property_paths),
        RAW_SCHEMA,
        MESSAGE_TABLES,
        target,
        after_load=after_load,
    )
