"""A load, end to end: the dlt pipeline of a raw schema (its state in the warehouse or the
lake, its working folder per warehouse database or lake), extract / normalize / load with
indexes kept up, an interrupted load finished first, and expected failures turned into
one-line errors."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import dlt
from dlt.common.configuration.exceptions import ConfigFieldMissingException
from dlt.pipeline.exceptions import PipelineStepFailed
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from pipelines import lake, warehouse
from pipelines.errors import UserError
from pipelines.loading.appending import appending_new_keys
from pipelines.loading.collection import fewer_collections
from pipelines.loading.columns import existing_column_kinds
from pipelines.loading.counting import LoadReport, ReadCounter, rows_loaded
from pipelines.loading.merging import index_lookups
from pipelines.warehouse import PROJECT_ROOT

PIPELINES_DIR = PROJECT_ROOT / ".warehouse" / "dlt"

console = Console(stderr=True)

# Where a load goes: the PostgreSQL warehouse, or the lake (`ANALYTICS_ENGINE=spark`).
Target = warehouse.Connection | lake.Lake


@dataclass(frozen=True)
class LoadedPackages:
    """What one run loaded: its dlt load ids, the rows it normalized per table and the
    tables it appended (`appending_new_keys`: each of their normalized rows was loaded)."""

    load_ids: list[str]
    row_counts: dict[str, int]
    appended: list[str] = field(default_factory=list)


def pipeline_for(raw_schema: str, target: Target) -> dlt.Pipeline:
    """The dlt pipeline loading `raw_schema`, named after it alone, so every machine loading
    into one warehouse (or lake) shares its state there (dlt's `_dlt_pipeline_state`). Its
    local working folder belongs to one warehouse database or lake (`working_folder_name`)."""
    if isinstance(target, lake.Lake):
        folder = target.working_folder_name()
        destination = dlt.destinations.filesystem(bucket_url=target.url)
    else:
        folder = working_folder_name(target)
        destination = dlt.destinations.postgres(credentials=target.dlt_credentials())
    return dlt.pipeline(
        pipeline_name=raw_schema,
        pipelines_dir=str(PIPELINES_DIR / folder),
        destination=destination,
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
    target: Target,
    counted_tables: Sequence[str],
    on_extracted: Callable[[], None] = lambda: None,
    after_load: Callable[[Sequence[str]], None] = lambda interrupted: None,
) -> LoadedPackages:
    """Extract, normalize and load `source` (Arrow tables by `COPY`; a message table whose
    keys are all new appended, not merged: `appending_new_keys`) with
    `fewer_collections`, its lookups indexed (`index_lookups`, on PostgreSQL) before the
    merge — in tables that exist — and after it, in the tables this load created; then
    `after_load`, given the load ids of an interrupted run that this one finished first. In
    the lake, Parquet files appended."""
    with fewer_collections():
        # The warehouse holds the state: a missing or older local folder is restored from it.
        pipeline.sync_destination()
        finished = _finish_interrupted_load(pipeline, target, counted_tables)
        _extract(pipeline, source, "parquet" if isinstance(target, lake.Lake) else "csv")
        on_extracted()
        row_counts, appended = _normalize(pipeline, target, counted_tables)
        _index_lookups(pipeline, target, counted_tables)
        load_ids = pipeline.load().loads_ids
        _index_lookups(pipeline, target, counted_tables)
        after_load(finished)
    return LoadedPackages(load_ids, row_counts, appended)


def run_counted(
    source_name: str,
    build_source: Callable[[dict[str, dict[str, str]], ReadCounter], Any],
    raw_schema: str,
    message_tables: list[str],
    target: Target,
    after_load: Callable[[Sequence[str]], None] = lambda interrupted: None,
) -> LoadReport:
    """Load a line-oriented source and count what happened to every line read.

    `loaded` counts the rows this run added to the source's message tables; the merge adds
    only ids they do not hold yet, so a line whose id is already there (a duplicate
    delivery or a re-run) counts as a duplicate. A table this run appended loaded every
    row it normalized, so its rows are not counted again in the warehouse (the first read
    of 1,000,000 fresh rows, 0.4 s of PostgreSQL's).
    """
    pipeline = pipeline_for(raw_schema, target)
    columns = SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn()
    with Progress(*columns, console=console, transient=True) as progress:
        counter = ReadCounter(progress=progress, task=progress.add_task(f"reading {source_name}"))
        source = build_source(known_column_kinds(pipeline, target), counter)
        loaded = load_packages(
            pipeline,
            source,
            target,
            message_tables,
            on_extracted=lambda: progress.update(
                counter.task, description=f"loading {counter.read} lines into {raw_schema}"
            ),
            after_load=after_load,
        )
    merged = [table for table in message_tables if table not in loaded.appended]
    added = counted_rows(pipeline, target, merged, loaded.load_ids) + sum(
        loaded.row_counts.get(table, 0) for table in loaded.appended
    )
    return LoadReport(
        source=source_name,
        read=counter.read,
        loaded=added,
        duplicate=counter.read - counter.rejected - added,
        rejected=counter.rejected,
    )


def known_column_kinds(pipeline: dlt.Pipeline, target: Target) -> dict[str, dict[str, str]]:
    """The kinds of the columns the raw tables of `pipeline` already hold."""
    if isinstance(target, lake.Lake):
        return lake.column_kinds(pipeline)
    return existing_column_kinds(target, pipeline.dataset_name)


def counted_rows(
    pipeline: dlt.Pipeline,
    target: Target,
    tables: Sequence[str],
    load_ids: Sequence[str],
    whole_rows: bool = False,
) -> int:
    """The rows of `tables` the loads `load_ids` added: on PostgreSQL the rows they wrote
    (the merge wrote only new keys); in the append-only lake the keys (or with
    `whole_rows` the rows) no other load wrote."""
    if isinstance(target, lake.Lake):
        return lake.rows_loaded(target, pipeline, tables, load_ids, whole_rows)
    return rows_loaded(target, pipeline.dataset_name, tables, load_ids)


def _normalize(
    pipeline: dlt.Pipeline, target: Target, counted_tables: Sequence[str]
) -> tuple[dict[str, int], list[str]]:
    """Normalize what was extracted, its tables of new keys only appended on PostgreSQL:
    the rows normalized per table, and the tables appended."""
    if isinstance(target, lake.Lake):
        return pipeline.normalize().row_counts, []
    with appending_new_keys(pipeline, target, counted_tables) as appended:
        return pipeline.normalize().row_counts, appended


def _index_lookups(pipeline: dlt.Pipeline, target: Target, counted_tables: Sequence[str]) -> None:
    if isinstance(target, warehouse.Connection):
        index_lookups(pipeline, target, counted_tables)


def _extract(pipeline: dlt.Pipeline, source: Any, file_format: str) -> None:
    """Extract `source`; unreachable storage or missing credentials are user errors."""
    try:
        pipeline.extract(source, loader_file_format=file_format)
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
    pipeline: dlt.Pipeline, target: Target, counted_tables: Sequence[str]
) -> list[str]:
    """A killed run may leave extracted or normalized packages: load them first, so the
    counts of this run cover only its own lines. Their load ids."""
    if not (pipeline.list_extracted_load_packages() or pipeline.list_normalized_load_packages()):
        return []
    logging.getLogger("dlt").info("finishing an interrupted load")
    pipeline.normalize()
    _index_lookups(pipeline, target, counted_tables)
    return list(pipeline.load().loads_ids)
