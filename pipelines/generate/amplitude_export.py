"""Amplitude Export API archives: one zip per day, as `GET /api/2/export` returns them.

Each zip holds `<project-id>/<project-id>_<yyyy-mm-dd>_<H>#<n>.json.gz`, one file per
upload hour (split into parts `#0`, `#1`, … when large), one JSON event per line with the
documented export fields; timestamps look like `2024-03-01 14:05:09.123456` (UTC). Files
are keyed by `server_upload_time`, so late uploads land in later hours and days.

Segment forwards its track, page and screen calls here with `$insert_id` = `messageId`
(a page as `Viewed <category> <name> Page`, a screen as `Viewed <name> Screen`, as Segment's
Amplitude destination names them with "Track Named Pages" on); the mobile app sends its own
events through Amplitude's SDK. Planted flaws: duplicate rows (same
`$insert_id`, another `uuid`), late uploads, truncated lines, dropped signups.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import orjson

from pipelines.generate.config import GeneratorConfig
from pipelines.generate.files import GzipLines, LaterLines, write_zip
from pipelines.generate.simulation import (
    GROUPS_AS_LIST,
    IN_CONTEXT,
    Event,
    between,
    random_uuid,
)
from pipelines.generate.timestamps import (
    DAY_US,
    HOUR_US,
    SECOND_US,
    amplitude_time,
    day_number,
    day_text,
)

PROJECT_ID = 187520
LINES_PER_FILE = 20_000
PLATFORMS = {
    "browser": {
        "platform": "Web",
        "os_name": "Chrome",
        "os_version": "121",
        "device_family": "Mac",
        "device_type": "Mac",
        "library": "segment",
        "version_name": None,
    },
    "server": {
        "platform": None,
        "os_name": None,
        "os_version": None,
        "device_family": None,
        "device_type": None,
        "library": "segment",
        "version_name": None,
    },
    "mobile": {
        "platform": "iOS",
        "os_name": "ios",
        "os_version": "17.3",
        "device_family": "Apple iPhone",
        "device_type": "Apple iPhone 14 Pro",
        "library": "amplitude-swift/1.4.2",
        "version_name": "3.2.0",
    },
}
COUNTRIES = (("United States", "California", "San Francisco"), ("Germany", "Berlin", "Berlin"))


class AmplitudeExport:
    """Writes each day's hourly files to a staging folder, then zips them; lines uploaded on
    a later day wait in `scratch` as `<hour> <line>`."""

    def __init__(self, out: Path, config: GeneratorConfig, scratch: Path) -> None:
        self.root = out / "amplitude"
        self.staging = self.root / ".staging"
        self.config = config
        self._details = random.Random(f"{config.seed}:amplitude-details")
        self._flaws = random.Random(f"{config.seed}:amplitude-flaws")
        self._malformed_by_day = config.malformed_lines_by_day()
        self._day: int | None = None
        self._day_index = -1
        self._files: dict[tuple[int, int], GzipLines] = {}
        self._later = LaterLines(scratch / "amplitude-later")
        self._stream = str(PROJECT_ID)
        self._last_line: tuple[int, bytes] | None = None
        self.counts = {"lines": 0, "duplicates": 0, "malformed": 0, "late": 0}

    def start_day(self, day: int) -> None:
        self._day = day
        self._day_index += 1
        if (self._stream, day) in self._later.waiting():
            for stored in self._later.take((self._stream, day)):
                hour, line = stored.split(b" ", 1)
                self._write_line(int(hour), line)

    def end_day(self) -> None:
        if self._last_line is not None:
            hour, line = self._last_line
            for _ in range(self._malformed_by_day.get(self._day_index, 0)):
                self._write_line(hour, line[: len(line) // 2])
                self.counts["malformed"] += 1
        self._last_line = None
        for file in self._files.values():
            file.close()
        if self._files:
            assert self._day is not None
            members = [
                (f"{PROJECT_ID}/{file.path.name}", file.path)
                for _, file in sorted(self._files.items())
            ]
            date = day_text(self._day)
            write_zip(self.root / f"{PROJECT_ID}_{date}.zip", members)
        self._files.clear()
        shutil.rmtree(self.staging, ignore_errors=True)

    def close(self) -> None:
        """Zip what was uploaded after the last day into its own (later) days."""
        for _, day in self._later.waiting():
            self.start_day(day)
            self.end_day()

    def write_forwarded(self, event: Event, received_at: int, keep: bool = True) -> None:
        """A Segment track call as Segment's Amplitude destination sends it."""
        upload_delay = between(self._details, 50, 2_000) * 1000
        if keep:
            self._write(event, received_at - event.at + upload_delay)

    def write_forwarded_view(self, event: Event, received_at: int) -> None:
        """A page or screen call as Segment's Amplitude destination sends it."""
        upload_delay = between(self._details, 50, 2_000) * 1000
        self._write(event, received_at - event.at + upload_delay, forwarded_view_name(event))

    def write_mobile(self, event: Event) -> None:
        """An event from the mobile app's Amplitude SDK (uploads in batches, or days later)."""
        upload_delay = between(self._details, 1_000, 300_000) * 1000
        if self._flaws.random() < self.config.late_rate:
            upload_delay += self._flaws.randint(1, 3) * DAY_US
        self._write(event, upload_delay)

    def _write(self, event: Event, upload_delay: int, event_type: str | None = None) -> None:
        uploaded_at = event.at + upload_delay
        row = self._row(event, uploaded_at)
        if event_type is not None:
            row["event_type"], row["library"] = event_type, "segment"
        self._file_row(row, uploaded_at, event.at)
        if self._flaws.random() < self.config.duplicate_rate:
            row["uuid"] = random_uuid(self._flaws)
            self._file_row(row, uploaded_at, event.at)
            self.counts["duplicates"] += 1

    def _file_row(self, row: dict, uploaded_at: int, at: int) -> None:
        line = orjson.dumps(row)
        uploaded_day, within_day = divmod(uploaded_at, DAY_US)
        hour = within_day // HOUR_US
        if uploaded_day > day_number(at):
            self.counts["late"] += 1
        if uploaded_day == self._day:
            self._write_line(hour, line)
        else:
            assert self._day is not None and uploaded_day > self._day, "upload from the past"
            self._later.add((self._stream, uploaded_day), b"%d %s" % (hour, line))

    def _write_line(self, hour: int, line: bytes) -> None:
        part = 0
        while (file := self._files.get((hour, part))) is not None and (
            file.lines >= LINES_PER_FILE
        ):
            part += 1
        if file is None:
            name = f"{PROJECT_ID}_{day_text(self._day or 0)}_{hour}#{part}.json.gz"
            file = self._files[hour, part] = GzipLines(self.staging / name)
        file.write(line)
        self.counts["lines"] += 1
        self._last_line = (hour, line)

    def _row(self, event: Event, uploaded_at: int) -> dict:
        """The Export API's fields, in its documented order."""
        details = self._details
        user_number = int(event.user_id) if (event.user_id or "").isdigit() else 0
        platform = PLATFORMS[event.channel]
        country, region, city = COUNTRIES[user_number % len(COUNTRIES)]
        processed_at = uploaded_at + between(details, 1, 30) * SECOND_US
        sent_at = amplitude_time(uploaded_at - between(details, 20, 400) * 1000)
        event_time = amplitude_time(event.at)
        upload_time = amplitude_time(uploaded_at)
        groups: dict = {}
        if event.org_placement & IN_CONTEXT:
            org = event.org_id
            groups["org_id"] = [org] if event.org_placement & GROUPS_AS_LIST else org
        return {
            "$insert_id": event.message_id,
            "$insert_key": None,
            "$schema": 12,
            "adid": None,
            "amplitude_attribution_ids": None,
            "amplitude_event_type": None,
            "amplitude_id": 100_000_000 + user_number * 7919,
            "app": PROJECT_ID,
            "city": city,
            "client_event_time": event_time,
            "client_upload_time": sent_at,
            "country": country,
            "data": {"path": "/2/httpapi"},
            "data_type": "event",
            "device_brand": "Apple" if event.channel == "mobile" else None,
            "device_carrier": None,
            "device_family": platform["device_family"],
            "device_id": event.anonymous_id,
            "device_manufacturer": "Apple" if event.channel == "mobile" else None,
            "device_model": "iPhone15,2" if event.channel == "mobile" else None,
            "device_type": platform["device_type"],
            "dma": None,
            "event_id": between(details, 1, 9_999),
            "event_properties": event.properties,
            "event_time": event_time,
            "event_type": event.name,
            "global_user_properties": {},
            "group_properties": {},
            "groups": groups,
            "idfa": None,
            "ip_address": None,
            "is_attribution_event": False,
            "language": "English",
            "library": platform["library"],
            "location_lat": None,
            "location_lng": None,
            "os_name": platform["os_name"],
            "os_version": platform["os_version"],
            "partner_id": None,
            "paying": None,
            "plan": {},
            "platform": platform["platform"],
            "processed_time": amplitude_time(processed_at),
            "region": region,
            "sample_rate": None,
            "server_received_time": upload_time,
            "server_upload_time": upload_time,
            "session_id": event.session_id,
            "source_id": None,
            "start_version": None,
            "user_creation_time": None,
            "user_id": event.user_id,
            "user_properties": {},
            "uuid": random_uuid(details),
            "version_name": platform["version_name"],
        }


def forwarded_view_name(event: Event) -> str:
    """The event type Segment's Amplitude destination gives a page or screen call: "Track
    Named Pages" makes `Viewed <category> <name> Page` (`Viewed <name> Page` without a
    category); the mobile integration makes `Viewed <name> Screen`."""
    if event.kind == "screen":
        return f"Viewed {event.name} Screen"
    words = [word for word in (event.category, event.name) if word]
    return f"Viewed {' '.join(words)} Page"
