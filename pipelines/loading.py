"""Runs dlt pipelines into the warehouse's raw schemas, fast and without losing a line.

Sources read JSON lines in chunks (`json_lines_items`): the ordinary messages of a chunk
become typed Arrow columns at once, while an unusual message takes the per-message path
(`TableBatches.add`) and a malformed one becomes a row of the schema's `_rejected` table.
dlt gets typed Arrow tables, so it skips its row-by-row normalizer and loads them with
PostgreSQL `COPY` (the csv loader file format). Every run ends with a `LoadReport` whose
read / loaded / duplicate / rejected counts add up.

A load costs what it loads, however large the raw tables grow: every merge table has an
index on its key (`index_lookups`), a message merge inserts only keys the table does not
hold yet (`new_keys_merge`), and "loaded" counts this run's rows by their `_dlt_load_id`.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import logging
import re
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO

import dlt
import orjson
import pyarrow as pa
import pyarrow.compute as pc
from dlt.common.configuration.exceptions import ConfigFieldMissingException
from dlt.common.normalizers.naming.snake_case import NamingConvention
from dlt.common.schema.utils import get_columns_names_with_prop, get_write_disposition
from dlt.common.utils import uniq_id
from dlt.destinations.impl.postgres import postgres as dlt_postgres
from dlt.pipeline.exceptions import PipelineStepFailed
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from pipelines import warehouse
from pipelines.errors import UserError
from pipelines.masking import mask_urls
from pipelines.warehouse import PROJECT_ROOT

PIPELINES_DIR = PROJECT_ROOT / ".warehouse" / "dlt"
REJECTED_TABLE = "_rejected"
# Rows held across all tables before the largest table's batch goes to dlt: bounds memory
# whatever the input size and the number of event tables.
BUFFER_ROWS = 20_000
CHUNK_LINES = 5_000
READ_BYTES = 1 << 20
# At most this many columns per table (PostgreSQL allows 1,600, and a row must fit a page):
# a key that finds the table full is no column; its value stays in the message's JSON
# (`properties`, `traits`, Amplitude's `event_properties`).
MAX_TABLE_COLUMNS = 500
COLUMN_BUDGET = MAX_TABLE_COLUMNS - 1  # dlt adds `_dlt_load_id`
# Deeper messages are rejected: orjson writes JSON up to 255 levels, and no export nests so.
MAX_DEPTH = 64
UTF8_BOM = b"\xef\xbb\xbf"
# The column that orders the copies of one id within a load: the copy received first
# (`receivedAt`, `server_upload_time`), then the earlier file and line, wins.
RECEIPT_ORDER = "_receipt_order"

console = Console(stderr=True)


class _DltLogFilter(logging.Filter):
    """Masks every connection string in dlt's log records, and drops the notice dlt gives on
    every batch for JSON and timestamp columns that travel as Arrow strings with a `json` or
    `timestamp` hint (the destination stores them as jsonb and timestamptz as intended)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "when merging arrow schema" in message:
            return False
        record.msg, record.args = mask_urls(message), None
        return True


logging.getLogger("dlt").addFilter(_DltLogFilter())
# dlt logs nothing a load handles (one summary line says what happened); `--verbose` shows
# its log, masked.
dlt.config["runtime.log_level"] = "CRITICAL"


def set_verbose(verbose: bool) -> None:
    """Show dlt's progress log (connection strings masked) instead of the summary alone."""
    dlt.config["runtime.log_level"] = "INFO" if verbose else "CRITICAL"
    logging.getLogger("dlt").setLevel(logging.INFO if verbose else logging.CRITICAL)


# dlt's COPY marks every nullable column FORCE_NULL, so a quoted "" became NULL: every
# empty string was lost. Its Python csv writer needs that (it quotes None), but every file
# of these loaders comes from Arrow's csv writer, which quotes each string and leaves null
# unquoted, so `NULL ''` alone tells them apart.
dlt_postgres.is_nullable_column = lambda column: False
# Load files live only until they are copied in: gzipping them took a third of normalize.
dlt.config["data_writer.disable_compression"] = True
# Arrow tables get `_dlt_load_id` like rows do: the counts of a run select its rows by it.
dlt.config["normalize.parquet_normalizer.add_dlt_load_id"] = True
LOAD_ID_COLUMN = "_dlt_load_id"
# The names dlt gives tables and columns in PostgreSQL (`snake_case`, shortened to fit).
POSTGRES_NAMING = NamingConvention(
    max_length=dlt.destinations.postgres().capabilities().max_identifier_length
)

