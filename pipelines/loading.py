"""Runs dlt pipelines into the warehouse's raw schemas, fast and without losing a line.

Sources parse their input into plain row dicts and hand them to a `TableBatches`, which
turns them into typed Arrow tables: dlt then skips its row-by-row normalizer and loads
them with PostgreSQL `COPY` (the csv loader file format). Lines that cannot be parsed
become rows of the schema's `_rejected` table. Every run ends with a `LoadReport` whose
read / loaded / duplicate / rejected counts add up.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import dlt
import orjson
import pyarrow as pa
from dlt.common.configuration.exceptions import ConfigFieldMissingException
from dlt.common.pipeline import LoadInfo
from dlt.pipeline.exceptions import PipelineStepFailed
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from pipelines import warehouse
from pipelines.errors import UserError
from pipelines.warehouse import PROJECT_ROOT

PIPELINES_DIR = PROJECT_ROOT / ".warehouse" / "dlt"
REJECTED_TABLE = "_rejected"
BATCH_ROWS = 20_000

console = Console(stderr=True)


class _JsonHintNotice(logging.Filter):
    """JSON columns travel as Arrow strings with a `json` hint, which dlt reports as a hint
    difference on every batch; the destination stores them as jsonb as intended."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "when merging arrow schema with dlt schema" not in record.getMessage()


logging.getLogger("dlt").addFilter(_JsonHintNotice())

# A column's kind: how its values are stored. Values of another kind than the column's go to
# a variant column `<name>__v_<kind>` (dlt's convention), so a type conflict never fails.
ARROW_TYPES = {
    "bool": pa.bool_(),
    "bigint": pa.int64(),
    "double": pa.float64(),
    "text": pa.string(),
    "json": pa.string(),
    "timestamp": pa.timestamp("us", tz="UTC"),
}
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
def snake_case(name: str) -> str:
    """`userAgent` -> `user_agent`, `$insert_id` -> `insert_id`, `Plan Viewed` -> `plan_viewed`."""
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


@dataclass(frozen=True)
class TableHints:
    """How a table merges, and the columns it always has (name -> kind) even when a batch
    holds no value for them."""

    primary_key: str | tuple[str, ...]
    columns: dict[str, str] = field(default_factory=dict)
    dedup_sort: str | None = None


class TableBatches:
    """Buffers rows per table and yields them as typed Arrow tables with dlt hints.

    `known_kinds` holds the kinds of columns that already exist (in the warehouse or
    declared by the source); new columns take the kind of their first value.
    """

    def __init__(self, known_kinds: dict[str, dict[str, str]], batch_rows: int = BATCH_ROWS):
        self.kinds = {table: dict(columns) for table, columns in known_kinds.items()}
        self.batch_rows = batch_rows
        self.rows: dict[str, list[dict[str, Any]]] = {}
        self.hints: dict[str, TableHints] = {}

    def add(self, table: str, row: dict[str, Any], hints: TableHints) -> Iterator[Any]:
        """Buffer `row`; yield the table's batch when it is full."""
        buffered = self.rows.setdefault(table, [])
        self.hints[table] = hints
        buffered.append(row)
        if len(buffered) >= self.batch_rows:
            yield self._flush(table)

    def flush_all(self) -> Iterator[Any]:
        for table in [table for table, rows in self.rows.items() if rows]:
            yield self._flush(table)

    def _flush(self, table: str) -> Any:
        rows = self.rows.pop(table)
        hints = self.hints[table]
        kinds = self.kinds.setdefault(table, {})
        columns: dict[str, list[Any]] = {}
        for name, kind in hints.columns.items():
            kinds.setdefault(name, kind)
            columns[name] = [None] * len(rows)
        for position, row in enumerate(rows):
            for name, value in row.items():
                if value is None:
                    continue
                column = self._column_for(kinds, name, value)
                values = columns.get(column)
                if values is None:
                    values = columns[column] = [None] * len(rows)
                values[position] = _stored_value(kinds[column], value)
        arrays = {
            name: pa.array(values, ARROW_TYPES[kinds[name]]) for name, values in columns.items()
        }
        column_hints: dict[str, dict[str, Any]] = {
            name: {"data_type": "json"} for name in columns if kinds[name] == "json"
        }
        if hints.dedup_sort:
            column_hints.setdefault(hints.dedup_sort, {})["dedup_sort"] = "desc"
        return dlt.mark.with_hints(
            pa.table(arrays),
            dlt.mark.make_hints(
                table_name=table,
                primary_key=list(hints.primary_key)
                if isinstance(hints.primary_key, tuple)
                else hints.primary_key,
                write_disposition="merge",
                columns=column_hints,
            ),
            create_table_variant=True,
        )

    @staticmethod
    def _column_for(kinds: dict[str, str], name: str, value: Any) -> str:
        kind = value_kind(value)
        existing = kinds.setdefault(name, kind)
        if existing == kind or (existing == "double" and kind == "bigint"):
            return name
        if existing == "text" and kind != "json":
            return name
        variant = f"{name}__v_{kind}"
        kinds.setdefault(variant, kind)
        return variant


