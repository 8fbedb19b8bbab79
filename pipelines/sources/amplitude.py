"""dlt source for Amplitude event exports: the Export API, or its archives on disk.

Both read the Export API's format: a zip holding
`<project-id>/<project-id>_<yyyy-mm-dd>_<H>#<n>.json.gz`, one JSON event per line.
Events land in `raw_amplitude.events`, deduplicated on `$insert_id`.

The API client (https://amplitude.com/docs/apis/analytics/export) authenticates with
AMPLITUDE_API_KEY / AMPLITUDE_SECRET_KEY, asks for `start`/`end` hours (YYYYMMDDTHH, UTC,
by upload time) in chunks, streams each zip to disk, splits a range Amplitude finds too
large (400), treats Amplitude's 404 "Raw data files were not found." as hours without data
(any other 404, or a week or more without data in any hour, stops the load) and retries
5xx and timeouts with backoff.
Its state is the last complete hour: Amplitude makes an hour exportable two hours after
it ends, so younger hours are loaded but fetched again on the next run.
"""

from __future__ import annotations

import itertools
import operator
import os
import tempfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dlt
import pyarrow as pa
import pyarrow.compute as pc
import requests

from pipelines.errors import UserError
from pipelines.loading import (
    RECEIPT_ORDER,
    Columns,
    EncodedColumn,
    GunzipStream,
    JsonLinesFormat,
    LoadReport,
    ReadCounter,
    TableBatches,
    TableHints,
    Target,
    json_lines_items,
    json_text,
    receipt_order,
    receipt_orders,
    run_counted,
    snake_case,
    start_chunk_workers,
    timestamp_column,
)
from pipelines.masking import mask_urls

SOURCE = "amplitude"
RAW_SCHEMA = "raw_amplitude"
US_EXPORT_URL = "https://amplitude.com/api/2/export"
EU_EXPORT_URL = "https://analytics.eu.amplitude.com/api/2/export"
HOUR_FORMAT = "%Y%m%dT%H"
HOUR = timedelta(hours=1)
# An hour becomes exportable two hours after it ends (Export API "Considerations").
EXPORT_DELAY = timedelta(hours=2)
MAX_ATTEMPTS = 5
REQUEST_TIMEOUT_SECONDS = 300
DOWNLOAD_CHUNK_BYTES = 1 << 20
# Amplitude's answer for hours without data: 404 with this text. Any other 404 (a wrong
# AMPLITUDE_API_URL) is an error, and so is a range this long with no data in any hour.
NO_DATA_ANSWER = "Raw data files were not found"
LONG_EMPTY_RANGE_HOURS = 7 * 24

TIMESTAMP_COLUMNS = {
    "event_time",
    "server_upload_time",
    "client_event_time",
    "client_upload_time",
    "server_received_time",
    "processed_time",
    "user_creation_time",
}
JSON_COLUMNS = {"event_properties", "user_properties", "groups", "group_properties"}
EVENT_HINTS = TableHints(
    "insert_id",
    {
        "insert_id": "text",
        "uuid": "text",
        "event_type": "text",
        "user_id": "text",
        "device_id": "text",
        "amplitude_id": "bigint",
        "event_time": "timestamp",
        "server_upload_time": "timestamp",
        "client_event_time": "timestamp",
        "session_id": "bigint",
        **{column: "json" for column in sorted(JSON_COLUMNS)},
        "_source_file": "text",
        RECEIPT_ORDER: "text",
    },
)
TEXT_ID_COLUMNS = {"user_id", "device_id", "uuid", "insert_id"}
_column_names: dict[str, str] = {}


def event_row(event: Any, order: str, source_file: str) -> dict[str, Any]:
    """The `events` row of one exported event (`order`: its file and line, see
    `receipt_order`); a malformed event raises ValueError.

    `insert_id` is `$insert_id`, or `uuid` when `$insert_id` is null, empty or absent (it is
    optional): the merge key, and the event id dbt's staging takes."""
    if not isinstance(event, dict):
        raise ValueError("not a JSON object")
    insert_id = event.get("$insert_id") or event.get("uuid")
    if isinstance(insert_id, int) and not isinstance(insert_id, bool):
        insert_id = str(insert_id)
    if not isinstance(insert_id, str) or not insert_id:
        raise ValueError("neither $insert_id nor uuid")
    row: dict[str, Any] = {}
    for field, value in event.items():
        column = _column_names.get(field)
        if column is None:
            column = _column_names.setdefault(field, snake_case(field))
        if value is None or not column:
            continue
        if column in TIMESTAMP_COLUMNS:
            value = _timestamp(value, field)
        elif column in JSON_COLUMNS and not isinstance(value, dict | list):
            raise ValueError(f"{field} is not an object")
        elif column in TEXT_ID_COLUMNS and not isinstance(value, str):
            value = str(value)
        row[column] = value
    row["insert_id"] = insert_id
    row["_source_file"] = source_file
    row[RECEIPT_ORDER] = receipt_order(row.get("server_upload_time"), order)
    return row