# A column's kind: how its values are stored. Values of another kind than the column's go to
# a variant column `<name>__v_<kind>` (dlt's convention), so a type conflict never fails.
# JSON and timestamps travel as text that PostgreSQL parses during COPY: Arrow's csv writer
# spent ~2 µs formatting each timestamp, most of dlt's normalize step.
ARROW_TYPES = {
    "bool": pa.bool_(),
    "bigint": pa.int64(),
    "double": pa.float64(),
    "text": pa.string(),
    "json": pa.string(),
    "timestamp": pa.string(),
}
TEXT_ENCODED_KINDS = ("json", "timestamp")
# An ISO 8601 UTC timestamp both Arrow and PostgreSQL read, to the microsecond (other
# offsets take the per-message path, which converts them to UTC).
UTC_TIMESTAMP = r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d{1,6})?Z?$"
POSTGRES_KINDS = {
    "boolean": "bool",
    "bigint": "bigint",
    "integer": "bigint",
    "smallint": "bigint",
    "double precision": "double",
    "real": "double",
    "numeric": "double",
    "text": "text",
    "character varying": "text",
    "jsonb": "json",
    "json": "json",
    "timestamp with time zone": "timestamp",
    "timestamp without time zone": "timestamp",
}
INT64_RANGE = range(-(2**63), 2**63)


def value_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "bigint" if value in INT64_RANGE else "text"
    if isinstance(value, float):
        return "double"
    if isinstance(value, datetime):
        return "timestamp"
    if isinstance(value, dict | list):
        return "json"
    return "text"


@functools.lru_cache(maxsize=65_536)
def snake_case(name: str, prefix: str = "key") -> str:
    """The table or column name of a name in any script, stable and unique per spelling:
    `userAgent` -> `user_agent`, `$insert_id` -> `insert_id`, `Plan Viewed` ->
    `plan_viewed`, `Café` -> `cafe`. A name with letters or digits beyond ASCII (after
    accents are dropped) gets `_` and 8 hex digits of its SHA-256 appended (`購買完成 v2` ->
    `v2_…`), or is `<prefix>_` and those digits (`購買完成` -> `event_…`), so two such names
    never share one. Names longer than PostgreSQL's 63 bytes are shortened as dlt does."""
    decomposed = unicodedata.normalize("NFKD", name)
    ascii_name = re.sub(
        r"([a-z0-9])([A-Z])", r"\1_\2", decomposed.encode("ascii", "ignore").decode()
    )
    slug = re.sub(r"[^a-z0-9]+", "_", ascii_name.lower()).strip("_")
    if any(character.isalnum() and not character.isascii() for character in decomposed) or (
        not slug and name.strip()
    ):
        digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        slug = f"{slug}_{digest}" if slug else f"{prefix}_{digest}"
    if len(slug) > POSTGRES_NAMING.max_length:
        slug = POSTGRES_NAMING.normalize_identifier(slug)
    return slug


@dataclass(frozen=True)
class TableHints:
    """How a table merges, and the columns it always has (name -> kind) even when a batch
    holds no value for them.

    Rows merge on `primary_key`. A key the table already holds keeps its row, and among the
    copies of a key in one load the lowest `RECEIPT_ORDER` wins: the first delivery wins and
    a redelivery is a duplicate, never rewritten. With `latest_wins`, the copy received last
    replaces the row instead (e.g. a user's latest traits).
    """

    primary_key: str | tuple[str, ...]
    columns: dict[str, str] = field(default_factory=dict)
    latest_wins: bool = False


