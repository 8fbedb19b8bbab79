"""dlt source for Segment exports in the S3 destination layout (gzipped JSON lines)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import dlt

from pipelines.errors import UserError


def export_files(path: Path) -> list[Path]:
    """The export's `.gz` files in name order; a missing folder is a user error."""
    if not path.is_dir():
        raise UserError(f"no Segment export folder at {path}")
    return sorted(path.rglob("*.gz"))


@dlt.source(name="segment")
def segment_export(path: Path):
    """Segment messages from a local export folder."""
    return tracks(export_files(path))


@dlt.resource(
    write_disposition="merge",
    primary_key="id",
    table_name="tracks",
    columns={"properties": {"data_type": "json"}},
)
def tracks(files: list[Path]) -> Iterator[dict]:
    loaded_files = dlt.current.resource_state().setdefault("loaded_files", [])
    for file in files:
        if str(file) in loaded_files:
            continue
        with gzip.open(file, "rt", encoding="utf-8") as lines:
            for line in lines:
                message = json.loads(line)
                if message.get("type") == "track":
                    yield _track_row(message)
        loaded_files.append(str(file))


def _track_row(message: dict) -> dict:
    return {
        "id": message["messageId"],
        "anonymous_id": message.get("anonymousId"),
        "user_id": message.get("userId"),
        "event": message["event"],
        "event_text": message["event"],
        "timestamp": message.get("timestamp"),
        "original_timestamp": message.get("originalTimestamp"),
        "sent_at": message.get("sentAt"),
        "received_at": message.get("receivedAt"),
        "properties": message.get("properties") or {},
    }
