"""A local stand-in for Segment's tracking API (`POST /v1/batch`, the endpoint both official
libraries send to), filing what it receives the way Segment's S3 destination does."""

from __future__ import annotations

import base64
import gzip
import json
import threading
from collections import defaultdict
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def iso_millis(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class SegmentApi:
    """Accepts batches from known write keys (401 otherwise) and stamps each message as
    Segment does: `receivedAt` on arrival, `originalTimestamp` the client's `timestamp`, and
    `timestamp` corrected for the client's clock (`receivedAt - (sentAt - originalTimestamp)`).
    """

    def __init__(self, sources: dict[str, str]) -> None:
        self.sources = sources  # write key -> source id
        self.messages: dict[str, list[dict]] = defaultdict(list)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def __enter__(self) -> SegmentApi:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def received(self, source: str) -> list[dict]:
        with self._lock:
            return list(self.messages[source])

    def write_export(self, root: Path) -> Path:
        """Every message received, as `segment-logs/<source-id>/<received-day-epoch-ms>/
        <file>.gz` under `root`; returns the `segment-logs` folder."""
        logs = root / "segment-logs"
        with self._lock:
            by_folder: dict[Path, list[dict]] = defaultdict(list)
            for source, messages in self.messages.items():
                for message in messages:
                    received = parse_time(message["receivedAt"])
                    day = received.replace(hour=0, minute=0, second=0, microsecond=0)
                    by_folder[logs / source / str(int(day.timestamp() * 1000))].append(message)
        for folder, messages in by_folder.items():
            folder.mkdir(parents=True, exist_ok=True)
            lines = "".join(json.dumps(message) + "\n" for message in messages)
            (folder / "part-0000.gz").write_bytes(gzip.compress(lines.encode(), mtime=0))
        return logs

    def _accept(self, write_key: str | None, body: dict) -> bool:
        source = self.sources.get(write_key or "")
        if source is None:
            return False
        received_at = datetime.now(UTC)
        stamped = []
        for message in body["batch"]:
            sent_at = parse_time(message.get("sentAt") or body["sentAt"])
            original = parse_time(message["timestamp"])
            stamped.append(
                {
                    **message,
                    "originalTimestamp": message["timestamp"],
                    "sentAt": iso_millis(sent_at),
                    "receivedAt": iso_millis(received_at),
                    "timestamp": iso_millis(received_at - (sent_at - original)),
                }
            )
        with self._lock:
            self.messages[source].extend(stamped)
        return True

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    raw = gzip.decompress(raw)
                body = json.loads(raw)
                if self.path != "/v1/batch":
                    self._answer(404, {"error": "not found"})
                elif api._accept(body.get("writeKey") or self._basic_user(), body):
                    self._answer(200, {"success": True})
                else:
                    self._answer(401, {"error": "unknown write key"})

            def _basic_user(self) -> str | None:
                header = self.headers.get("Authorization", "")
                if not header.startswith("Basic "):
                    return None
                return base64.b64decode(header[6:]).decode().split(":")[0]

            def _answer(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                """Quiet: the tests assert on what was received."""

        return Handler