class TableBatches:
    """Buffers rows per table and yields them as typed Arrow tables with dlt hints: the
    largest table's batch whenever `buffer_rows` rows are buffered in all.

    Rows come either one by one (`add`, typed value by value) or as whole columns
    (`add_columns`, typed column by column). `known_kinds` holds the kinds of columns that
    already exist (in the warehouse or declared by the source); a new column takes the kind
    of its first value. The tables are those of the schema `dataset`.
    """

    def __init__(
        self,
        known_kinds: dict[str, dict[str, str]],
        dataset: str,
        buffer_rows: int = BUFFER_ROWS,
    ):
        self.dataset = dataset
        self.kinds = {table: dict(columns) for table, columns in known_kinds.items()}
        self.buffer_rows = buffer_rows
        self.buffered_total = 0
        self.rows: dict[str, list[dict[str, Any]]] = {}
        self.tables: dict[str, list[pa.Table]] = {}
        self.buffered: dict[str, int] = {}
        self.hints: dict[str, TableHints] = {}

    def add(self, table: str, row: dict[str, Any], hints: TableHints) -> Iterator[Any]:
        """Buffer `row`; yield a batch when the buffer is full."""
        self.rows.setdefault(table, []).append(row)
        yield from self._buffered(table, 1, hints)

    def add_columns(self, table: str, columns: Columns, hints: TableHints) -> Iterator[Any]:
        """Buffer rows given as equally long columns; yield a batch when the buffer is full."""
        kinds = self._kinds(table, hints)
        length = len(next(iter(columns.values())))
        typed: dict[str, pa.Array] = {}
        for name, values in columns.items():
            if isinstance(values, EncodedColumn):
                kind, values = values.kind, values.values
            else:
                kind = arrow_kind(values.type)
            # Like a missing value, a column of nulls adds nothing (nor a column to the table).
            if kind is not None and values.null_count < length:
                column = _column_for(kinds, name, kind)
                if column is not None:
                    typed[column] = values.cast(ARROW_TYPES[kinds[column]])
        for name in hints.columns:
            if name not in typed:
                typed[name] = pa.nulls(length, ARROW_TYPES[kinds[name]])
        self.tables.setdefault(table, []).append(pa.table(typed))
        yield from self._buffered(table, length, hints)

    def flush_all(self) -> Iterator[Any]:
        for table in [table for table, count in self.buffered.items() if count]:
            yield self._flush(table)

    def _buffered(self, table: str, rows: int, hints: TableHints) -> Iterator[Any]:
        self.hints[table] = hints
        self.buffered[table] = self.buffered.get(table, 0) + rows
        self.buffered_total += rows
        while self.buffered_total >= self.buffer_rows:
            yield self._flush(max(self.buffered, key=self.buffered.__getitem__))

    def _kinds(self, table: str, hints: TableHints) -> dict[str, str]:
        kinds = self.kinds.setdefault(table, {})
        for name, kind in hints.columns.items():
            kinds.setdefault(name, kind)
        return kinds

    def _flush(self, table: str) -> Any:
        hints = self.hints[table]
        kinds = self._kinds(table, hints)
        parts = self.tables.pop(table, [])
        rows = self.rows.pop(table, [])
        if rows:
            parts.append(self._rows_table(rows, hints, kinds))
        self.buffered_total -= self.buffered[table]
        self.buffered[table] = 0
        batch = parts[0] if len(parts) == 1 else pa.concat_tables(parts, promote_options="default")
        column_hints: dict[str, dict[str, Any]] = {
            name: {"data_type": kinds[name]}
            for name in batch.column_names
            if kinds[name] in TEXT_ENCODED_KINDS
        }
        keys = (
            list(hints.primary_key) if isinstance(hints.primary_key, tuple) else [hints.primary_key]
        )
        if RECEIPT_ORDER in batch.column_names:
            order = "desc" if hints.latest_wins else "asc"
            column_hints.setdefault(RECEIPT_ORDER, {})["dedup_sort"] = order
        if hints.latest_wins:
            merge: dict[str, Any] = {"disposition": "merge", "strategy": "delete-insert"}
        else:
            merge = new_keys_merge(self.dataset, table, keys)
        return dlt.mark.with_hints(
            batch,
            dlt.mark.make_hints(
                table_name=table,
                primary_key=keys,
                write_disposition=merge,  # type: ignore[arg-type]
                columns=column_hints,
            ),
            create_table_variant=True,
        )

    @staticmethod
    def _rows_table(
        rows: list[dict[str, Any]], hints: TableHints, kinds: dict[str, str]
    ) -> pa.Table:
        columns: dict[str, list[Any]] = {name: [None] * len(rows) for name in hints.columns}
        for position, row in enumerate(rows):
            for name, value in row.items():
                if value is None:
                    continue
                column = _column_for(kinds, name, value_kind(value))
                if column is None:
                    continue
                values = columns.get(column)
                if values is None:
                    values = columns[column] = [None] * len(rows)
                values[position] = _stored_value(kinds[column], value)
        return pa.table(
            {name: pa.array(values, ARROW_TYPES[kinds[name]]) for name, values in columns.items()}
        )


def new_keys_merge(dataset: str, table: str, keys: list[str]) -> dict[str, Any]:
    """A dlt merge that inserts the staged rows whose key `dataset.table` does not hold yet
    (dlt still deduplicates the staged rows on the key) and deletes nothing.

    The `source_filter` looks each staged key up in the table's key index. Its bare key
    names refer to the staged row, which dlt's insert aliases differently from its delete:
    the table's keys are renamed in a subquery so as not to shadow them. The
    `destination_scope` `false` turns dlt's key-matching delete into a no-op.
    """
    relation = f"{_quoted(dataset)}.{_quoted(POSTGRES_NAMING.normalize_table_identifier(table))}"
    names = [POSTGRES_NAMING.normalize_identifier(key) for key in keys]
    renamed = ", ".join(f"{_quoted(name)} as {_quoted('loaded_' + name)}" for name in names)
    matches = " and ".join(
        f"loaded.{_quoted('loaded_' + name)} = {_quoted(name)}" for name in names
    )
    return {
        "disposition": "merge",
        "strategy": "delete-insert",
        "source_filter": (
            f"not exists (select from (select {renamed} from {relation}) as loaded where {matches})"
        ),
        "destination_scope": "false",
    }


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _column_for(kinds: dict[str, str], name: str, kind: str) -> str | None:
    """The column a value of `kind` goes to: `name`, or its variant when the kinds conflict;
    None when that would be a new column of a table holding `MAX_TABLE_COLUMNS` already."""
    existing = kinds.get(name)
    if existing is None:
        if len(kinds) >= COLUMN_BUDGET:
            return None
        existing = kinds[name] = kind
    if existing == kind or (existing == "double" and kind == "bigint"):
        return name
    if existing == "text" and kind != "json":
        return name
    variant = f"{name}__v_{kind}"
    if variant not in kinds:
        if len(kinds) >= COLUMN_BUDGET:
            return None
        kinds[variant] = kind
    return variant


def _stored_value(kind: str, value: Any) -> Any:
    if kind == "json":
        return orjson.dumps(value).decode()
    if kind == "timestamp":
        return value.isoformat()
    if kind == "text" and not isinstance(value, str):
        return orjson.dumps(value).decode() if isinstance(value, dict | list) else str(value)
    if kind == "double":
        return float(value)
    return value


