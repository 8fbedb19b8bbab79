"""Column kinds and typed Arrow columns: how a JSON value is stored (bool, bigint, double,
text, JSON, timestamp), the columns of a list of objects (nested objects flattened, lists as
JSON), ISO 8601 UTC timestamps checked a column at a time, and the kinds of the columns the
warehouse already has."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from pipelines import warehouse
from pipelines.loading.naming import snake_case

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
