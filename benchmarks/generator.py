"""Generator throughput and peak memory, against writing the same number of lines plainly.

    BENCH_EVENTS=1000000 .venv/bin/python -m benchmarks.generator

Runs `analytics generate --events N --days 30` in a child process into a temporary folder
and a fresh production database on the warehouse server, and measures messages/s and the
child's peak RSS (issue 3 asks for under 500 MB at 10M events). The baseline serialises as
many messages of the loader benchmark's shape (about half the size of the generator's) with
orjson into gzip files at the generator's compression level: a floor for writing these
formats without simulating anything.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import orjson

from benchmarks.loaders import RESULTS, message
from pipelines import warehouse
from pipelines.generate.files import GzipLines

DAYS = 30
BASELINE_FILES = 20


def timed_generate(out: Path, events: int, production: warehouse.Connection) -> tuple[float, int]:
    """Seconds and peak RSS (bytes) of one `analytics generate` child process."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "analytics"),
            "generate",
            "--out",
            str(out),
            "--events",
            str(events),
            "--days",
            str(DAYS),
            "--production-url",
            production.url(),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("analytics generate failed")
    return elapsed, usage.ru_maxrss * 1024


def plain_lines_seconds(folder: Path, events: int) -> float:
    """Seconds to serialise `events` messages with orjson into gzip files."""
    per_file = -(-events // BASELINE_FILES)
    started = time.perf_counter()
    for index in range(BASELINE_FILES):
        file = GzipLines(folder / f"part-{index:04d}.gz")
        for number in range(index * per_file, min(events, (index + 1) * per_file)):
            file.write(orjson.dumps(message(number)))
        file.close()
    return time.perf_counter() - started


def main() -> None:
    events = int(os.environ.get("BENCH_EVENTS", "1000000"))
    server = warehouse.connection()
    production = server.with_database(f"bench_generator_{uuid.uuid4().hex[:8]}")
    warehouse.ensure_database(production)
    try:
        with tempfile.TemporaryDirectory() as folder:
            root = Path(folder)
            seconds, peak_rss = timed_generate(root / "data", events, production)
            messages = json.loads((root / "data" / "truth.json").read_text())["messages_generated"]
            baseline_seconds = plain_lines_seconds(root / "baseline", messages)
    finally:
        warehouse.drop_database(production)
    rate, baseline_rate = messages / seconds, messages / baseline_seconds
    measures = {
        "generate_messages_per_second": {
            "value": round(rate),
            "unit": "messages/s",
            "baseline": round(baseline_rate),
            "ratio": round(rate / baseline_rate, 3),
        },
        "generate_seconds": {"value": round(seconds, 1), "unit": "s"},
        "generate_peak_rss": {"value": peak_rss // 2**20, "unit": "MiB"},
    }
    results = {"events": events, "messages": messages, "days": DAYS, "measures": measures}
    existing = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    RESULTS.write_text(json.dumps({**existing, "generator": results}, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
