"""Lines that cannot be loaded, kept losslessly in the source's `_rejected` table with
their reason: `raw_text` exactly when it is UTF-8 without NUL, else escaped with the exact
bytes in `raw_base64`; and the messages PostgreSQL cannot store (NUL, deep nesting),
rejected rather than altered."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import dlt
import pyarrow as pa
from dlt.common.utils import uniq_id

from pipelines.loading.counting import ReadCounter

REJECTED_TABLE = "_rejected"

# Deeper messages are rejected: orjson writes JSON up to 255 levels, and no export nests so.
MAX_DEPTH = 64


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


NUL_ESCAPE = b"\\u0000"


def storable(
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
