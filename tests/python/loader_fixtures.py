"""Test helpers for the loaders: small exports in the real formats (contract §4), a local
server behaving like Amplitude's Export API, and a fresh warehouse database per test."""

from __future__ import annotations

import base64
import gzip
import io
import json
import os
import subprocess
import sys
import threading
import uuid
import zipfile
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pipelines import warehouse

DAY_MS = 1_704_067_200_000  # 2024-01-01 in epoch milliseconds


def run_cli(
    *arguments: str, target: warehouse.Connection, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """The installed `analytics` command, pointed at `target`."""
    return subprocess.run(
        [str(Path(sys.executable).parent / "analytics"), *arguments],
        capture_output=True,
        text=True,
        env={**os.environ, "ANALYTICS_WAREHOUSE_URL": target.url(), **(env or {})},
        check=False,
    )


def query(target: warehouse.Connection, sql: str) -> list[tuple]:
    with target.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def count(target: warehouse.Connection, relation: str) -> int:
    return query(target, f"select count(*) from {relation}")[0][0]


def columns(target: warehouse.Connection, schema: str, table: str) -> dict[str, str]:
    rows = query(
        target,
        "select column_name, data_type from information_schema.columns"
        f" where table_schema = '{schema}' and table_name = '{table}'",
    )
    return dict(rows)


def segment_message(
    message_type: str = "track",
    message_id: str | None = None,
    user_id: str | None = "1",
    at: str = "2024-01-01T10:00:00.000Z",
    **fields: Any,
) -> dict[str, Any]:
    """A Segment Spec message as the S3 destination writes it."""
    message = {
        "type": message_type,
        "messageId": message_id or str(uuid.uuid4()),
        "userId": user_id,
        "anonymousId": "anon-" + (user_id or "0"),
        "context": {"library": {"name": "analytics.js"}, "ip": "10.0.0.1"},
        "timestamp": at,
        "originalTimestamp": at,
        "sentAt": at,
        "receivedAt": at,
    }
    message.update(fields)
    return message


def write_segment_file(
    root: Path, lines: list[Any], name: str = "part-0000.gz", day_ms: int = DAY_MS
) -> Path:
    """One export file under `segment-logs/<source-id>/<day>/`; strings are written as is."""
    folder = root / "segment-logs" / "web-app" / str(day_ms)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    with gzip.open(path, "wt", encoding="utf-8") as file:
        for line in lines:
            file.write((line if isinstance(line, str) else json.dumps(line)) + "\n")
    return path


def amplitude_event(
    insert_id: str | None = None, hour: datetime | None = None, **fields: Any
) -> dict[str, Any]:
    """An event with the Export API's documented fields."""
    at = (hour or datetime(2024, 1, 1, 10, tzinfo=UTC)) + timedelta(minutes=5)
    stamp = at.strftime("%Y-%m-%d %H:%M:%S.%f")
    event = {
        "$insert_id": insert_id or str(uuid.uuid4()),
        "uuid": str(uuid.uuid4()),
        "event_type": "Build Succeeded",
        "user_id": "1",
        "device_id": "device-1",
        "amplitude_id": 123456789012,
        "event_time": stamp,
        "server_upload_time": stamp,
        "client_event_time": stamp,
        "session_id": 1704103200000,
        "event_properties": {"org_id": "7"},
        "user_properties": {},
        "groups": {"org_id": ["7"]},
        "group_properties": {},
        "platform": "Web",
        "os_name": "Chrome",
        "country": "Germany",
    }
    event.update(fields)
    return event


def amplitude_zip(events_by_hour: dict[datetime, list[Any]], project_id: str = "187520") -> bytes:
    """An Export API response: `<project>/<project>_<yyyy-mm-dd>_<H>#0.json.gz` per hour."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for hour, events in sorted(events_by_hour.items()):
            lines = "".join(
                (event if isinstance(event, str) else json.dumps(event)) + "\n" for event in events
            )
            member = f"{project_id}/{project_id}_{hour:%Y-%m-%d}_{hour.hour}#0.json.gz"
            archive.writestr(member, gzip.compress(lines.encode()))
    return buffer.getvalue()


NO_DATA_BODY = b"Raw data files were not found."
EXPORT_PATH = "/api/2/export"


class AmplitudeExportServer:
    """A local HTTP server answering like the Export API: basic auth (401 otherwise),
    404 with Amplitude's "Raw data files were not found." for a range without data, 400
    for a range longer than `max_hours`, and `failures` (status codes) answered first, one
    per request. Any other path answers 404 with an HTML page, like a wrong URL would."""

    def __init__(
        self,
        events_by_hour: dict[datetime, list[Any]],
        max_hours: int = 10_000,
        failures: list[int] | None = None,
        credentials: tuple[str, str] = ("key", "secret"),
    ) -> None:
        self.events_by_hour = events_by_hour
        self.max_hours = max_hours
        self.failures = list(failures or [])
        self.expected_auth = "Basic " + base64.b64encode(":".join(credentials).encode()).decode()
        self.requests: list[tuple[str, str, int]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{EXPORT_PATH}"

    def __enter__(self) -> AmplitudeExportServer:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(self, authorization: str | None, start: str, end: str) -> tuple[int, bytes]:
        if authorization != self.expected_auth:
            return 401, b"Invalid API key"
        if self.failures:
            return self.failures.pop(0), b"Service unavailable"
        first = datetime.strptime(start, "%Y%m%dT%H").replace(tzinfo=UTC)
        last = datetime.strptime(end, "%Y%m%dT%H").replace(tzinfo=UTC)
        if (last - first) / timedelta(hours=1) + 1 > self.max_hours:
            return 400, b"Raw data files were too large to export."
        chosen = {h: e for h, e in self.events_by_hour.items() if first <= h <= last}
        if not chosen:
            return 404, NO_DATA_BODY
        return 200, amplitude_zip(chosen)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                parameters = parse_qs(url.query)
                start, end = parameters["start"][0], parameters["end"][0]
                if url.path == EXPORT_PATH:
                    status, body = owner.answer(self.headers.get("Authorization"), start, end)
                else:
                    status, body = 404, b"<html><body>404 Not Found</body></html>"
                owner.requests.append((start, end, status))
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *arguments: object) -> None:
                pass

        return Handler
