"""JSON lines into rows, fast and without losing a line: the ordinary messages of a chunk
become typed Arrow columns at once (`JsonLinesFormat.plain_columns`), an unusual one takes
the per-message path (`message_rows`) and a malformed one is quarantined with its line
number and reason."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

import orjson
import pyarrow as pa

from pipelines.loading.batches import TableBatches, TableHints
from pipelines.loading.columns import Columns
from pipelines.loading.counting import ReadCounter
from pipelines.loading.property_paths import EventPaths, PropertyPaths
from pipelines.loading.quarantine import Rejection, rejected_rows, storable
from pipelines.loading.reading import line_chunks

if TYPE_CHECKING:
    from pipelines.loading.chunk_workers import ChunkWorkers

REJECTIONS_HELD = 5_000
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
    when it is malformed. Both add the property paths they see to `property_paths`, if any.
    """

    source: str
    is_plain: Callable[[Any], bool]
    plain_columns: Callable[[list[Any], list[str], str], ColumnsOf]
    message_rows: Callable[[Any, str, str], RowsOf]
    property_paths: PropertyPaths | None = None


def json_lines_items(
    line_format: JsonLinesFormat,
    stream: BinaryIO,
    file: str,
    batches: TableBatches,
    counter: ReadCounter,
    workers: ChunkWorkers | None = None,
) -> Iterator[Any]:
    """Batches of the rows of one file's JSON lines (`stream`, decompressed), then its
    `_rejected` rows.

    Lines go in chunks of `CHUNK_LINES` (to `workers` when given, see `chunk_workers`): the
    ordinary messages of a chunk become columns at once; the others, or all of them when
    their values do not fit columns, go message by message, so a malformed line is rejected
    with its own line number and reason. The chunks' rows are added in the order the lines
    were read.
    """
    rejections: list[Rejection] = []
    counter.streams += 1
    chunks = (
        (counter.streams, first_number, lines, file)
        for first_number, lines in line_chunks(
            line_format.source, stream, file, counter, rejections
        )
    )
    if workers is None:
        results: Iterable[ChunkRows] = (chunk_rows(line_format, *chunk) for chunk in chunks)
    else:
        results = workers.rows(chunks)
    for result in results:
        counter.read += result.read
        counter.rejected += len(result.rejections)
        rejections.extend(result.rejections)
        if result.property_paths is not None and line_format.property_paths is not None:
            line_format.property_paths.merge(result.property_paths)
        for table, row, hints in result.rows:
            yield from batches.add(table, row, hints)
        for table, columns, hints in result.tables:
            yield from batches.add_columns(table, columns, hints)
        # A file of nothing but bad lines must not hold them all in memory.
        if len(rejections) >= REJECTIONS_HELD:
            yield rejected_rows(rejections)
            rejections.clear()
    if rejections:
        yield rejected_rows(rejections)


@dataclass
class ChunkRows:
    """What one chunk of lines became: how many lines it read, the rows of its unusual
    messages (one by one, in line order), the columns of its ordinary ones, its rejections,
    and (from a worker process) the property paths it saw."""

    read: int
    rows: list[tuple[str, dict[str, Any], TableHints]]
    tables: list[tuple[str, Columns, TableHints]]
    rejections: list[Rejection]
    property_paths: EventPaths | None = None


def chunk_rows(
    line_format: JsonLinesFormat, stream: int, first_number: int, lines: list[bytes], file: str
) -> ChunkRows:
    """The rows of one chunk of lines numbered from `first_number` in the `stream`-th stream
    of the load (their `RECEIPT_ORDER`), its bad lines rejected."""
    counter, rejections = ReadCounter(), []
    numbers: Sequence[int] = range(first_number, first_number + len(lines))
    try:
        messages = [orjson.loads(line) for line in lines]
        counter.read += len(lines)
    except orjson.JSONDecodeError:
        numbers, lines, messages = _parse_one_by_one(
            line_format.source, numbers, lines, file, counter, rejections
        )
    numbers, lines, messages = storable(
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
    rows: list[tuple[str, dict[str, Any], TableHints]] = []
    for position in others:
        try:
            message_rows = list(
                line_format.message_rows(messages[position], orders[position], file)
            )
        except (ValueError, TypeError, OverflowError) as error:
            rejections.append(
                Rejection.of_line(
                    line_format.source, file, numbers[position], lines[position], error
                )
            )
            continue
        rows.extend(message_rows)
    return ChunkRows(counter.read, rows, tables, rejections)


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