def _stored_value(kind: str, value: Any) -> Any:
    if kind == "json":
        return orjson.dumps(value).decode()
    if kind == "text" and not isinstance(value, str):
        return orjson.dumps(value).decode() if isinstance(value, dict | list) else str(value)
    if kind == "double":
        return float(value)
    return value


@dataclass
class Rejection:
    """One input line or record that could not be loaded, and why."""

    source: str
    file: str
    line_number: int
    raw_text: str
    error: str


def rejected_rows(rejections: list[Rejection]) -> Any:
    """The `_rejected` rows for a list of rejections, keyed by file and line."""
    load_id = dlt.current.load_package_state()["load_id"]
    rows = [{**rejection.__dict__, "load_id": load_id} for rejection in rejections]
    return dlt.mark.with_hints(
        rows,
        dlt.mark.make_hints(
            table_name=REJECTED_TABLE,
            primary_key=["file", "line_number"],
            write_disposition="merge",
        ),
        create_table_variant=True,
    )


@dataclass
class LoadReport:
    """What a load did; `read == loaded + duplicate + rejected`."""

    source: str
    read: int = 0
    loaded: int = 0
    duplicate: int = 0
    rejected: int = 0

    @property
    def rejected_share(self) -> float:
        return self.rejected / self.read if self.read else 0.0

    def summary(self) -> str:
        return (
            f"{self.source}: read {self.read}, loaded {self.loaded}, "
            f"duplicate {self.duplicate}, rejected {self.rejected}"
        )


@dataclass
class ReadCounter:
    """Counts lines read and rejected while a source extracts, and shows the progress."""

    read: int = 0
    rejected: int = 0
    files: int = 0
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


def count_rows(target: warehouse.Connection, raw_schema: str, tables: list[str]) -> int:
    """Rows in the given tables of `raw_schema`; a table not created yet counts 0."""
    with target.cursor() as cursor:
        cursor.execute(
            "select table_name from information_schema.tables where table_schema = %s",
            (raw_schema,),
        )
        existing = {row[0] for row in cursor.fetchall()} & set(tables)
        total = 0
        for table in sorted(existing):
            cursor.execute(f'select count(*) from "{raw_schema}"."{table}"')
            total += cursor.fetchone()[0]
    return total


def pipeline_for(raw_schema: str, target: warehouse.Connection) -> dlt.Pipeline:
    """The dlt pipeline loading `raw_schema`; state is kept per warehouse database."""
    return dlt.pipeline(
        pipeline_name=_pipeline_name(raw_schema, target),
        pipelines_dir=str(PIPELINES_DIR),
        destination=dlt.destinations.postgres(credentials=target.dlt_credentials()),
        dataset_name=raw_schema,
    )


def run(source: Any, raw_schema: str, target: warehouse.Connection) -> LoadInfo:
    """Load `source` into `raw_schema`: Arrow tables go by `COPY` (csv), the rest by insert."""
    pipeline = pipeline_for(raw_schema, target)
    with console.status(f"loading into {raw_schema}"):
        return pipeline.run(source, loader_file_format="csv")


def run_counted(
    source_name: str,
    build_source: Callable[[dict[str, dict[str, str]], ReadCounter], Any],
    raw_schema: str,
    message_tables: list[str],
    target: warehouse.Connection,
) -> LoadReport:
    """Load a line-oriented source and count what happened to every line read.

    `loaded` is the growth of the source's message tables, so a line whose id is already
    there (a duplicate delivery or a re-run) counts as a duplicate.
    """
    pipeline = pipeline_for(raw_schema, target)
    _finish_interrupted_load(pipeline)
    before = count_rows(target, raw_schema, message_tables)
    columns = SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn()
    with Progress(*columns, console=console, transient=True) as progress:
        counter = ReadCounter(progress=progress, task=progress.add_task(f"reading {source_name}"))
        source = build_source(existing_column_kinds(target, raw_schema), counter)
        _extract(pipeline, source)
        progress.update(counter.task, description=f"loading {counter.read} lines into {raw_schema}")
        pipeline.normalize()
        pipeline.load()
    loaded = count_rows(target, raw_schema, message_tables) - before
    return LoadReport(
        source=source_name,
        read=counter.read,
        loaded=loaded,
        duplicate=counter.read - counter.rejected - loaded,
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


def _finish_interrupted_load(pipeline: dlt.Pipeline) -> None:
    """A killed run may leave extracted or normalized packages: load them first, so the
    counts of this run cover only its own lines."""
    if pipeline.list_extracted_load_packages() or pipeline.list_normalized_load_packages():
        with console.status("finishing an interrupted load"):
            pipeline.normalize()
            pipeline.load()


def _pipeline_name(raw_schema: str, target: warehouse.Connection) -> str:
    """One dlt working directory per raw schema and warehouse database."""
    location = re.sub(r"[^A-Za-z0-9]+", "_", f"{target.host}_{target.port}_{target.database}")
    return f"{raw_schema}__{location}"