@dataclass(frozen=True)
class EncodedColumn:
    """Values of a text-encoded kind (JSON, timestamps) as an Arrow text column."""

    kind: str
    values: pa.Array

    def take(self, positions: list[int]) -> EncodedColumn:
        return EncodedColumn(self.kind, self.values.take(positions))

    def slice(self, offset: int, length: int) -> EncodedColumn:
        return EncodedColumn(self.kind, self.values.slice(offset, length))

    def __len__(self) -> int:
        return len(self.values)


Columns = dict[str, pa.Array | EncodedColumn]


def arrow_kind(arrow_type: pa.DataType) -> str | None:
    """The kind of an Arrow column built from JSON values; None for a column of nulls."""
    if pa.types.is_null(arrow_type):
        return None
    if pa.types.is_boolean(arrow_type):
        return "bool"
    if pa.types.is_integer(arrow_type):
        return "bigint"
    if pa.types.is_floating(arrow_type):
        return "double"
    if pa.types.is_string(arrow_type):
        return "text"
    raise pa.ArrowTypeError(f"no column kind for Arrow type {arrow_type}")


def json_text(values: list[Any]) -> EncodedColumn:
    """JSON values as a JSON column (None stays null)."""
    texts = [None if value is None else orjson.dumps(value) for value in values]
    return EncodedColumn("json", pa.array(texts, pa.string()))


def object_columns(objects: list[Any], prefix: str = "") -> Columns:
    """Columns of a list of JSON objects (or None): nested objects flattened as
    `<prefix>_<key>_<subkey>` (Segment Warehouses naming), lists kept whole as JSON text.
    Raises an Arrow error (or OverflowError) when a key holds values of different types."""
    columns: Columns = {}
    values = pa.array(objects)
    if pa.types.is_struct(values.type):
        _flatten_struct(values, objects, prefix, (), columns)
    return columns


def _flatten_struct(
    values: pa.StructArray,
    objects: list[Any],
    prefix: str,
    path: tuple[str, ...],
    columns: Columns,
) -> None:
    for field_type, child in zip(values.type, values.flatten(), strict=True):
        name = snake_case(f"{prefix}_{field_type.name}" if prefix else field_type.name)
        if not name:
            continue
        if pa.types.is_struct(field_type.type):
            _flatten_struct(child, objects, name, (*path, field_type.name), columns)
        elif pa.types.is_nested(field_type.type):
            # Arrow pads lists of objects with null keys: take the JSON from the input.
            field_path = (*path, field_type.name)
            columns[name] = json_text([_value_at(item, field_path) for item in objects])
        else:
            columns[name] = child


