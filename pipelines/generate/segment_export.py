"""A minimal Segment export in the S3 destination layout.

`segment-logs/<source-id>/<received-day-epoch-ms>/<file>.gz`: gzipped JSON lines of
Segment Spec `track` messages, filed by the day they were received.
"""

from __future__ import annotations

import gzip
import json
import random
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

SOURCE_ID = "web-app"
START = datetime(2024, 1, 1, tzinfo=UTC)
ACTIVATION_STEPS = ["User Signed Up", "Project Created", "Build Succeeded"]


def generate(out: Path, seed: int = 42, orgs: int = 20, days: int = 30) -> dict[str, int]:
    """Write the export under `out`; return the number of messages per event name."""
    rng = random.Random(seed)
    messages_by_day: dict[datetime, list[dict]] = defaultdict(list)
    counts: dict[str, int] = defaultdict(int)
    for org_number in range(1, orgs + 1):
        user_id = str(org_number)
        signed_up_at = START + timedelta(seconds=rng.randrange(days * 86_400))
        occurred_at = signed_up_at
        for event in ACTIVATION_STEPS:
            message = _track(rng, event, user_id, str(org_number), occurred_at)
            messages_by_day[_day(occurred_at)].append(message)
            counts[event] += 1
            if rng.random() < 0.3:
                break
            occurred_at += timedelta(minutes=rng.randrange(1, 3 * 24 * 60))
    for day, messages in sorted(messages_by_day.items()):
        _write_day(out, day, messages)
    return dict(counts)


def _track(rng: random.Random, event: str, user_id: str, org_id: str, at: datetime) -> dict:
    timestamp = at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {
        "type": "track",
        "messageId": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "anonymousId": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "userId": user_id,
        "event": event,
        "properties": {"org_id": org_id},
        "context": {"library": {"name": "analytics.js", "version": "4.1.0"}},
        "timestamp": timestamp,
        "originalTimestamp": timestamp,
        "sentAt": timestamp,
        "receivedAt": timestamp,
    }


def _day(at: datetime) -> datetime:
    return at.replace(hour=0, minute=0, second=0, microsecond=0)


def _write_day(out: Path, day: datetime, messages: list[dict]) -> None:
    folder = out / "segment-logs" / SOURCE_ID / str(int(day.timestamp() * 1000))
    folder.mkdir(parents=True, exist_ok=True)
    messages.sort(key=lambda message: message["receivedAt"])
    with gzip.open(folder / "part-0000.gz", "wt", encoding="utf-8") as file:
        for message in messages:
            file.write(json.dumps(message, separators=(",", ":")) + "\n")
