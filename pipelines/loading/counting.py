"""What a load did, counted so that `read == loaded + duplicate + rejected`: lines read
and rejected while extracting (with progress), and rows loaded counted from this run's own
rows through the `_dlt_load_id` index."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dlt.common.schema.typing import C_DLT_LOAD_ID
from rich.progress import Progress, TaskID

from pipelines import warehouse
from pipelines.loading.naming import quoted


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
            (raw_schema, C_DLT_LOAD_ID),
        )
        existing = sorted({row[0] for row in cursor.fetchall()} & set(tables))
        total = 0
        for table in existing:
            cursor.execute(
                f"select count(*) from {quoted(raw_schema)}.{quoted(table)}"
                f" where {C_DLT_LOAD_ID} = any(%s)",
                (list(load_ids),),
            )
            total += cursor.fetchone()[0]
    return total
