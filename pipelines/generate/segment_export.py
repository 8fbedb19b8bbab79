"""The Segment export in the S3 destination layout.

`segment-logs/<source-id>/<received-day-epoch-ms>/<file>.gz`: gzipped JSON lines of Segment
Spec messages, filed by the UTC day Segment received them. Timestamps follow Segment's
rules: `originalTimestamp` is the device clock, `sentAt` the device clock at sending,
`receivedAt` the server clock, and `timestamp = receivedAt - (sentAt - originalTimestamp)`.

Planted flaws: duplicate deliveries (a retried request: same messageId, later
`receivedAt`), late arrivals (a device offline for days, filed in a later day folder),
truncated lines, and signups missing from this source (decided by the caller).
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import orjson

from pipelines.generate.config import GeneratorConfig
from pipelines.generate.files import GzipLines, LaterLines
from pipelines.generate.simulation import IN_CONTEXT, Event, between
from pipelines.generate.timestamps import DAY_US, HOUR_US, SECOND_US, day_number, iso_millis

WEB_SOURCE = "web-app"
MOBILE_SOURCE = "ios-app"
LINES_PER_FILE = 100_000
LIBRARIES = {
    "browser": {"name": "analytics.js", "version": "4.1.0"},
    "server": {"name": "analytics-node", "version": "6.2.0"},
    "mobile": {"name": "analytics-ios", "version": "4.1.8"},
}
USER_AGENTS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_3) AppleWebKit/605.1.15 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/121.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:122.0) Gecko/20100101 Firefox/122.0",
)
APP_PAGE = {"path": "/", "title": "Dashboard", "url": "https://app.example.com/", "referrer": ""}
MOBILE_DEVICE = {"manufacturer": "Apple", "model": "iPhone15,2", "type": "ios"}
MOBILE_OS = {"name": "iOS", "version": "17.3"}
MOBILE_APP = {"name": "Example CI", "version": "3.2.0", "build": "320"}


class SegmentExport:
    """Writes one day folder at a time; lines due in a later folder wait in `scratch`."""

    def __init__(self, out: Path, config: GeneratorConfig, scratch: Path) -> None:
        self.root = out / "segment-logs"
        self.config = config
        self._details = random.Random(f"{config.seed}:segment-details")
        self._flaws = random.Random(f"{config.seed}:segment-flaws")
        self._malformed_by_day = config.malformed_lines_by_day()
        self._day: int | None = None
        self._day_index = -1
        self._files: dict[str, GzipLines] = {}
        self._part: Counter[str] = Counter()
        self._later = LaterLines(scratch / "segment-later")
        self._last_line = b""
        self.counts = {"lines": 0, "duplicates": 0, "malformed": 0, "late": 0}

    def start_day(self, day: int) -> None:
        self._day = day
        self._day_index += 1
        for source, waiting_day in self._later.waiting():
            if waiting_day == day:
                for line in self._later.take((source, waiting_day)):
                    self._write_line(source, line)

    def end_day(self) -> None:
        if self._last_line:
            # A write cut short: the first half of the day's last line.
            truncated = self._last_line[: len(self._last_line) // 2]
            for _ in range(self._malformed_by_day.get(self._day_index, 0)):
                self._write_line(WEB_SOURCE, truncated)
                self.counts["malformed"] += 1
        self._last_line = b""
        for file in self._files.values():
            file.close()
        self._files.clear()
        self._part.clear()

    def close(self) -> None:
        """Write what arrived after the last day into its own (later) day folders."""
        for day in sorted({day for _, day in self._later.waiting()}):
            self.start_day(day)
            self.end_day()

    def write(self, event: Event, keep: bool = True) -> int:
        """File the message by the day it was received; return when it was first received."""
        source = MOBILE_SOURCE if event.channel == "mobile" else WEB_SOURCE
        skew, delay = self._timing(event.channel)
        if event.channel != "server" and self._flaws.random() < self.config.late_rate:
            delay += self._flaws.randint(1, 3) * DAY_US + self._flaws.randrange(HOUR_US)
        if not keep:
            return event.at + delay
        message = self._message(event)
        self._deliver(source, message, event.at, skew, delay)
        if self._flaws.random() < self.config.duplicate_rate:
            retry = self._flaws.randint(1, 6 * 3600) * SECOND_US
            self._deliver(source, message, event.at, skew, delay + retry)
            self.counts["duplicates"] += 1
        return event.at + delay

    def _timing(self, channel: str) -> tuple[int, int]:
        """The device clock's skew and the delay before Segment received the message."""
        details = self._details
        network = between(details, 20, 400) * 1000
        if channel == "server":
            return 0, between(details, 0, 500) * 1000 + network
        skew = between(details, -3000, 3000) * 1000
        queued = between(details, 0, 30_000 if channel == "mobile" else 2_000) * 1000
        return skew, queued + network

    def _deliver(self, source: str, message: dict, at: int, skew: int, delay: int) -> None:
        received_at = at + delay
        message["originalTimestamp"] = iso_millis(at + skew)
        message["sentAt"] = iso_millis(at + skew + delay)
        message["receivedAt"] = iso_millis(received_at)
        message["timestamp"] = iso_millis(at)
        line = orjson.dumps(message)
        received_day = day_number(received_at)
        if received_day > day_number(at):
            self.counts["late"] += 1
        if received_day == self._day:
            self._write_line(source, line)
        else:
            assert self._day is not None and received_day > self._day, "message from the past"
            self._later.add((source, received_day), line)

    def _write_line(self, source: str, line: bytes) -> None:
        file = self._files.get(source)
        if file is None or file.lines >= LINES_PER_FILE:
            if file is not None:
                file.close()
            self._part[source] += 1
            folder = self.root / source / str(self._day * DAY_US // 1000)
            file = self._files[source] = GzipLines(folder / f"part-{self._part[source]:04d}.gz")
        file.write(line)
        self.counts["lines"] += 1
        self._last_line = line

    def _message(self, event: Event) -> dict:
        message: dict = {"type": event.kind, "messageId": event.message_id}
        if event.channel != "server" or event.anonymous_id:
            message["anonymousId"] = event.anonymous_id
        message["userId"] = event.user_id
        message["channel"] = event.channel
        kind = event.kind
        if kind == "track":
            message["event"] = event.name
            message["properties"] = event.properties
        elif kind in ("page", "screen"):
            message["name"] = event.name
            if event.category is not None:
                message["category"] = event.category
            message["properties"] = event.properties
        elif kind == "identify":
            message["traits"] = event.properties
        elif kind == "group":
            message["groupId"] = event.org_id
            message["traits"] = event.properties
        elif kind == "alias":
            message["previousId"] = event.previous_id
        message["context"] = self._context(event)
        message["integrations"] = {}
        return message

    def _context(self, event: Event) -> dict:
        context: dict = {"library": LIBRARIES[event.channel]}
        seed = event.anonymous_id or event.message_id
        if event.channel == "browser":
            context["ip"] = f"198.51.{int(seed[0:2], 16)}.{int(seed[2:4], 16)}"
            context["userAgent"] = USER_AGENTS[int(seed[4], 16) % len(USER_AGENTS)]
            context["locale"] = "en-US"
            if event.kind == "page":
                context["page"] = {**event.properties, "referrer": ""}
            else:
                context["page"] = APP_PAGE
        elif event.channel == "mobile":
            context["device"] = {**MOBILE_DEVICE, "id": event.anonymous_id}
            context["os"] = MOBILE_OS
            context["app"] = MOBILE_APP
        if event.org_id is not None and event.org_placement & IN_CONTEXT:
            context["groupId"] = event.org_id
        return context