def _timestamp(value: Any, field: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(f"{field} is not a timestamp: {value!r}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def is_plain(event: Any) -> bool:
    """Whether an event is an object with an `$insert_id`, so it can join a chunk's columns
    (whose values `plain_columns` checks a column at a time); `event_row` takes (or rejects)
    any other."""
    if event.__class__ is not dict:
        return False
    insert_id = event.get("$insert_id")
    return insert_id.__class__ is str and bool(insert_id)


def plain_columns(
    events: list[dict], orders: list[str], source_file: str
) -> Iterator[tuple[str, dict, TableHints]]:
    """The `events` columns of events `is_plain` accepted: the rows `event_row` gives one
    by one. Raises an Arrow error when a field's values do not fit a column (values of
    different types, a JSON field holding no object, a text id given as a decimal)."""
    columns: Columns = {}
    for field, values in _field_values(events).items():
        column = _column_name(field)
        if not column:
            continue
        if column in JSON_COLUMNS:
            columns[column] = _json_objects(values, field)
        elif column in TIMESTAMP_COLUMNS:
            columns[column] = timestamp_column(values)
        else:
            columns[column] = _scalar_or_json(values, text=column in TEXT_ID_COLUMNS)
    columns["_source_file"] = pa.array([source_file] * len(events), pa.string())
    uploaded = columns.get("server_upload_time")
    if not isinstance(uploaded, EncodedColumn):
        uploaded = timestamp_column([None] * len(events))
    columns[RECEIPT_ORDER] = receipt_orders(uploaded, orders)
    yield "events", columns, EVENT_HINTS


def _field_values(events: list[dict]) -> dict[str, list[Any]]:
    """Each field's values (None where an event lacks it), the fields in order of first
    appearance. An export writes every field of every event, null or not: when all events
    have the first one's fields, one transposition in C (`itemgetter`, `zip`) replaces a
    `get` per field and event (0.9 s per 1,000,000 events of 15 fields)."""
    fields = list(events[0])
    if len(fields) > 1 and all(len(event) == len(fields) for event in events):
        try:
            rows = map(operator.itemgetter(*fields), events)
            return dict(zip(fields, map(list, zip(*rows, strict=True)), strict=True))
        except KeyError:
            pass
    return {
        field: [event.get(field) for event in events]
        for field in dict.fromkeys(itertools.chain.from_iterable(events))
    }


def _json_objects(values: list[Any], field: str) -> EncodedColumn:
    objects = json_text(values)
    if not pc.all(pc.match_substring_regex(objects.values, r"^[\[{]")).as_py():
        raise pa.ArrowInvalid(f"{field} holds a value that is no object")
    return objects


def _scalar_or_json(values: list[Any], text: bool) -> pa.Array | EncodedColumn:
    """Scalars as a column of their type (integers as text when `text`), objects and lists
    as JSON."""
    try:
        column = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        if all(value is None or value.__class__ in (dict, list) for value in values):
            return json_text(values)
        raise
    if pa.types.is_nested(column.type):
        return json_text(values)
    if text and pa.types.is_integer(column.type):
        return column.cast(pa.string())
    if text and not (pa.types.is_string(column.type) or pa.types.is_null(column.type)):
        raise pa.ArrowInvalid(f"a text id given as {column.type}")
    return column


def _column_name(field: str) -> str:
    column = _column_names.get(field)
    if column is None:
        column = _column_names.setdefault(field, snake_case(field))
    return column


def _event_rows(event: Any, order: str, source_file: str) -> Iterator[tuple[str, dict, TableHints]]:
    yield "events", event_row(event, order, source_file), EVENT_HINTS


LINE_FORMAT = JsonLinesFormat(SOURCE, is_plain, plain_columns, _event_rows)


def export_files(path: Path) -> list[Path]:
    """Export zips and extracted `.json.gz` files at `path` (a file or a folder), in order."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise UserError(f"no Amplitude export at {path}")
    return sorted(file for file in path.rglob("*") if file.name.endswith((".zip", ".json.gz")))


def _event_streams(file: Path, name: str | None = None) -> Iterator[tuple[str, GunzipStream]]:
    """(source file name, gunzipped stream) for each `.json.gz` of a zip or the file itself."""
    label = name or str(file)
    if zipfile.is_zipfile(file):
        with zipfile.ZipFile(file) as archive:
            for member in sorted(archive.namelist()):
                if member.endswith(".json.gz"):
                    with archive.open(member) as raw:
                        yield f"{label}/{member}", GunzipStream(raw)
    else:
        with file.open("rb") as raw:
            yield label, GunzipStream(raw)


def _events_of(
    files: Iterator[tuple[Path, str]], batches: TableBatches, counter: ReadCounter
) -> Iterator[Any]:
    with start_chunk_workers(LINE_FORMAT) as workers:
        for file, name in files:
            for source_file, stream in _event_streams(file, name):
                yield from json_lines_items(
                    LINE_FORMAT, stream, source_file, batches, counter, workers
                )
            counter.file_done()
    yield from batches.flush_all()


@dlt.source(name=SOURCE)
def amplitude_archives(path: Path, known_kinds: Any = None, counter: Any = None):
    """The events of export archives (or extracted `.json.gz` files) on disk."""
    return archive_events(export_files(path), known_kinds or {}, counter or ReadCounter())


@dlt.resource(name="archive_events", write_disposition="merge", primary_key="insert_id")
def archive_events(
    files: list[Path], known_kinds: dict[str, dict[str, str]], counter: ReadCounter
) -> Iterator[Any]:
    named = ((file, str(file)) for file in files)
    yield from _events_of(named, TableBatches(known_kinds, RAW_SCHEMA), counter)


@dataclass(frozen=True)
class HourRange:
    """Hours `first` to `last`, both included, as the Export API counts them."""

    first: datetime
    last: datetime

    @property
    def hours(self) -> int:
        return int((self.last - self.first) / HOUR) + 1

    def split(self) -> tuple[HourRange, HourRange]:
        middle = self.first + HOUR * (self.hours // 2 - 1)
        return HourRange(self.first, middle), HourRange(middle + HOUR, self.last)

    def chunks(self, hours: int) -> Iterator[HourRange]:
        first = self.first
        while first <= self.last:
            last = min(first + HOUR * (hours - 1), self.last)
            yield HourRange(first, last)
            first = last + HOUR

    def __str__(self) -> str:
        return f"{format_hour(self.first)}-{format_hour(self.last)}"


def parse_hour(text: str) -> datetime:
    try:
        return datetime.strptime(text, HOUR_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise UserError(f"not an hour in YYYYMMDDTHH form (UTC): {text!r}") from None


def format_hour(hour: datetime) -> str:
    return hour.strftime(HOUR_FORMAT)


def last_complete_hour(now: datetime) -> datetime:
    """The latest hour the Export API serves completely at `now`."""
    return (now - EXPORT_DELAY - HOUR).replace(minute=0, second=0, microsecond=0)


class ExportClient:
    """Downloads Export API zips to disk; knows the API's answers and retries."""

    def __init__(
        self,
        api_key: str,
        secret_key: str,
        base_url: str = US_EXPORT_URL,
        backoff_seconds: float = 2.0,
    ) -> None:
        self.session = requests.Session()
        self.session.auth = (api_key, secret_key)
        self.base_url = base_url
        self.backoff_seconds = backoff_seconds

    def _check_no_data_answer(self, response: requests.Response, hours: HourRange) -> None:
        """A 404 must be Amplitude's "no data" answer; any other is a wrong URL."""
        if NO_DATA_ANSWER not in response.text[:4096]:
            raise UserError(
                f"the Amplitude Export API at {mask_urls(self.base_url)} answered 404 for "
                f"{hours} without Amplitude's {NO_DATA_ANSWER!r}: check AMPLITUDE_API_URL"
            )

    @classmethod
    def from_environment(cls) -> ExportClient:
        api_key, secret_key = (
            os.environ.get("AMPLITUDE_API_KEY"),
            os.environ.get("AMPLITUDE_SECRET_KEY"),
        )
        if not api_key or not secret_key:
            raise UserError("set AMPLITUDE_API_KEY and AMPLITUDE_SECRET_KEY for the Export API")
        return cls(api_key, secret_key, os.environ.get("AMPLITUDE_API_URL") or US_EXPORT_URL)

    def download(self, hours: HourRange, folder: Path) -> Iterator[tuple[HourRange, Path]]:
        """(range, zip) for every part of `hours` that has data; splits too large ranges."""
        target = folder / f"amplitude_{hours}.zip"
        status = self._fetch(hours, target)
        if status == 200:
            yield hours, target
        elif status == 400:
            if hours.hours == 1:
                raise UserError(
                    f"Amplitude export of hour {hours.first:%Y-%m-%d %H}h is too large for "
                    "the Export API (4 GB); use Amplitude's S3 export for it"
                )
            for half in hours.split():
                yield from self.download(half, folder)

    def _fetch(self, hours: HourRange, target: Path) -> int:
        """Stream one range to `target`; return 200, 400 (too large) or 404 (no data)."""
        parameters = {"start": format_hour(hours.first), "end": format_hour(hours.last)}
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                with self.session.get(
                    self.base_url, params=parameters, stream=True, timeout=REQUEST_TIMEOUT_SECONDS
                ) as response:
                    if response.status_code in (401, 403):
                        raise UserError(
                            f"Amplitude refused the credentials (HTTP {response.status_code}): "
                            "check AMPLITUDE_API_KEY and AMPLITUDE_SECRET_KEY"
                        )
                    if response.status_code == 404:
                        self._check_no_data_answer(response, hours)
                    if response.status_code in (400, 404):
                        return response.status_code
                    if response.status_code == 200:
                        with target.open("wb") as file:
                            for chunk in response.iter_content(DOWNLOAD_CHUNK_BYTES):
                                file.write(chunk)
                        return 200
                    failure = f"HTTP {response.status_code}"
                    if response.status_code < 500 and response.status_code != 429:
                        raise UserError(f"Amplitude Export API answered {failure} for {hours}")
            except (requests.ConnectionError, requests.Timeout) as error:
                failure = type(error).__name__
            if attempt < MAX_ATTEMPTS:
                time.sleep(self.backoff_seconds * 2 ** (attempt - 1))
        raise UserError(
            f"Amplitude Export API at {self.base_url} failed {MAX_ATTEMPTS} times for {hours} "
            f"(last: {failure})"
        )


@dlt.source(name=SOURCE)
def amplitude_export_api(
    start: str | None = None,
    end: str | None = None,
    chunk_hours: int = 24,
    known_kinds: Any = None,
    counter: Any = None,
    client: Any = None,
    now: Any = None,
):
    """The events of the Export API hours from `start` (default: after the last complete
    hour loaded) to `end` (default: the last complete hour)."""
    return api_events(
        start,
        end,
        chunk_hours,
        known_kinds or {},
        counter or ReadCounter(),
        client or ExportClient.from_environment(),
        now or datetime.now(UTC),
    )


@dlt.resource(name="api_events", write_disposition="merge", primary_key="insert_id")
def api_events(
    start: str | None,
    end: str | None,
    chunk_hours: int,
    known_kinds: dict[str, dict[str, str]],
    counter: ReadCounter,
    client: ExportClient,
    now: datetime,
) -> Iterator[Any]:
    state = dlt.current.resource_state()
    complete = last_complete_hour(now)
    requested = _requested_hours(start, end, state.get("last_complete_hour"), complete)
    if requested is None:
        return
    batches, found_data = TableBatches(known_kinds, RAW_SCHEMA), False
    with tempfile.TemporaryDirectory(prefix="amplitude-export-") as folder:
        for chunk in requested.chunks(chunk_hours):
            for _, archive in client.download(chunk, Path(folder)):
                found_data = True
                yield from _events_of(iter([(archive, archive.name)]), batches, counter)
                archive.unlink()
            done = min(chunk.last, complete)
            if done >= chunk.first and done > _stored_hour(state.get("last_complete_hour")):
                state["last_complete_hour"] = format_hour(done)
    if not found_data and requested.hours >= LONG_EMPTY_RANGE_HOURS:
        raise UserError(
            f"Amplitude answered no data for every one of the {requested.hours} hours "
            f"{requested}: check AMPLITUDE_API_URL and that the keys are the project's"
        )


def _requested_hours(
    start: str | None, end: str | None, stored: str | None, complete: datetime
) -> HourRange | None:
    if start is not None:
        first = parse_hour(start)
    elif stored is not None:
        first = parse_hour(stored) + HOUR
    else:
        raise UserError("first Amplitude API load: give --start YYYYMMDDTHH")
    last = parse_hour(end) if end is not None else complete
    if last < first:
        if start is not None:
            raise UserError(f"--end {end or format_hour(last)} is before --start {start}")
        return None
    return HourRange(first, last)


def _stored_hour(stored: str | None) -> datetime:
    return parse_hour(stored) if stored else datetime.min.replace(tzinfo=UTC)


def load_archives(path: Path, target: Target) -> LoadReport:
    """Load export archives or extracted files from disk into `raw_amplitude.events`."""
    export_files(path)
    return run_counted(
        SOURCE,
        lambda known_kinds, counter: amplitude_archives(path, known_kinds, counter),
        RAW_SCHEMA,
        ["events"],
        target,
    )


def load_from_api(
    target: Target,
    start: str | None = None,
    end: str | None = None,
    chunk_hours: int = 24,
    client: ExportClient | None = None,
    now: datetime | None = None,
) -> LoadReport:
    """Load Export API hours into `raw_amplitude.events` (see `api_events`)."""
    client = client or ExportClient.from_environment()
    return run_counted(
        SOURCE,
        lambda known_kinds, counter: amplitude_export_api(
            start, end, chunk_hours, known_kinds, counter, client, now
        ),
        RAW_SCHEMA,
        ["events"],
        target,
    )
