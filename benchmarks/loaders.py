"""Loader throughput and peak memory against a plain `COPY` of the same rows, same run.

    BENCH_EVENTS=200000 .venv/bin/python -m benchmarks.loaders

Writes N Segment track messages (gzipped JSON lines, 20 files) and N Amplitude events (one
export zip), loads each with `analytics load` in a child process into a fresh database
and measures events/s and the child's peak RSS. The baseline parses the same Segment
file lines with orjson and `COPY`s (id, user_id, event, received_at, properties) into one
table: the floor any loader pays for reading and writing the rows.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from pathlib import Path

import orjson

from pipelines import loading, warehouse

FILES = 20
RESULTS = Path(__file__).with_name("results.json")


def message(number: int) -> dict:
    at = f"2024-01-{1 + number % 28:02d}T{number % 24:02d}:00:00.000Z"
    return {
        "type": "track",
        "messageId": f"m-{number}",
        "userId": str(number % 5000),
        "anonymousId": f"anon-{number % 7000}",
        "event": f"Event {number % 12}",
        "properties": {"org_id": str(number % 300), "value": number, "plan": {"tier": 1}},
        "context": {"library": {"name": "analytics.js"}, "ip": "10.0.0.1", "userAgent": "UA"},
        "timestamp": at,
        "originalTimestamp": at,
        "sentAt": at,
        "receivedAt": at,
    }


def write_segment(root: Path, events: int) -> list[Path]:
    folder = root / "segment-logs" / "web-app" / "1704067200000"
    folder.mkdir(parents=True)
    paths = [folder / f"part-{index:04d}.gz" for index in range(FILES)]
    per_file = -(-events // FILES)
    for index, path in enumerate(paths):
        with gzip.open(path, "wb", compresslevel=1) as file:
            for number in range(index * per_file, min(events, (index + 1) * per_file)):
                file.write(orjson.dumps(message(number)) + b"\n")
    return paths


def write_amplitude(root: Path, events: int) -> Path:
    path = root / "amplitude" / "export.zip"
    path.parent.mkdir()
    with zipfile.ZipFile(path, "w") as archive:
        lines = io.BytesIO()
        for number in range(events):
            stamp = f"2024-01-01 {number % 24:02d}:05:00.000000"
            event = {
                "$insert_id": f"i-{number}",
                "uuid": str(uuid.UUID(int=number)),
                "event_type": f"Event {number % 12}",
                "user_id": str(number % 5000),
                "device_id": f"d-{number % 7000}",
                "amplitude_id": 10**11 + number,
                "event_time": stamp,
                "server_upload_time": stamp,
                "client_event_time": stamp,
                "session_id": 1704067200000,
                "event_properties": {"org_id": str(number % 300), "value": number},
                "user_properties": {},
                "groups": {"org_id": [str(number % 300)]},
                "group_properties": {},
                "platform": "Web",
            }
            lines.write(orjson.dumps(event) + b"\n")
        archive.writestr("187520/187520_2024-01-01_0#0.json.gz", gzip.compress(lines.getvalue(), 1))
    return path


def copy_baseline(target: warehouse.Connection, paths: list[Path]) -> float:
    """Seconds to parse the Segment lines and `COPY` them into one table."""
    with target.cursor() as cursor:
        cursor.execute(
            "create table copy_baseline (id text, user_id text, event text,"
            " received_at timestamptz, properties jsonb)"
        )
        started = time.perf_counter()
        for path in paths:
            buffer = io.StringIO()
            with gzip.open(path, "rb") as lines:
                for line in lines:
                    row = orjson.loads(line)
                    properties = orjson.dumps(row["properties"]).decode().replace("\\", "\\\\")
                    buffer.write(
                        f"{row['messageId']}\t{row['userId']}\t{row['event']}\t"
                        f"{row['receivedAt']}\t{properties}\n"
                    )
            buffer.seek(0)
            cursor.copy_expert("copy copy_baseline from stdin", buffer)
        return time.perf_counter() - started


def timed_load(target: warehouse.Connection, *arguments: str) -> tuple[float, int]:
    """Seconds and peak RSS (bytes) of one `analytics load` child process."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [str(Path(sys.executable).parent / "analytics"), "load", *arguments],
        env={**os.environ, "ANALYTICS_WAREHOUSE_URL": target.url()},
        stdout=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"analytics load {' '.join(arguments)} failed")
    return elapsed, usage.ru_maxrss * 1024


def main() -> None:
    events = int(os.environ.get("BENCH_EVENTS", "1000000"))
    server = warehouse.connection()
    target = server.with_database(f"bench_loaders_{uuid.uuid4().hex[:8]}")
    warehouse.ensure_database(target)
    try:
        with tempfile.TemporaryDirectory() as folder:
            root = Path(folder)
            paths = write_segment(root, events)
            archive = write_amplitude(root, events)
            baseline = copy_baseline(target, paths)
            segment_seconds, segment_rss = timed_load(target, "segment", str(root / "segment-logs"))
            amplitude_seconds, amplitude_rss = timed_load(
                target, "amplitude", "--path", str(archive)
            )
    finally:
        warehouse.drop_database(target)
        for pipeline_dir in loading.PIPELINES_DIR.glob(f"*{target.database}"):
            shutil.rmtree(pipeline_dir)
    baseline_rate = events / baseline
    measures = {
        "copy_baseline_events_per_second": {"value": round(baseline_rate), "unit": "events/s"},
        "segment_load_events_per_second": _against(events / segment_seconds, baseline_rate),
        "segment_load_peak_rss": {"value": segment_rss // 2**20, "unit": "MiB"},
        "amplitude_load_events_per_second": _against(events / amplitude_seconds, baseline_rate),
        "amplitude_load_peak_rss": {"value": amplitude_rss // 2**20, "unit": "MiB"},
    }
    results = {"events": events, "measures": measures}
    existing = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    RESULTS.write_text(json.dumps({**existing, "loaders": results}, indent=2) + "\n")
    print(json.dumps(results, indent=2))


def _against(rate: float, baseline_rate: float) -> dict:
    return {
        "value": round(rate),
        "unit": "events/s",
        "baseline": round(baseline_rate),
        "ratio": round(rate / baseline_rate, 3),
    }


if __name__ == "__main__":
    main()
