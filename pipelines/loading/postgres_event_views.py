"""Segment Warehouses' table per event name, as PostgreSQL views over `tracks`: each track
is written once (into `tracks`) and its event's view spreads its `properties` into columns.

A view's columns are the tracks columns (`properties` aside) and one column per property
path, named as a nested object's keys are flattened (`repo.provider` -> `repo_provider`),
typed by the first kind a load saw on that path, with a variant `<name>__v_<kind>` for
values of another kind (the rules of `batches.column_for`). The paths and kinds come from
the lines as they are read (`PropertyPaths`); the columns of every view are kept in
`_event_view_columns`, so a view redefined later keeps its columns, in their order. Paths
are read back from the rows (a recursive walk of their JSON in PostgreSQL) only where no
reader saw them: a load finished after an interrupted run, and an event relation that an
earlier loader wrote as a table, which becomes a view the first time its event loads
again (every one of its rows is in `tracks`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dlt.common.schema.typing import C_DLT_LOAD_ID
from psycopg2.extras import execute_values

from pipelines import warehouse
from pipelines.loading.batches import column_for
from pipelines.loading.delivery_order import RECEIPT_ORDER
from pipelines.loading.merging import base_table_columns
from pipelines.loading.naming import POSTGRES_NAMING, quoted, snake_case
from pipelines.loading.property_paths import PropertyPaths

VIEW_COLUMNS_TABLE = "_event_view_columns"
KIND_FUNCTION = "_json_kind"
SQL_TYPES = {
    "bool": "boolean",
    "bigint": "bigint",
    "double": "double precision",
    "text": "text",
    "json": "jsonb",
}
# Which kinds of value a column of a kind holds (the others go to variants), as
# `batches.column_for` decides.
ACCEPTED_KINDS = {
    "bool": ("bool",),
    "bigint": ("bigint",),
    "double": ("double", "bigint"),
    "text": ("text", "bool", "bigint", "double"),
    "json": ("json",),
}


@dataclass(frozen=True)
class ViewColumn:
    """A column of an event view: a tracks column (`path` empty) or a property path's values
    of `kind` (`main_kind`: the kind of the column named after the path, which a variant
    column is not)."""

    name: str
    path: tuple[str, ...] = ()
    kind: str = ""
    main_kind: str = ""

    def expression(self, schema: str, json_column: str) -> str:
        if not self.path:
            return f"tracks.{quoted(self.name)}"
        value = f"tracks.{quoted(json_column)} #> {_text_array(self.path)}"
        kinds = ACCEPTED_KINDS[self.main_kind] if self.kind == self.main_kind else (self.kind,)
        listed = ", ".join(f"'{kind}'" for kind in kinds)
        cast = value if self.kind == "json" else f"({value} #>> '{{}}')::{SQL_TYPES[self.kind]}"
        return f"case when {quoted(schema)}.{KIND_FUNCTION}({value}) in ({listed}) then {cast} end"


def property_column_name(path: Sequence[str]) -> str:
    """The column of a property path, as `flatten` names it ("" when a key has no name)."""
    name = ""
    for key in path:
        name = snake_case(f"{name}_{key}" if name else key)
        if not name:
            return ""
    return POSTGRES_NAMING.normalize_identifier(name)


def refresh_event_views(
    target: warehouse.Connection,
    schema: str,
    table: str,
    event_column: str,
    json_column: str,
    seen: PropertyPaths,
    read_back: Sequence[str] = (),
) -> None:
    """Create or extend the view of every event of `seen` (the property paths a load saw
    while reading its lines) and of the loads `read_back` (loaded by an earlier, interrupted
    run: their paths are read back from their rows in `table`)."""
    with target.cursor() as cursor:
        _ensure_catalog(cursor, schema)
        tables = base_table_columns(cursor, schema)
        base_columns = tables.get(table, [])
        if json_column not in base_columns:
            return
        source = schema, table, event_column, json_column
        paths = {event: seen.kinds(event) for event in seen.events}
        if read_back:
            rows = f"{C_DLT_LOAD_ID} = any(%s)"
            _merge(paths, _path_kinds(cursor, *source, rows, [list(read_back)]))
        legacy = set(paths) & tables.keys()
        if legacy:
            # Every row of an event written as a table before: its columns come from all.
            rows = f"{quoted(event_column)} = any(%s)"
            _merge(paths, _path_kinds(cursor, *source, rows, [sorted(legacy)]))
        for event in sorted(event for event in paths if event):
            if event in legacy:
                cursor.execute(f"drop table {quoted(schema)}.{quoted(event)}")
            registered = _registered_columns(cursor, schema, event)
            columns = _view_columns(
                registered, [name for name in base_columns if name != json_column], paths[event]
            )
            if columns == registered:
                continue
            _define_view(cursor, schema, table, event_column, json_column, event, columns)


def _merge(
    paths: dict[str, list[tuple[tuple[str, ...], str]]],
    more: dict[str, list[tuple[tuple[str, ...], str]]],
) -> None:
    for event, kinds in more.items():
        paths.setdefault(event, []).extend(kinds)


def _ensure_catalog(cursor, schema: str) -> None:
    cursor.execute(f"create schema if not exists {quoted(schema)}")
    cursor.execute(
        f"create table if not exists {quoted(schema)}.{VIEW_COLUMNS_TABLE} ("
        " view_name text not null, position integer not null, column_name text not null,"
        " path text[] not null, kind text not null, main_kind text not null,"
        " primary key (view_name, position))"
    )
    # The kind of a JSON value as `columns.value_kind` gives it (null for a JSON null).
    cursor.execute(
        f"create or replace function {quoted(schema)}.{KIND_FUNCTION}(value jsonb) returns text"
        " language sql immutable parallel safe as $$"
        " select case jsonb_typeof(value)"
        " when 'object' then 'json' when 'array' then 'json' when 'string' then 'text'"
        " when 'boolean' then 'bool'"
        " when 'number' then case"
        "   when value::text !~ '^-?[0-9]+$' then 'double'"
        "   when value::text::numeric between -9223372036854775808 and 9223372036854775807"
        "   then 'bigint' else 'text' end"
        " end $$"
    )


def _path_kinds(
    cursor,
    schema: str,
    table: str,
    event_column: str,
    json_column: str,
    rows: str,
    parameters: list,
) -> dict[str, list[tuple[tuple[str, ...], str]]]:
    """Per event, (path, kind) of every non-null leaf value of the JSON objects of `rows`
    (lists are leaves), in the order of their first appearance (receipt order)."""
    cursor.execute(
        "with recursive leaves (event, path, value, receipt) as ("
        f"  select source.{quoted(event_column)}, array[entry.key], entry.value,"
        f"  source.{RECEIPT_ORDER} from {quoted(schema)}.{quoted(table)} as source"
        f"  cross join lateral jsonb_each(case jsonb_typeof(source.{quoted(json_column)})"
        f"   when 'object' then source.{quoted(json_column)} end) as entry"
        f"  where {rows}"
        "  union all"
        "  select leaves.event, leaves.path || entry.key, entry.value, leaves.receipt"
        "  from leaves cross join lateral jsonb_each(leaves.value) as entry"
        "  where jsonb_typeof(leaves.value) = 'object'"
        ")"
        f" select event, path, {quoted(schema)}.{KIND_FUNCTION}(value) as kind from leaves"
        " where jsonb_typeof(value) not in ('object', 'null')"
        " group by event, path, kind order by min(receipt), path, kind",
        parameters,
    )
    paths: dict[str, list[tuple[tuple[str, ...], str]]] = {}
    for event, path, kind in cursor.fetchall():
        paths.setdefault(event, []).append((tuple(path), kind))
    return paths


def _registered_columns(cursor, schema: str, view: str) -> list[ViewColumn]:
    cursor.execute(
        f"select column_name, path, kind, main_kind from {quoted(schema)}.{VIEW_COLUMNS_TABLE}"
        " where view_name = %s order by position",
        (view,),
    )
    return [
        ViewColumn(name, tuple(path), kind, main_kind)
        for name, path, kind, main_kind in cursor.fetchall()
    ]


def _view_columns(
    registered: list[ViewColumn],
    base_columns: list[str],
    paths: list[tuple[tuple[str, ...], str]],
) -> list[ViewColumn]:
    """The registered columns in their order, then the base table's new columns, then a
    column for each new path and kind. A name the base table has is its column (a property
    of that name is left in the JSON); a path's integers and decimals, both new, make one
    decimal column, as Arrow types them."""
    columns = list(registered)
    kinds = {column.name: column.kind for column in columns}
    for name in base_columns:
        if name not in kinds:
            columns.append(ViewColumn(name))
            kinds[name] = ""
    new_kinds: dict[tuple[str, ...], list[str]] = {}
    for path, kind in paths:
        new_kinds.setdefault(path, []).append(kind)
    for path, kinds_of_path in new_kinds.items():
        name = property_column_name(path)
        if not name or name in base_columns:
            continue
        if name not in kinds and "double" in kinds_of_path and "bigint" in kinds_of_path:
            kinds_of_path = ["double", *kinds_of_path]
        for kind in kinds_of_path:
            column = column_for(kinds, name, kind)
            if column is None or any(known.name == column for known in columns):
                continue
            columns.append(ViewColumn(column, path, kind, kinds[name]))
    return columns


def _define_view(
    cursor,
    schema: str,
    table: str,
    event_column: str,
    json_column: str,
    event: str,
    columns: list[ViewColumn],
) -> None:
    selected = ", ".join(
        f"{column.expression(schema, json_column)} as {quoted(column.name)}" for column in columns
    )
    cursor.execute(
        f"create or replace view {quoted(schema)}.{quoted(event)} as select {selected}"
        f" from {quoted(schema)}.{quoted(table)} as tracks"
        f" where tracks.{quoted(event_column)} = {_literal(event)}"
    )
    cursor.execute(
        f"delete from {quoted(schema)}.{VIEW_COLUMNS_TABLE} where view_name = %s", (event,)
    )
    execute_values(
        cursor,
        f"insert into {quoted(schema)}.{VIEW_COLUMNS_TABLE}"
        " (view_name, position, column_name, path, kind, main_kind) values %s",
        [
            (event, position, column.name, list(column.path), column.kind, column.main_kind)
            for position, column in enumerate(columns)
        ],
    )


def _text_array(path: Sequence[str]) -> str:
    return "array[" + ", ".join(_literal(key) for key in path) + "]::text[]"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
