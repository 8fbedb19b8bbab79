"""Rows buffered per table and handed to dlt as typed Arrow tables with their merge hints,
at most `BUFFER_ROWS` rows in memory across all tables, and at most `MAX_TABLE_COLUMNS`
columns a table (PostgreSQL's limit is 1,600 and a row must fit a page)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import dlt
import orjson
import pyarrow as pa

from pipelines.loading.columns import (
    ARROW_TYPES,
    TEXT_ENCODED_KINDS,
    Columns,
    EncodedColumn,
    arrow_kind,
    value_kind,
)
from pipelines.loading.delivery_order import RECEIPT_ORDER
from pipelines.loading.merging import new_keys_merge

# Rows held across all tables before the largest table's batch goes to dlt: bounds memory
# whatever the input size and the number of event tables.
BUFFER_ROWS = 20_000

# At most this many columns per table (PostgreSQL allows 1,600, and a row must fit a page):
# a key that finds the table full is no column; its value stays in the message's JSON
# (`properties`, `traits`, Amplitude's `event_properties`).
MAX_TABLE_COLUMNS = 500
COLUMN_BUDGET = MAX_TABLE_COLUMNS - 1  # dlt adds `_dlt_load_id`


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
                column = column_for(kinds, name, kind)
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
                column = column_for(kinds, name, value_kind(value))
                if column is None:
                    continue
                values = columns.get(column)
                if values is None:
                    values = columns[column] = [None] * len(rows)
                values[position] = _stored_value(kinds[column], value)
        return pa.table(
            {name: pa.array(values, ARROW_TYPES[kinds[name]]) for name, values in columns.items()}
        )


def column_for(kinds: dict[str, str], name: str, kind: str) -> str | None:
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