def _value_at(value: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


# Receipt times as 20 digits of microseconds since 1970 (0 before), a missing one last.
MISSING_RECEIPT = "9" * 20
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def receipt_order(received: datetime | None, order: str) -> str:
    """The `RECEIPT_ORDER` of one message: its receipt time, then its file and line."""
    if received is None:
        return MISSING_RECEIPT + order
    return f"{max((received - EPOCH) // timedelta(microseconds=1), 0):020d}{order}"


def receipt_orders(received: EncodedColumn, orders: list[str]) -> pa.Array:
    """`receipt_order` of a timestamp column's values and their file-and-line orders."""
    micros = received.values.cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
    digits = pc.utf8_lpad(pc.max_element_wise(micros, 0).cast(pa.string()), 20, "0")
    return pc.binary_join_element_wise(
        digits.fill_null(MISSING_RECEIPT), pa.array(orders, pa.string()), ""
    )


def timestamp_column(values: list[Any] | pa.Array) -> EncodedColumn:
    """ISO 8601 UTC texts (`Z` or no offset) as a timestamp column, each ending in `Z`;
    raises an Arrow error for anything else (another offset or format, an impossible date)."""
    texts = values if isinstance(values, pa.Array) else pa.array(values)
    if pa.types.is_null(texts.type):
        return EncodedColumn("timestamp", pa.nulls(len(texts), pa.string()))
    if not pa.types.is_string(texts.type):
        raise pa.ArrowInvalid(f"timestamps given as {texts.type}")
    if not pc.all(pc.match_substring_regex(texts, UTC_TIMESTAMP)).as_py():
        raise pa.ArrowInvalid("a timestamp is not an ISO 8601 UTC timestamp")
    with_offset = pc.if_else(
        pc.ends_with(texts, "Z"), texts, pc.binary_join_element_wise(texts, "Z", "")
    )
    with_offset.cast(pa.timestamp("us", tz="UTC"))
    return EncodedColumn("timestamp", with_offset)


@dataclass
class Rejection:
    """One input line or record that could not be loaded, and why, kept losslessly.

    `raw_text` is the line exactly when it is UTF-8 without NUL (PostgreSQL text holds no
    NUL); otherwise it shows the line with `\\xNN` escapes for those bytes and `raw_base64`
    holds its exact bytes. A file that cannot be read at all is one rejection with line 0.
    """

    source: str
    file: str
    line_number: int
    raw_text: str
    raw_base64: str | None
    error: str

    @classmethod
    def of_line(
        cls, source: str, file: str, line_number: int, line: bytes, error: Any
    ) -> Rejection:
        try:
            text, exact = line.decode("utf-8"), b"\x00" not in line
        except UnicodeDecodeError:
            text, exact = line.decode("utf-8", errors="backslashreplace"), False
        return cls(
            source=source,
            file=file,
            line_number=line_number,
            raw_text=text if exact else text.replace("\x00", "\\x00"),
            raw_base64=None if exact else base64.b64encode(line).decode(),
            error=str(error).replace("\x00", "\\x00"),
        )


RowsOf = Iterable[tuple[str, dict[str, Any], TableHints]]
ColumnsOf = Iterable[tuple[str, Columns, TableHints]]


@dataclass(frozen=True)
class JsonLinesFormat:
    """How a source turns its JSON lines into table rows, two ways.

    `is_plain` says whether a message is ordinary (the usual types everywhere);
    `plain_columns` turns a list of ordinary messages (with the file-and-line part of their
    `RECEIPT_ORDER`, see `receipt_orders`) into typed columns per table at once
    and raises an Arrow error (or OverflowError) when their values do not fit columns (a
    key with values of different types, a timestamp Arrow cannot read). `message_rows`
    turns any one message into rows, raising ValueError (or TypeError) with the reason
    when it is malformed.
    """

    source: str
    is_plain: Callable[[Any], bool]
    plain_columns: Callable[[list[Any], list[str], str], ColumnsOf]
    message_rows: Callable[[Any, str, str], RowsOf]


def json_lines_items(
    line_format: JsonLinesFormat,
    stream: BinaryIO,
    file: str,
    batches: TableBatches,
    counter: ReadCounter,
) -> Iterator[Any]:
    """Batches of the rows of one file's JSON lines (`stream`, decompressed), then its
    `_rejected` rows.

    Lines go in chunks of `CHUNK_LINES`: the ordinary messages of a chunk become columns at
    once; the others, or all of them when their values do not fit columns, go message by
    message, so a malformed line is rejected with its own line number and reason.
    """
    rejections: list[Rejection] = []
    counter.streams += 1
    chunks = _line_chunks(line_format.source, stream, file, counter, rejections)
    for first_number, lines in chunks:
        yield from _chunk_items(
            line_format,
            counter.streams,
            range(first_number, first_number + len(lines)),
            lines,
            file,
            batches,
            counter,
            rejections,
        )
    if rejections:
        yield rejected_rows(rejections)


class GunzipStream:
    """The decompressed bytes of a gzip stream (`read1`), as far as it can be read: unlike
    `gzip.GzipFile`, everything before a cut comes out before the error (`EOFError`), so a
    truncated file loads its whole lines. Members follow one another, as in gzip."""

    MAX_OUTPUT = 8 << 20

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.decompressor: Any = None
        self.pending = b""
        self.finished = False

    def read1(self, size: int = READ_BYTES) -> bytes:
        while not self.finished:
            data, self.pending = self.pending or self.raw.read(size), b""
            if not data:
                self.finished = True
                if self.decompressor is not None:
                    raise EOFError("the gzip stream ends before its end-of-stream marker")
                return b""
            if self.decompressor is None:
                data = data.lstrip(b"\x00")  # padding between members, as gzip allows
                if not data:
                    continue
                self.decompressor = zlib.decompressobj(wbits=31)
            try:
                output = self.decompressor.decompress(data, self.MAX_OUTPUT)
            except zlib.error as error:
                self.finished = True
                raise OSError(f"not a gzipped file or a corrupt one ({error})") from None
            if self.decompressor.eof:
                self.pending, self.decompressor = self.decompressor.unused_data, None
            else:
                self.pending = self.decompressor.unconsumed_tail
            if output:
                return output
        return b""


def _line_chunks(
    source: str, stream: BinaryIO, file: str, counter: ReadCounter, rejections: list[Rejection]
) -> Iterator[tuple[int, list[bytes]]]:
    """(number of the first line, lines) of each `CHUNK_LINES` lines of `stream`; a stream
    that breaks off (a truncated or corrupt file) ends with a rejection of what follows its
    last whole line."""
    first_number, lines, rest, started = 1, [], b"", False
    try:
        while block := stream.read1(READ_BYTES):
            if not started:
                block, started = block.removeprefix(UTF8_BOM), True
            lines.extend((rest + block).split(b"\n"))
            rest = lines.pop()
            while len(lines) >= CHUNK_LINES:
                yield first_number, lines[:CHUNK_LINES]
                del lines[:CHUNK_LINES]
                first_number += CHUNK_LINES
        if rest:
            lines.append(rest)
    except (OSError, EOFError, zipfile.BadZipFile, ValueError) as error:
        counter.read += 1
        counter.rejected += 1
        if started:
            after = first_number + len(lines)
            reason = f"unreadable after this line: {error}"
        else:
            after, reason = 0, f"unreadable file: {error}"
        rejections.append(Rejection.of_line(source, file, after, rest, reason))
    if lines:
        yield first_number, lines


def _chunk_items(
    line_format: JsonLinesFormat,
    stream: int,
    numbers: Sequence[int],
    lines: list[bytes],
    file: str,
    batches: TableBatches,
    counter: ReadCounter,
    rejections: list[Rejection],
) -> Iterator[Any]:
    try:
        messages = [orjson.loads(line) for line in lines]
        counter.read += len(lines)
    except orjson.JSONDecodeError:
        numbers, lines, messages = _parse_one_by_one(
            line_format.source, numbers, lines, file, counter, rejections
        )
    numbers, lines, messages = _storable(
        line_format.source, numbers, lines, messages, file, counter, rejections
    )
    orders = [f"{stream:08d}{number:010d}" for number in numbers]
    plain = [line_format.is_plain(message) for message in messages]
    others = [position for position, is_plain in enumerate(plain) if not is_plain]
    tables: list[tuple[str, Columns, TableHints]] = []
    try:
        if len(others) < len(messages):
            chosen = [position for position, is_plain in enumerate(plain) if is_plain]
            tables = list(
                line_format.plain_columns(
                    [messages[position] for position in chosen],
                    [orders[position] for position in chosen],
                    file,
                )
            )
    except (pa.ArrowException, OverflowError, TypeError, ValueError):
        others = list(range(len(messages)))
    for position in others:
        try:
            rows = list(line_format.message_rows(messages[position], orders[position], file))
        except (ValueError, TypeError, OverflowError) as error:
            counter.rejected += 1
            rejections.append(
                Rejection.of_line(
                    line_format.source, file, numbers[position], lines[position], error
                )
            )
            continue
        for table, row, hints in rows:
            yield from batches.add(table, row, hints)
    for table, columns, hints in tables:
        yield from batches.add_columns(table, columns, hints)


def _parse_one_by_one(
    source: str,
    numbers: Sequence[int],
    lines: list[bytes],
    file: str,
    counter: ReadCounter,
    rejections: list[Rejection],
) -> tuple[list[int], list[bytes], list[Any]]:
    """The numbers, texts and messages of the lines that parse; blank lines are skipped,
    the others rejected."""
    parsed: tuple[list[int], list[bytes], list[Any]] = ([], [], [])
    for number, line in zip(numbers, lines, strict=True):
        if not line.strip():
            continue
        counter.read += 1
        try:
            message = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            counter.rejected += 1
            rejections.append(Rejection.of_line(source, file, number, line, error))
            continue
        for values, value in zip(parsed, (number, line, message), strict=True):
            values.append(value)
    return parsed


NUL_ESCAPE = b"\\u0000"


def _storable(
    source: str,
    numbers: Sequence[int],
    lines: list[bytes],
    messages: list[Any],
    file: str,
    counter: ReadCounter,
    rejections: list[Rejection],
) -> tuple[Sequence[int], list[bytes], list[Any]]:
    """The parsed lines PostgreSQL can store; the others are rejected: a string holding NUL
    (`\\u0000`, which text and jsonb refuse) or nesting deeper than `MAX_DEPTH`. Both are
    looked for only in lines that could hold them."""
    bad: dict[int, str] = {}
    for position, line in enumerate(lines):
        if NUL_ESCAPE in line and _holds_nul(messages[position]):
            bad[position] = "holds a NUL character (\\u0000), which PostgreSQL cannot store"
        elif line.count(b"{") + line.count(b"[") > MAX_DEPTH and (
            _depth(messages[position]) > MAX_DEPTH
        ):
            bad[position] = f"nested deeper than {MAX_DEPTH} levels"
    if not bad:
        return numbers, lines, messages
    for position, reason in bad.items():
        counter.rejected += 1
        rejections.append(
            Rejection.of_line(source, file, numbers[position], lines[position], reason)
        )
    kept = [position for position in range(len(lines)) if position not in bad]
    return (
        [numbers[position] for position in kept],
        [lines[position] for position in kept],
        [messages[position] for position in kept],
    )


def _holds_nul(value: Any) -> bool:
    pending = [value]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return True
        elif isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return False


def _depth(value: Any) -> int:
    deepest, pending = 0, [(value, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict | list):
            deepest = max(deepest, depth)
            children = value.values() if isinstance(value, dict) else value
            pending.extend((child, depth + 1) for child in children)
    return deepest


REJECTED_COLUMNS = {
    "source": pa.string(),
    "file": pa.string(),
    "line_number": pa.int64(),
    "raw_text": pa.string(),
    "raw_base64": pa.string(),
    "error": pa.string(),
    "load_id": pa.string(),
    "_dlt_id": pa.string(),
}


def rejected_rows(rejections: list[Rejection]) -> Any:
    """The `_rejected` rows for a list of rejections, keyed by file and line, as an Arrow
    table (its `_dlt_id` made here, as dlt makes it for JSON rows)."""
    load_id = dlt.current.load_package_state()["load_id"]
    rows = [
        {**rejection.__dict__, "load_id": load_id, "_dlt_id": uniq_id()} for rejection in rejections
    ]
    table = pa.Table.from_pylist(rows, schema=pa.schema(REJECTED_COLUMNS))
    return dlt.mark.with_hints(
        table,
        dlt.mark.make_hints(
            table_name=REJECTED_TABLE,
            primary_key=["file", "line_number"],
            write_disposition="merge",
            columns={
                "_dlt_id": {"data_type": "text", "nullable": False, "unique": True, "row_key": True}
            },
        ),
        create_table_variant=True,
    )


@dataclass
class LoadReport:
    """What a load did; `read == loaded + duplicate + rejected`. A database copy calls its
    duplicates `unchanged`: rows read again that equal the warehouse's copy."""

    source: str
    read: int = 0
    loaded: int = 0
    duplicate: int = 0
    rejected: int = 0
    duplicate_label: str = "duplicate"

    @property
    def rejected_share(self) -> float:
        return self.rejected / self.read if self.read else 0.0

    def summary(self) -> str:
        return (
            f"{self.source}: read {self.read}, loaded {self.loaded}, "
            f"{self.duplicate_label} {self.duplicate}, rejected {self.rejected}"
        )


@dataclass
class ReadCounter:
    """Counts lines read and rejected while a source extracts, and shows the progress."""

    read: int = 0
    rejected: int = 0
    files: int = 0
    streams: int = 0
    progress: Progress | None = None
    task: TaskID | None = None

    def file_done(self) -> None:
        self.files += 1
        if self.progress is not None and self.task is not None:
            self.progress.update(
                self.task, description=f"{self.files} files, {self.read} lines read"
            )


def existing_column_kinds(
    target: warehouse.Connection, raw_schema: str
) -> dict[str, dict[str, str]]:
    """The kinds of the columns already in `raw_schema` (created by dlt or by dbt)."""
    with target.cursor() as cursor:
        cursor.execute(
            "select table_name, column_name, data_type from information_schema.columns"
            " where table_schema = %s",
            (raw_schema,),
        )
        kinds: dict[str, dict[str, str]] = {}
        for table, column, data_type in cursor.fetchall():
            kinds.setdefault(table, {})[column] = POSTGRES_KINDS.get(data_type, "text")
    return kinds


def index_lookups(
    pipeline: dlt.Pipeline, target: warehouse.Connection, counted_tables: Sequence[str]
) -> None:
    """Index what a load looks up in the tables of `pipeline`'s dataset, so that its cost
    follows the rows it loads, not the rows the tables hold: each merge table's key (dlt's
    merge finds the staged keys in the table) and the `_dlt_load_id` of `counted_tables`.

    Only tables and columns that exist; an index whose leading columns are these already
    (made by a previous load, by dbt or by hand) counts, so after the first time this costs
    two catalog queries.
    """
    schema = pipeline.default_schema
    wanted = [
        (table, tuple(get_columns_names_with_prop(schema.tables[table], "primary_key")))
        for table in schema.data_table_names()
        if get_write_disposition(schema.tables, table) == "merge"
    ]
    wanted += [(table, (LOAD_ID_COLUMN,)) for table in counted_tables]
    dataset = pipeline.dataset_name
    with target.cursor() as cursor:
        cursor.execute(
            "select table_name, array_agg(column_name::text) from information_schema.columns"
            " where table_schema = %s group by table_name",
            (dataset,),
        )
        columns = {table: set(names) for table, names in cursor.fetchall()}
        cursor.execute(
            "select indexed.relname, array_agg(attribute.attname::text order by key.position)"
            " from pg_index as index"
            " join pg_class as indexed on indexed.oid = index.indrelid"
            " join pg_namespace as namespace on namespace.oid = indexed.relnamespace"
            " cross join lateral unnest(index.indkey) with ordinality as key(number, position)"
            " join pg_attribute as attribute"
            "   on attribute.attrelid = indexed.oid and attribute.attnum = key.number"
            " where namespace.nspname = %s and index.indpred is null"
            " group by index.indexrelid, indexed.relname",
            (dataset,),
        )
        indexed = {(table, tuple(names)) for table, names in cursor.fetchall()}
        for table, keys in wanted:
            if not keys or not set(keys) <= columns.get(table, set()):
                continue
            if any(name == table and found[: len(keys)] == keys for name, found in indexed):
                continue
            cursor.execute(
                f"create index on {_quoted(dataset)}.{_quoted(table)}"
                f" ({', '.join(map(_quoted, keys))})"
            )
            indexed.add((table, keys))


def rows_loaded(
    target: warehouse.Connection, raw_schema: str, tables: Sequence[str], load_ids: Sequence[str]
) -> int:
    """Rows of `tables` written by the loads `load_ids` (through the `_dlt_load_id` index)."""
    if not load_ids:
        return 0
    with target.cursor() as cursor:
        cursor.execute(
            "select table_name from information_schema.columns"
            " where table_schema = %s and column_name = %s",
            (raw_schema, LOAD_ID_COLUMN),
        )
        existing = sorted({row[0] for row in cursor.fetchall()} & set(tables))
        total = 0
        for table in existing:
            cursor.execute(
                f"select count(*) from {_quoted(raw_schema)}.{_quoted(table)}"
                f" where {LOAD_ID_COLUMN} = any(%s)",
                (list(load_ids),),
            )
            total += cursor.fetchone()[0]
    return total


@dataclass(frozen=True)
class LoadedPackages:
    """What one run loaded: its dlt load ids and the rows it normalized per table."""

    load_ids: list[str]
    row_counts: dict[str, int]


def pipeline_for(raw_schema: str, target: warehouse.Connection) -> dlt.Pipeline:
    """The dlt pipeline loading `raw_schema`, named after it alone, so every machine loading
    into one warehouse shares its state there (dlt's `_dlt_pipeline_state`). Its local
    working folder belongs to one warehouse database (`working_folder_name`)."""
    return dlt.pipeline(
        pipeline_name=raw_schema,
        pipelines_dir=str(PIPELINES_DIR / working_folder_name(target)),
        destination=dlt.destinations.postgres(credentials=target.dlt_credentials()),
        dataset_name=raw_schema,
    )


def working_folder_name(target: warehouse.Connection) -> str:
    """The local working folder of one warehouse database: its server, its name and its
    object id, which a database dropped and created again does not keep. So a rebuilt
    warehouse never inherits the files a previous one loaded."""
    with target.cursor() as cursor:
        cursor.execute("select oid from pg_database where datname = current_database()")
        (oid,) = cursor.fetchone()
    return re.sub(r"[^A-Za-z0-9]+", "_", f"{target.host}_{target.port}_{target.database}_{oid}")


def load_packages(
    pipeline: dlt.Pipeline,
    source: Any,
    target: warehouse.Connection,
    counted_tables: Sequence[str],
    on_extracted: Callable[[], None] = lambda: None,
) -> LoadedPackages:
    """Extract, normalize and load `source` (Arrow tables by `COPY`), its lookups indexed
    (`index_lookups`) before the merge — in tables that exist — and after it, in the tables
    this load created."""
    # The warehouse holds the state: a missing or older local folder is restored from it.
    pipeline.sync_destination()
    _finish_interrupted_load(pipeline, target, counted_tables)
    _extract(pipeline, source)
    on_extracted()
    row_counts = pipeline.normalize().row_counts
    index_lookups(pipeline, target, counted_tables)
    load_ids = pipeline.load().loads_ids
    index_lookups(pipeline, target, counted_tables)
    return LoadedPackages(load_ids, row_counts)


def run_counted(
    source_name: str,
    build_source: Callable[[dict[str, dict[str, str]], ReadCounter], Any],
    raw_schema: str,
    message_tables: list[str],
    target: warehouse.Connection,
) -> LoadReport:
    """Load a line-oriented source and count what happened to every line read.

    `loaded` counts the rows this run added to the source's message tables; the merge adds
    only ids they do not hold yet, so a line whose id is already there (a duplicate
    delivery or a re-run) counts as a duplicate.
    """
    pipeline = pipeline_for(raw_schema, target)
    columns = SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn()
    with Progress(*columns, console=console, transient=True) as progress:
        counter = ReadCounter(progress=progress, task=progress.add_task(f"reading {source_name}"))
        source = build_source(existing_column_kinds(target, raw_schema), counter)
        loaded = load_packages(
            pipeline,
            source,
            target,
            message_tables,
            on_extracted=lambda: progress.update(
                counter.task, description=f"loading {counter.read} lines into {raw_schema}"
            ),
        )
    added = rows_loaded(target, raw_schema, message_tables, loaded.load_ids)
    return LoadReport(
        source=source_name,
        read=counter.read,
        loaded=added,
        duplicate=counter.read - counter.rejected - added,
        rejected=counter.rejected,
    )


def _extract(pipeline: dlt.Pipeline, source: Any) -> None:
    """Extract `source`; unreachable storage or missing credentials are user errors."""
    try:
        pipeline.extract(source, loader_file_format="csv")
    except PipelineStepFailed as failure:
        cause = _expected_cause(failure)
        if cause is None:
            raise
        if isinstance(cause, UserError):
            raise cause from None
        raise UserError(f"{type(cause).__name__}: {_first_line(cause)}") from None


def _expected_cause(failure: BaseException) -> BaseException | None:
    """The user-actionable error (bad path, credentials, permissions) behind a failed step."""
    error: BaseException | None = failure
    while error is not None:
        if isinstance(error, UserError | OSError | ConfigFieldMissingException):
            return error
        if type(error).__module__.startswith("botocore"):
            return error
        error = error.__cause__ or error.__context__
    return None


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _finish_interrupted_load(
    pipeline: dlt.Pipeline, target: warehouse.Connection, counted_tables: Sequence[str]
) -> None:
    """A killed run may leave extracted or normalized packages: load them first, so the
    counts of this run cover only its own lines."""
    if pipeline.list_extracted_load_packages() or pipeline.list_normalized_load_packages():
        logging.getLogger("dlt").info("finishing an interrupted load")
        pipeline.normalize()
        index_lookups(pipeline, target, counted_tables)
        pipeline.load()
